import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { CREATE_BIN, REPO } from "./support/paths.js";
import { consensus, runBin, snapshot } from "./support/project.js";

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
const create = (args: string[], cwd: string) => runBin(CREATE_BIN, args, cwd);
const ours = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8"));
const GOLDEN = path.join(REPO, "test/golden/canonical");

const BLANK_FILES = [
  ".gitignore",
  "README.md",
  "consensus.json",
  "package.json",
  "proto/beacon.proto",
  "proto/client.proto",
  "proto/envelope.proto",
  "proto/service.proto",
  "src/pb/beacon.ts",
  "src/pb/client.ts",
  "src/pb/envelope.ts",
  "src/pb/service.ts",
  "tsconfig.json",
];

describe("create-consensus", () => {
  it("scaffolds the blank template: files, package.json, protos and stubs", async () => {
    const cwd = workspace();
    const run = await create(["my-protocol"], cwd);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    const dir = path.join(cwd, "my-protocol");
    assert.deepEqual(files(dir), BLANK_FILES);
    assert.match(run.stdout, /✔ created my-protocol \(template blank, 13 files\)/);
    assert.match(run.stdout, /Next:\n {2}cd my-protocol\n {2}npm install\n {2}npx consensus protobuf --check\n$/);

    const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
    assert.equal(pkg.name, "my-protocol");
    assert.deepEqual(pkg.dependencies, {
      "@bufbuild/protobuf": ours.devDependencies["@bufbuild/protobuf"],
      "@grpc/grpc-js": ours.devDependencies["@grpc/grpc-js"],
    });
    assert.equal(
      pkg.devDependencies["create-consensus"],
      `file:${REPO}`,
      "an unpublished checkout is depended on as is",
    );
    assert.equal(pkg.devDependencies.typescript, ours.devDependencies.typescript.replace(/^[~^]/, ""));
    for (const proto of ["beacon", "client", "envelope", "service"]) {
      assert.equal(
        readFileSync(path.join(dir, `proto/${proto}.proto`), "utf8"),
        readFileSync(path.join(REPO, `proto/${proto}.proto`), "utf8"),
      );
      assert.equal(
        readFileSync(path.join(dir, `src/pb/${proto}.ts`), "utf8"),
        readFileSync(path.join(GOLDEN, `${proto}.ts`), "utf8"),
      );
    }
    assert.match(readFileSync(path.join(dir, ".gitignore"), "utf8"), /^\.consensus\/$/m);
    assert.match(readFileSync(path.join(dir, "README.md"), "utf8"), /^# my-protocol$/m);
  });

  it("scaffolds a project whose stubs are fresh and compile under strict", async () => {
    const cwd = workspace();
    assert.equal((await create(["fresh"], cwd)).code, 0);
    const dir = path.join(cwd, "fresh");
    const check = await consensus(["protobuf", "--check"], dir);
    assert.equal(check.code, 0, check.stderr);
    symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
    const tsc = path.join(REPO, "node_modules/typescript/bin/tsc");
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [tsc, "-p", dir]).catch((err) => err);
    assert.equal(stdout + stderr, "");
    assert.deepEqual(readdirSync(path.join(dir, "dist/pb")).filter((f) => f.endsWith(".js")).length, 4);
  });

  it("with --dry-run, lists the project's files and writes nothing", async () => {
    const cwd = workspace();
    const run = await create(["planned", "--dry-run"], cwd);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      [...BLANK_FILES.map((f) => `  + ${f}`), "dry run: planned would get 13 files; nothing written", ""].join("\n"),
    );
    assert.deepEqual(readdirSync(cwd), []);
  });

  it("accepts a folder that holds only .git", async () => {
    const cwd = workspace();
    mkdirSync(path.join(cwd, "repo/.git"), { recursive: true });
    const run = await create(["repo"], cwd);
    assert.equal(run.code, 0, run.stderr);
  });

  it("with --force, adds the project beside other files and keeps them", async () => {
    const cwd = workspace();
    mkdirSync(path.join(cwd, "mine"));
    writeFileSync(path.join(cwd, "mine/notes.md"), "my notes\n");
    const run = await create(["mine", "--force"], cwd);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(readFileSync(path.join(cwd, "mine/notes.md"), "utf8"), "my notes\n");
    assert.deepEqual(files(path.join(cwd, "mine")), [...BLANK_FILES, "notes.md"].sort());
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
      name: "a missing folder name",
      args: [],
      error: "error: name the project folder: npx create-consensus my-protocol",
    },
    {
      name: "an unknown template",
      args: ["x", "--template", "raft"],
      error: 'error: unknown template "raft": choose one of blank',
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
