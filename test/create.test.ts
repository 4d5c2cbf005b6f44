import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  watch,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { goldenStubs } from "./support/golden.js";
import { CREATE_BIN, NODE, REPO } from "./support/paths.js";
import { consensus, environment, GIT_IDENTITY, runBin, snapshot, tsc } from "./support/project.js";
import { KEY, terminal } from "./support/terminal.js";

const scratch = mkdtempSync(path.join(os.tmpdir(), "consensus-create-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;
/** A fresh empty folder to run create-consensus in. */
const workspace = () => {
  const dir = path.join(scratch, `w${count++}`);
  mkdirSync(dir);
  return dir;
};
const files = (dir: string) => [...snapshot(dir).keys()].filter((entry) => !entry.endsWith("/"));
const create = (args: string[], cwd: string, env?: NodeJS.ProcessEnv) => runBin(CREATE_BIN, args, cwd, env);
const ours = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8"));

const BLANK_FILES = [
  ".dockerignore",
  ".gitignore",
  "Dockerfile",
  "README.md",
  "compose.yaml",
  "consensus.json",
  ...["kustomization", "pod-disruption-budget", "services", "statefulset"].map((m) => `deploy/kubernetes/${m}.yaml`),
  ...["deploy", "layout", "messages", "running", "testing"].map((doc) => `docs/${doc}.md`),
  "package.json",
  "proto/beacon.proto",
  "proto/client.proto",
  "proto/envelope.proto",
  "proto/service.proto",
  "src/clock.ts",
  "src/coalesce.ts",
  "src/config.ts",
  "src/context.ts",
  "src/disk.ts",
  "src/envelope.ts",
  "src/handlers/beacon.ts",
  "src/health.ts",
  "src/main.ts",
  "src/memory.ts",
  "src/metrics.ts",
  "src/pb/beacon.ts",
  "src/pb/client.ts",
  "src/pb/envelope.ts",
  "src/pb/service.ts",
  "src/peers.ts",
  "src/probe.ts",
  "src/replica.ts",
  "src/server.ts",
  ...["client", "faults", "index", "random", "replay", "simulation", "virtual-clock"].map(
    (m) => `src/simulation/${m}.ts`,
  ),
  "src/state.ts",
  "src/status.ts",
  "src/tls.ts",
  "src/wal.ts",
  "test/config.test.ts",
  "test/disk.test.ts",
  "test/handlers/beacon.test.ts",
  "test/health.test.ts",
  "test/main.test.ts",
  "test/memory.test.ts",
  "test/metrics.test.ts",
  "test/peers.test.ts",
  "test/replica.test.ts",
  "test/server.test.ts",
  "test/simulation.test.ts",
  "test/state.test.ts",
  "test/support/deadline.ts",
  "test/support/failing-disk.ts",
  "test/support/ports.ts",
  "test/support/types.ts",
  "test/support/wait.ts",
  "test/tls.test.ts",
  "test/wal.test.ts",
  "tsconfig.json",
];
/** The ePaxos types: Type value, oneof field, field number (the Type value is 10 less). */
const EPAXOS_TYPES = [
  ["PREPARE", "prepare", 11],
  ["ACCEPT", "accept", 12],
  ["COMMIT", "commit", 13],
  ["TRY_PRE_ACCEPT", "tryPreAccept", 14],
  ["PRE_ACCEPT", "preAccept", 15],
] as const;
/** The handlers of the commit path and Prepare are its own (no stub tests); TryPreAccept is still a stub. */
const EPAXOS_FILES = [
  ...BLANK_FILES,
  "docs/protocol.md",
  "proto/epaxos.proto",
  "proto/wal.proto",
  "src/pb/epaxos.ts",
  "src/pb/wal.ts",
  ...["epaxos", "execution", "instances", "quorum", "recovery"].map((m) => `src/epaxos/${m}.ts`),
  ...["cluster", "compaction", "execution", "instances", "quorum", "recovery"].map((m) => `test/${m}.test.ts`),
  ...["pre-accept", "accept", "commit", "prepare"].map((file) => `src/handlers/${file}.ts`),
  ...["try-pre-accept"].flatMap((file) => [`src/handlers/${file}.ts`, `test/handlers/${file}.test.ts`]),
].sort();
/** The paxos types: Type value, oneof field, field number (the Type value is 10 less), handler file. */
const PAXOS_TYPES = [
  ["PREPARE", "prepare", 11, "prepare"],
  ["ACCEPT", "accept", 12, "accept"],
  ["COMMIT", "commit", 13, "commit"],
  ["CATCH_UP", "catchUp", 14, "catch-up"],
] as const;
/** Its handlers are its own (no stubs, so no stub tests); its tests replace blank's of the State and the simulation. */
const PAXOS_FILES = [
  ...BLANK_FILES,
  "docs/protocol.md",
  "proto/paxos.proto",
  "src/pb/paxos.ts",
  ...PAXOS_TYPES.map(([, , , file]) => `src/handlers/${file}.ts`),
  ...["acceptor", "ballot", "leader", "learner", "paxos", "positions", "votes"].map((m) => `src/paxos/${m}.ts`),
  "test/cluster.test.ts",
  "test/compaction.test.ts",
  "test/lower-ballot.test.ts",
  "test/positions.test.ts",
].sort();

/** Flags that keep a run offline and quick: the install and git have tests of their own. */
const QUICK = ["--no-install", "--no-git"];

const git = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) =>
  promisify(execFile)("git", args, { cwd, env: environment(env) }).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
  );

/**
 * A folder with executables named `names` that record their arguments and
 * folder, print `message` on stderr, then exit with `code`, or with
 * code "hang" wait (as sleep, so that a signal reaches it) for a minute.
 */
function fakeCommands(names: string[], code: number | "hang", message = ""): string {
  const bin = workspace();
  for (const name of names) {
    const file = path.join(bin, name);
    const end = code === "hang" ? "exec sleep 60" : `exit ${code}`;
    writeFileSync(
      file,
      `#!/bin/sh\necho "$PWD: ${name} $*" >> "${bin}/calls.log"\n${message ? `echo "${message}" >&2\n` : ""}${end}\n`,
    );
    chmodSync(file, 0o755);
  }
  return bin;
}

describe("create-consensus", () => {
  it("scaffolds the blank template: files, package.json, protos and stubs", async () => {
    const cwd = workspace();
    const run = await create(["my-protocol", ...QUICK], cwd);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    const dir = path.join(cwd, "my-protocol");
    assert.deepEqual(files(dir), BLANK_FILES);
    assert.equal(
      run.stdout,
      [
        `✔ created my-protocol (template blank, ${BLANK_FILES.length} files)`,
        "  npm, no install, no git",
        "",
        "Next:",
        "  cd my-protocol",
        "  npm i",
        "  npm run test",
        "  npm run build",
        "  npm run start -- --name r1 --port 3264",
        "  npx consensus list",
        "  npx consensus add-message Accept",
        "",
      ].join("\n"),
    );

    const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
    assert.equal(pkg.name, "my-protocol");
    assert.deepEqual(pkg.dependencies, {
      "@bufbuild/protobuf": ours.devDependencies["@bufbuild/protobuf"],
      "@grpc/grpc-js": ours.devDependencies["@grpc/grpc-js"],
      "grpc-health-check": ours.devDependencies["grpc-health-check"].replace(/^\^/, ""),
    });
    assert.equal(
      pkg.devDependencies["create-consensus"],
      `file:${REPO}`,
      "an unpublished checkout is depended on as is",
    );
    assert.equal(pkg.devDependencies.typescript, ours.devDependencies.typescript.replace(/^[~^]/, ""));
    assert.deepEqual(Object.keys(pkg.scripts).sort(), [
      "bench",
      "build",
      "cluster",
      "probe",
      "protobuf",
      "start",
      "test",
    ]);
    for (const proto of ["beacon", "client", "envelope", "service"]) {
      assert.equal(
        readFileSync(path.join(dir, `proto/${proto}.proto`), "utf8"),
        readFileSync(path.join(REPO, `proto/${proto}.proto`), "utf8"),
      );
      assert.equal(readFileSync(path.join(dir, `src/pb/${proto}.ts`), "utf8"), goldenStubs().get(`${proto}.ts`));
    }
    for (const file of BLANK_FILES.filter((f) => f.startsWith("src/") && !f.startsWith("src/pb/"))) {
      const template = path.join(REPO, "templates/blank", file);
      if (existsSync(template))
        assert.equal(readFileSync(path.join(dir, file), "utf8"), readFileSync(template, "utf8"));
    }
    assert.match(readFileSync(path.join(dir, ".gitignore"), "utf8"), /^\.consensus\/$/m);
    assert.match(readFileSync(path.join(dir, "README.md"), "utf8"), /^# my-protocol$/m);
    assert.doesNotMatch(readFileSync(path.join(dir, "src/replica.ts"), "utf8"), /\{\{|\}\}/);
  });

  it("scaffolds the epaxos template: the ePaxos set wired into the envelope with the original's numbers", async () => {
    const cwd = workspace();
    const run = await create(["ep", "--template", "epaxos", ...QUICK], cwd);
    assert.equal(run.code, 0, run.stderr);
    const dir = path.join(cwd, "ep");
    assert.deepEqual(files(dir), EPAXOS_FILES);
    assert.equal(
      readFileSync(path.join(dir, "proto/epaxos.proto"), "utf8"),
      readFileSync(path.join(REPO, "proto/epaxos.proto"), "utf8"),
    );
    const envelope = readFileSync(path.join(dir, "proto/envelope.proto"), "utf8");
    assert.equal(envelope, readFileSync(path.join(REPO, "test/fixtures/envelope/epaxos.envelope.proto"), "utf8"));
    for (const [value, field, number] of EPAXOS_TYPES) {
      assert.match(envelope, new RegExp(`^  ${value} = ${number - 10};`, "m"));
      assert.match(envelope, new RegExp(`^    \\w+Request ${field} = ${number};`, "m"));
    }
    assert.doesNotMatch(envelope, /CommitReply/, "Commit is request-only");
    const replica = readFileSync(path.join(dir, "src/replica.ts"), "utf8");
    for (const [value, field] of EPAXOS_TYPES) {
      assert.match(replica, new RegExp(`case "${field}":[^;]*Type\\.${value}\\b`));
    }
    const stub = readFileSync(path.join(dir, "src/handlers/try-pre-accept.ts"), "utf8");
    assert.match(stub, /export async function tryPreAccept\(/);
    assert.match(stub, /TryPreAcceptRequest/);
    assert.match(stub, /Promise<TryPreAcceptReply>/);
    assert.doesNotMatch(readFileSync(path.join(dir, "src/handlers/commit.ts"), "utf8"), /CommitReply/);
    // The commit path's handlers and State are the template's, byte for byte, not the stubs.
    for (const file of [
      "src/handlers/pre-accept.ts",
      "src/handlers/accept.ts",
      "src/handlers/commit.ts",
      "src/handlers/prepare.ts",
      "src/state.ts",
    ]) {
      assert.equal(
        readFileSync(path.join(dir, file), "utf8"),
        readFileSync(path.join(REPO, "templates/epaxos", file), "utf8"),
      );
    }
  });

  it("scaffolds the paxos template: its messages wired into the envelope as add-message numbers them, its own handlers", async () => {
    const cwd = workspace();
    const run = await create(["kv", "--template", "paxos", ...QUICK], cwd);
    assert.equal(run.code, 0, run.stderr);
    const dir = path.join(cwd, "kv");
    assert.deepEqual(files(dir), PAXOS_FILES);
    const envelope = readFileSync(path.join(dir, "proto/envelope.proto"), "utf8");
    const replica = readFileSync(path.join(dir, "src/replica.ts"), "utf8");
    for (const [value, field, number, file] of PAXOS_TYPES) {
      assert.match(envelope, new RegExp(`^  ${value} = ${number - 10};`, "m"));
      assert.match(envelope, new RegExp(`^    \\w+Request ${field} = ${number};`, "m"));
      assert.match(envelope, new RegExp(`^    \\w+Reply ${field} = ${number};`, "m"));
      assert.match(replica, new RegExp(`case "${field}":[^;]*Type\\.${value}\\b`));
      // The template's handler, byte for byte, not the stub.
      assert.equal(
        readFileSync(path.join(dir, `src/handlers/${file}.ts`), "utf8"),
        readFileSync(path.join(REPO, `templates/paxos/src/handlers/${file}.ts`), "utf8"),
      );
    }
    for (const file of ["src/state.ts", "test/state.test.ts", "test/simulation.test.ts"]) {
      assert.equal(
        readFileSync(path.join(dir, file), "utf8"),
        readFileSync(path.join(REPO, "templates/paxos", file), "utf8"),
      );
    }
  });

  for (const template of ["blank", "epaxos", "paxos"]) {
    it(`scaffolds a ${template} project that compiles under strict, stubs fresh`, async () => {
      const cwd = workspace();
      assert.equal((await create(["fresh", "-t", template, ...QUICK], cwd)).code, 0);
      const dir = path.join(cwd, "fresh");
      const check = await consensus(["protobuf", "--check"], dir);
      assert.equal(check.code, 0, check.stderr);
      symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
      assert.equal(await tsc(dir), "");
      assert.ok(existsSync(path.join(dir, "dist/src/replica.js")));
    });
  }

  it("says in the README of a template whose replica declines every Propose that it does, and why", async () => {
    const says: Record<string, boolean> = {};
    for (const template of ["blank", "epaxos", "paxos"]) {
      const cwd = workspace();
      assert.equal((await create(["p", "-t", template, ...QUICK], cwd)).code, 0);
      const readme = readFileSync(path.join(cwd, "p/README.md"), "utf8");
      says[template] = /^\*\*This replica declines every `Propose`\.\*\* Until you write a protocol/m.test(readme);
    }
    // The paxos and epaxos templates' States commit.
    assert.deepEqual(says, { blank: true, epaxos: false, paxos: false });
  });

  it("keeps the README of every template within 250 lines, its reference in docs/, every link resolving", async () => {
    for (const template of ["blank", "epaxos", "paxos"]) {
      const cwd = workspace();
      assert.equal((await create(["p", "-t", template, ...QUICK], cwd)).code, 0);
      const dir = path.join(cwd, "p");
      const readme = readFileSync(path.join(dir, "README.md"), "utf8");
      const lines = readme.split("\n").length - 1;
      assert.ok(lines <= 250, `the ${template} README has ${lines} lines`);
      const docs = files(dir).filter((file) => file.startsWith("docs/"));
      for (const file of ["README.md", ...docs]) {
        const text = readFileSync(path.join(dir, file), "utf8");
        assert.doesNotMatch(text, /\{\{|\}\}/, `${template}: ${file} has a handlebars tag left`);
        for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
          if (/^https?:/.test(target!)) continue;
          const [where, anchor] = target!.split("#");
          const linked = where === "" ? file : path.posix.join(path.posix.dirname(file), where!);
          assert.ok(existsSync(path.join(dir, linked)), `${template}: ${file} links to ${target}, not a file`);
          if (anchor === undefined) continue;
          const headings = readFileSync(path.join(dir, linked), "utf8")
            .split("\n")
            .filter((line) => /^#+ /.test(line))
            .map((line) =>
              line
                .replace(/^#+ /, "")
                .toLowerCase()
                .replace(/[^\w\- ]/g, "")
                .replace(/ /g, "-"),
            );
          assert.ok(headings.includes(anchor!), `${template}: ${file} links to ${target}, no such heading`);
        }
      }
      if (template === "paxos") assert.match(readme, /\[docs\/protocol\.md\]\(docs\/protocol\.md\)/);
    }
  });

  it("scaffolds a Dispatch switch that tsc rejects once the envelope has a type without a case", async () => {
    const cwd = workspace();
    assert.equal((await create(["exhaustive", ...QUICK], cwd)).code, 0);
    const dir = path.join(cwd, "exhaustive");
    const envelope = path.join(dir, "proto/envelope.proto");
    // A oneof member added by hand, without a handler or a case.
    const edited = readFileSync(envelope, "utf8")
      .replace("BEACON = 0;", "BEACON = 0;\n  PING = 1;")
      .replace("BeaconRequest beacon = 10;", "BeaconRequest beacon = 10;\n    BeaconRequest ping = 11;");
    writeFileSync(envelope, edited);
    assert.equal((await consensus(["protobuf"], dir)).code, 0);
    symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
    assert.match(
      await tsc(dir, ["--noEmit"]),
      /^src\/replica\.ts\(\d+,\d+\): error TS2322: Type '"ping"' is not assignable to type 'never'\.$/m,
    );
  });

  it("with --yes and no folder, takes the default folder name", async () => {
    const cwd = workspace();
    const run = await create(["--yes", ...QUICK], cwd);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^✔ created my-protocol \(template blank, \d+ files\)\n/);
    assert.deepEqual(readdirSync(cwd), ["my-protocol"]);
  });

  it("with --dry-run, lists the project's files and writes nothing", async () => {
    const cwd = workspace();
    const run = await create(["planned", "--dry-run"], cwd);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      [
        ...BLANK_FILES.map((f) => `  + ${f}`),
        `dry run: planned would get ${BLANK_FILES.length} files; nothing written`,
        "",
      ].join("\n"),
    );
    assert.deepEqual(readdirSync(cwd), []);
  });

  it("accepts a folder that holds only .git", async () => {
    const cwd = workspace();
    mkdirSync(path.join(cwd, "repo/.git"), { recursive: true });
    writeFileSync(path.join(cwd, "repo/.git/HEAD"), "ref: refs/heads/main\n");
    const run = await create(["repo", ...QUICK], cwd);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    assert.match(run.stdout, new RegExp(`^✔ created repo \\(template blank, ${BLANK_FILES.length} files\\)\n`));
    assert.deepEqual(files(path.join(cwd, "repo")), [".git/HEAD", ...BLANK_FILES].sort());
    assert.equal(
      readFileSync(path.join(cwd, "repo/.git/HEAD"), "utf8"),
      "ref: refs/heads/main\n",
      ".git kept as it was",
    );
  });

  it("with --force, adds the project beside other files and keeps them", async () => {
    const cwd = workspace();
    mkdirSync(path.join(cwd, "mine"));
    writeFileSync(path.join(cwd, "mine/notes.md"), "my notes\n");
    const run = await create(["mine", "--force", ...QUICK], cwd);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(readFileSync(path.join(cwd, "mine/notes.md"), "utf8"), "my notes\n");
    assert.deepEqual(files(path.join(cwd, "mine")), [...BLANK_FILES, "notes.md"].sort());
  });
});

describe("create-consensus package managers", () => {
  const nextSteps = (stdout: string) => stdout.slice(stdout.indexOf("Next:"));

  it("detects pnpm and yarn from npm_config_user_agent and shows their commands", async () => {
    for (const [agent, steps] of [
      [
        "pnpm/9.12.0 npm/? node/v20.20.2 linux x64",
        ["pnpm i", "pnpm run test", "pnpm run start --name r1 --port 3264", "pnpm exec consensus add-message Accept"],
      ],
      [
        "yarn/1.22.22 npm/? node/v20.20.2 linux x64",
        [
          "yarn install",
          "yarn run test",
          "yarn run start --name r1 --port 3264",
          "yarn exec consensus -- add-message Accept",
        ],
      ],
      [
        "npm/11.1.0 node/v20.20.2 linux x64 workspaces/false",
        ["npm i", "npm run test", "npm run start -- --name r1 --port 3264", "npx consensus add-message Accept"],
      ],
    ] as const) {
      const cwd = workspace();
      const run = await create(["p", ...QUICK], cwd, { npm_config_user_agent: agent });
      assert.equal(run.code, 0, run.stderr);
      const manager = agent.split("/")[0]!;
      assert.match(run.stdout, new RegExp(`^  ${manager}, no install, no git$`, "m"));
      for (const step of steps) assert.ok(nextSteps(run.stdout).includes(`\n  ${step}\n`), `${step} in\n${run.stdout}`);
    }
  });

  it("takes --package-manager over the detected one", async () => {
    const cwd = workspace();
    const run = await create(["p", "--package-manager", "yarn", ...QUICK], cwd, {
      npm_config_user_agent: "pnpm/9.12.0 node/v20.20.2 linux x64",
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(nextSteps(run.stdout), /^ {2}yarn run test$/m);
  });

  it("installs with the chosen manager in the project folder", async () => {
    const cwd = workspace();
    const bin = fakeCommands(["pnpm"], 0);
    const run = await create(["p", "--package-manager", "pnpm", "--no-git"], cwd, {
      PATH: `${bin}:${process.env.PATH}`,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(readFileSync(path.join(bin, "calls.log"), "utf8"), `${path.join(cwd, "p")}: pnpm i\n`);
    assert.match(run.stdout, /^installing dependencies with pnpm…\n✔ installed dependencies with pnpm \(\d+\.\d s\)$/m);
    assert.doesNotMatch(nextSteps(run.stdout), /pnpm i$/m, "installed: no install step left to do");
  });

  it("keeps the project and says how to finish when the install fails", async () => {
    const cwd = workspace();
    const bin = fakeCommands(["pnpm"], 1, "ERR_PNPM_FETCH_404 not found");
    const run = await create(["p", "--package-manager", "pnpm", "--no-git"], cwd, {
      PATH: `${bin}:${process.env.PATH}`,
    });
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      "error: pnpm i failed (exit 1: ERR_PNPM_FETCH_404 not found); the project is created: run pnpm i in it\n",
    );
    assert.deepEqual(files(path.join(cwd, "p")), BLANK_FILES);
  });

  it("stops the install on Ctrl-C: exit 130, the install killed, the project kept, the command that finishes it named", async () => {
    const cwd = workspace();
    const bin = fakeCommands(["npm"], "hang");
    // The fake npm's first act is to create calls.log in its folder: watched before anything runs, so not missed.
    const watcher = watch(bin);
    const child = spawn(NODE, [CREATE_BIN, "p", "--no-git"], {
      cwd,
      env: environment({ NO_COLOR: "1", PATH: `${bin}:${process.env.PATH}` }),
    });
    let stdout = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    // Until npm runs, or create-consensus ends without it (the assertions below then say how).
    await Promise.race([
      new Promise((resolve) => watcher.on("change", (_, file) => file === "calls.log" && resolve(undefined))),
      exited,
    ]);
    watcher.close();
    const started = performance.now();
    child.kill("SIGINT");
    assert.equal(await exited, 130, stdout);
    assert.ok(performance.now() - started < 10_000, "the install was not left to run its minute");
    assert.match(stdout, /installing dependencies with npm…/);
    assert.match(
      stdout,
      /^interrupted: p is created, its dependencies are not all installed: run cd p && npm i$/m,
      "what to run next",
    );
    assert.deepEqual(files(path.join(cwd, "p")), BLANK_FILES);
  });

  it("names a package manager that is not installed, and keeps the project", async () => {
    const cwd = workspace();
    const run = await create(["p", "--package-manager", "yarn", "--no-git"], cwd, { PATH: workspace() });
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      "error: yarn install failed: yarn is not installed; the project is created: run yarn install in it\n",
    );
    assert.deepEqual(files(path.join(cwd, "p")), BLANK_FILES);
  });
});

describe("create-consensus git", () => {
  it("creates a repository with an initial commit of every file", async () => {
    const cwd = workspace();
    const run = await create(["g", "--no-install"], cwd, GIT_IDENTITY);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^✔ created a git repository with an initial commit$/m);
    const dir = path.join(cwd, "g");
    assert.equal((await git(["log", "--format=%s"], dir)).stdout, "Initial commit from create-consensus\n");
    assert.equal((await git(["status", "--porcelain"], dir)).stdout, "");
    const tracked = (await git(["ls-files"], dir)).stdout.trim().split("\n").sort();
    assert.deepEqual(tracked, BLANK_FILES);
  });

  it("skips the repository inside an existing work tree", async () => {
    const cwd = workspace();
    assert.equal((await git(["init", "--quiet"], cwd)).code, 0);
    const run = await create(["inner", "--no-install"], cwd, GIT_IDENTITY);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^git: already inside a git work tree, no repository created$/m);
    assert.equal(existsSync(path.join(cwd, "inner/.git")), false);
  });

  it("skips the commit, with a note, when git has no identity", async () => {
    const cwd = workspace();
    const home = workspace();
    const run = await create(["anon", "--no-install"], cwd, {
      HOME: home,
      XDG_CONFIG_HOME: home,
      GIT_CONFIG_NOSYSTEM: "1",
      // Never guess an identity from the host name.
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "user.useConfigOnly",
      GIT_CONFIG_VALUE_0: "true",
      GIT_AUTHOR_NAME: undefined,
      GIT_AUTHOR_EMAIL: undefined,
      GIT_COMMITTER_NAME: undefined,
      GIT_COMMITTER_EMAIL: undefined,
      EMAIL: undefined,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^git: repository created, commit skipped \(no user\.name \/ user\.email configured\)$/m);
    assert.ok(existsSync(path.join(cwd, "anon/.git")));
    assert.notEqual((await git(["rev-parse", "HEAD"], path.join(cwd, "anon"))).code, 0, "no commit");
  });

  it("says so when git is not installed", async () => {
    const cwd = workspace();
    const run = await create(["nogit", "--no-install"], cwd, { PATH: workspace() });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^git: not found, no repository created$/m);
    assert.equal(existsSync(path.join(cwd, "nogit/.git")), false);
  });
});

describe("create-consensus at a terminal", () => {
  it("asks for the folder, template, install and git, and validates the name as it is typed", async () => {
    const cwd = workspace();
    const term = terminal(CREATE_BIN, [], cwd, GIT_IDENTITY);
    await term.waitFor(/Project folder/);
    term.type(`Bad Name${KEY.enter}`);
    await term.waitFor(/"Bad Name" is not a valid npm package name/);
    term.type(`${"\x7f".repeat(8)}proto-one${KEY.enter}`);
    await term.waitFor(/Template/);
    term.type(`${KEY.down}${KEY.enter}`);
    await term.waitFor(/Install the dependencies with npm\?/);
    term.type(`n${KEY.enter}`);
    await term.waitFor(/Create a git repository/);
    term.type(KEY.enter);
    const run = await term.exit;
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /✔ created proto-one \(template epaxos, \d+ files\)/);
    assert.match(run.stdout, /✔ created a git repository with an initial commit/);
    assert.deepEqual(
      files(path.join(cwd, "proto-one")).filter((f) => !f.startsWith(".git/")),
      EPAXOS_FILES,
    );
  });

  for (const [prompt, keys, answers] of [
    ["Project folder", KEY.ctrlC, []],
    ["Template", KEY.esc, [`cancel-me${KEY.enter}`]],
    ["Install the dependencies", KEY.ctrlC, [`cancel-me${KEY.enter}`, KEY.enter]],
    ["Create a git repository", KEY.ctrlC, [`cancel-me${KEY.enter}`, KEY.enter, `n${KEY.enter}`]],
  ] as const) {
    it(`exits 130 and writes nothing when the ${prompt} prompt is cancelled`, async () => {
      const cwd = workspace();
      const term = terminal(CREATE_BIN, [], cwd);
      const prompts = ["Project folder", "Template", "Install the dependencies", "Create a git repository"];
      for (const [i, answer] of answers.entries()) {
        await term.waitFor(new RegExp(prompts[i]!));
        term.type(answer);
      }
      await term.waitFor(new RegExp(prompt));
      term.type(keys);
      const run = await term.exit;
      assert.equal(run.code, 130, run.stdout);
      assert.match(run.stdout, /Cancelled: nothing was written\./);
      assert.deepEqual(readdirSync(cwd), []);
    });
  }

  it("asks nothing when a flag gives the answer, or with --yes, or under CI", async () => {
    const cwd = workspace();
    const flagged = terminal(CREATE_BIN, ["flagged", "-t", "blank", ...QUICK], cwd);
    const run = await flagged.exit;
    assert.equal(run.code, 0, run.stdout);
    assert.doesNotMatch(run.stdout, /Project folder|Template|Install|git repository\?/);
    for (const [args, env] of [
      [["--yes", ...QUICK], {}],
      [QUICK, { CI: "true" }],
    ] as const) {
      const dir = workspace();
      const quiet = await terminal(CREATE_BIN, [...args], dir, env).exit;
      assert.equal(quiet.code, 0, quiet.stdout);
      assert.match(quiet.stdout, /created my-protocol/);
      assert.doesNotMatch(quiet.stdout, /Project folder/);
    }
  });
});

describe("create-consensus refuses and writes nothing", () => {
  const cases: { name: string; args: string[]; setup?: (cwd: string) => void; error: string }[] = [
    {
      name: "a name with capitals and spaces",
      args: ["My Protocol"],
      error:
        'error: "My Protocol" is not a valid npm package name (name can only contain URL-friendly characters; name can no longer contain capital letters): choose another folder name',
    },
    {
      name: "a name that starts with a dot",
      args: [".hidden"],
      error:
        'error: ".hidden" is not a valid npm package name (name cannot start with a period): choose another folder name',
    },
    {
      name: "a blocked name",
      args: ["node_modules"],
      error:
        'error: "node_modules" is not a valid npm package name (node_modules is not a valid package name): choose another folder name',
    },
    {
      name: "a name longer than 214 characters",
      args: ["a".repeat(215)],
      error: `error: "${"a".repeat(215)}" is not a valid npm package name (name can no longer contain more than 214 characters): choose another folder name`,
    },
    {
      name: "an unknown package manager",
      args: ["x", "--package-manager", "bun"],
      error: "error: option '--package-manager <name>' argument 'bun' is invalid. Allowed choices are npm, pnpm, yarn.",
    },
    {
      name: "an unknown template",
      args: ["x", "--template", "raft"],
      error: 'error: unknown template "raft": choose one of blank, epaxos, paxos',
    },
    {
      name: "a target that is a file",
      args: ["taken"],
      setup: (cwd) => writeFileSync(path.join(cwd, "taken"), "a file\n"),
      error: "error: taken is a file, not a folder: choose another name",
    },
    {
      name: "a folder that is not empty",
      args: ["busy"],
      setup: (cwd) => {
        mkdirSync(path.join(cwd, "busy/src"), { recursive: true });
        writeFileSync(path.join(cwd, "busy/notes.md"), "mine\n");
      },
      error:
        "error: busy is not empty (notes.md, src): choose another folder, or add the project beside them with --force",
    },
    {
      name: "--force where a file of the user's would be replaced",
      args: ["clash", "--force"],
      setup: (cwd) => {
        mkdirSync(path.join(cwd, "clash"));
        writeFileSync(path.join(cwd, "clash/package.json"), '{ "name": "clash" }\n');
        writeFileSync(path.join(cwd, "clash/README.md"), "mine\n");
      },
      error: "error: --force never replaces a file that is not the template's: README.md, package.json",
    },
    {
      name: "--force where a folder of the project is a file",
      args: ["blocked", "--force"],
      setup: (cwd) => {
        mkdirSync(path.join(cwd, "blocked"));
        writeFileSync(path.join(cwd, "blocked/proto"), "not a folder\n");
      },
      error: "error: proto is a file, not a folder",
    },
  ];
  for (const { name, args, setup, error } of cases) {
    it(`refuses ${name}`, async () => {
      const cwd = workspace();
      setup?.(cwd);
      const before = snapshot(cwd);
      const run = await create(args, cwd);
      assert.equal(run.code, 1);
      assert.equal(run.stderr, `${error}\n`);
      assert.equal(run.stdout, "");
      assert.deepEqual(snapshot(cwd), before);
    });
  }
});

describe("create-consensus next steps", () => {
  it("suggest adding a message type the chosen template does not have, which add-message then accepts", async () => {
    const suggested: string[] = [];
    for (const template of ["blank", "epaxos", "paxos"]) {
      const cwd = workspace();
      const run = await create(["p", "--template", template, ...QUICK], cwd, {
        npm_config_user_agent: "npm/11.1.0 node/v20.20.2 linux x64",
      });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^ {2}npx consensus list$/m);
      const name = /^ {2}npx consensus add-message (\S+)$/m.exec(run.stdout)?.[1];
      assert.ok(name, `a suggested add-message in\n${run.stdout}`);
      suggested.push(name);
      const added = await consensus(["add-message", name], path.join(cwd, "p"));
      assert.equal(added.code, 0, `${template}: add-message ${name}: ${added.stderr}`);
    }
    // epaxos and paxos already have Accept.
    assert.deepEqual(suggested, ["Accept", "Heartbeat", "Heartbeat"]);
  });
});
