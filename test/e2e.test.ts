import assert from "node:assert/strict";
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { DomUtils, parseDocument } from "htmlparser2";
import { walk } from "../src/core/walk.js";
import { CREATE_BIN, NODE } from "./support/paths.js";
import { freePortBlock, portIsFree } from "./support/ports.js";
import { environment, GIT_IDENTITY, runBin, snapshot } from "./support/project.js";

// The whole flow a person follows: scaffold with a real install, the
// project's own stub generation, tests and build, a quorum of replicas as
// processes, the cluster command, and the bench with its HTML report.

const scratch = mkdtempSync(path.join(os.tmpdir(), "consensus-e2e-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Far beyond what a command here takes (a project's npm test: 1-3 minutes): only a hang reaches it. */
const HANG_MS = 10 * 60_000;

/** Runs `file args` in `cwd` with `env`, stopped after HANG_MS; resolves with the exit code and output. */
function execute(
  file: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) =>
    execFile(file, args, { cwd, env, maxBuffer: 64 << 20, timeout: HANG_MS }, (err, stdout, stderr) => {
      const hung = err?.killed ? `\n(stopped after ${HANG_MS / 60_000} minutes)` : "";
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, output: stdout + stderr + hung });
    }),
  );
}

/** Runs `npm args` in `cwd`; resolves with the exit code and output. */
function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; output: string }> {
  // NODE_TEST_CONTEXT unset: the project's own node --test must run as a runner, not as a child of this one.
  return execute("npm", args, cwd, environment({ NO_COLOR: "1", NODE_TEST_CONTEXT: undefined, ...env }));
}

/**
 * For the test runs after add-message: they ask whether the project still builds and passes, and
 * its first run tried every default seed of its simulations, which add-message does not change.
 */
const FEW_SEEDS = { SIMULATION_RUNS: "3" };

/** Runs `line` with sh in `cwd`, as a person pastes a command into a terminal; resolves like npm(). */
function shell(line: string, cwd: string): Promise<{ code: number; output: string }> {
  return execute("sh", ["-c", line], cwd, environment({ NO_COLOR: "1" }));
}

/** The add-message command among the "Next:" lines create-consensus printed. */
function suggestedAddMessage(stdout: string): string {
  const steps = stdout.slice(stdout.indexOf("\nNext:\n")).split("\n").slice(2);
  const line = steps.map((step) => step.trim()).find((step) => step.startsWith("npx consensus add-message "));
  assert.ok(line, `no add-message among the next steps:\n${stdout}`);
  return line;
}

/** The first add-message command of a project's README (its example). */
function readmeAddMessage(dir: string): string {
  const readme = readFileSync(path.join(dir, "README.md"), "utf8");
  const line = /^npx consensus add-message .*$/m.exec(readme)?.[0];
  assert.ok(line, "no npx consensus add-message line in the generated README");
  return line;
}

/**
 * The skip of the message-set runs on another Node.js line than the one that runs the tests (npm run
 * test:lines), with why: each costs a project's npm test, and what they change is the same on every line.
 */
const MAIN_LINE_ONLY =
  process.env.CONSENSUS_TEST_NODE !== undefined &&
  "on the main Node.js line only: add-message and the templates' tests do not change with the line, and each run costs the project's npm test (1-3 minutes)";

/** A gRPC deadline `ms` from now: no call of these tests may wait longer than that for its answer. */
const within = (ms: number) => ({ deadline: Date.now() + ms });

/** Counts the tests of compiled test files without running them. */
const DECLARED_TESTS = path.join(import.meta.dirname, "support/declared-tests.js");

/** The version of NODE, as `process.version` gives it. */
const nodeVersion = execFileSync(NODE, ["-p", "process.version"], { encoding: "utf8" }).trim();

/**
 * Asserts that the output of the project's `npm test` shows every test file of
 * its test/ folder: the title of each file's first test or suite (a `${…}` in
 * it stands for anything), every test those files declare (counted without
 * running them: support/declared-tests.ts) passed or skipped as declared, and no failure.
 */
function assertEveryTestRan(dir: string, output: string, env: NodeJS.ProcessEnv = {}): void {
  const files = walk(path.join(dir, "test")).filter((file) => file.endsWith(".test.ts"));
  const compiled = files.map((file) => path.join(dir, "dist/test", file.replace(/\.ts$/, ".js")));
  const declared = JSON.parse(
    execFileSync(NODE, [DECLARED_TESTS, ...compiled], { cwd: dir, env: environment(env), encoding: "utf8" }),
  );
  assert.match(output, new RegExp(`^ℹ tests ${declared.tests}$`, "m"), "npm test ran the tests declared");
  assert.match(output, new RegExp(`^ℹ pass ${declared.tests - declared.skipped}$`, "m"));
  assert.match(output, /^ℹ fail 0$/m);
  assert.ok(
    files.some((file) => file.includes("/")),
    "a test in a folder below test/",
  );
  for (const file of files) {
    const match = /^(?:describe|test|it)\((["`])(.*?)\1/m.exec(readFileSync(path.join(dir, "test", file), "utf8"));
    assert.ok(match, `test/${file} holds no test`);
    const title = match[2]!
      .split(/\$\{[^}]*\}/)
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*");
    assert.match(output, new RegExp(title), `npm test did not run test/${file}`);
  }
}

/** Asserts that nothing Node printed while running a script is a warning (deprecated or experimental APIs). */
function assertNoWarnings(output: string): void {
  assert.doesNotMatch(output, /\b(Deprecation|Experimental)Warning\b|\(node:\d+\) /);
}

/** `npm run <script> -- args` in the background; resolves once its output matches `ready`. */
function startScript(
  dir: string,
  script: string,
  args: string[],
  ready: RegExp,
): Promise<{ child: ChildProcess; output: () => string }> {
  // Its own process group, to stop it as Ctrl-C does: a signal to npm, its shell and what it runs.
  const child = spawn("npm", ["run", script, "--", ...args], {
    cwd: dir,
    env: environment({ NO_COLOR: "1" }),
    detached: true,
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm run ${script} is not ready:\n${output}`)), 30_000);
    child.stdout!.on("data", () => {
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve({ child, output: () => output });
      }
    });
    child.on("exit", (code) => reject(new Error(`npm run ${script} exited with ${code}:\n${output}`)));
  });
}

/** Sends SIGINT to the process group of `child`, as Ctrl-C does; resolves once it has exited. */
function interrupt(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  process.kill(-child.pid!, "SIGINT");
  return exited;
}

for (const template of ["blank", "epaxos", "paxos"]) {
  describe(`end to end: the ${template} template`, () => {
    /** The project the first test scaffolds, and what create-consensus printed: the tests after it go on there. */
    let created: { dir: string; stdout: string } | undefined;
    const project = () => {
      assert.ok(created, `the ${template} project was not scaffolded (the first test of this suite failed)`);
      return created;
    };

    // One step per test, in order, each going on in the project the first made: a failure names its step.
    it("scaffolds with a real install and git", async () => {
      const run = await runBin(CREATE_BIN, [`e2e-${template}`, "--template", template, "--yes"], scratch, GIT_IDENTITY);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /✔ installed dependencies with npm/);
      assert.match(run.stdout, /✔ created a git repository with an initial commit/);
      created = { dir: path.join(scratch, `e2e-${template}`), stdout: run.stdout };
    });

    it("runs its scripts on this Node.js line", async () => {
      // As on the machine of a person who has that Node.
      const node = await npm(["exec", "--", "node", "-p", "process.version"], project().dir);
      assert.equal(node.output.trim(), nodeVersion);
    });

    it("regenerates the same stubs with npm run protobuf", async () => {
      const { dir } = project();
      // The stubs regenerated on this line are, byte for byte, those scaffolded (from the build's cache).
      const stubs = snapshot(path.join(dir, "src/pb"));
      const protobuf = await npm(["run", "protobuf"], dir);
      assert.equal(protobuf.code, 0, protobuf.output);
      assertNoWarnings(protobuf.output);
      const regenerated = snapshot(path.join(dir, "src/pb"));
      const differ = [...new Set([...stubs.keys(), ...regenerated.keys()])].filter(
        (file) => stubs.get(file) !== regenerated.get(file),
      );
      assert.deepEqual(differ, [], `npm run protobuf changed ${differ.join(", ")}`);
    });

    it("passes its tests, every one it declares", async () => {
      const { dir } = project();
      const test = await npm(["test"], dir);
      assert.equal(test.code, 0, test.output);
      assertEveryTestRan(dir, test.output);
      assertNoWarnings(test.output);
    });

    it("builds", async () => {
      const { dir } = project();
      const build = await npm(["run", "build"], dir);
      assert.equal(build.code, 0, build.output);
      assertNoWarnings(build.output);
    });

    it("runs a quorum of three by npm start that answers Propose and Dispatch, and stops on Ctrl-C", async (t) => {
      const { dir } = project();
      const ports = await freePortBlock(3);
      const names = ["r1", "r2", "r3"];
      const replicas = await Promise.all(
        names.map((name, i) => {
          const peers = names.flatMap((peer, j) => (j === i ? [] : [`${peer}=127.0.0.1:${ports[j]}`])).join(",");
          return startScript(
            dir,
            "start",
            ["--name", name, "--port", String(ports[i]), "--peers", peers],
            /listening on/,
          );
        }),
      );
      t.after(() => {
        for (const { child } of replicas)
          if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
      });

      // A client built on the project's own stubs and grpc-js.
      const grpc = createRequire(path.join(dir, "package.json"))("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
      const service = await import(pathToFileURL(path.join(dir, "dist/src/pb/service.js")).href);
      const envelope = await import(pathToFileURL(path.join(dir, "dist/src/pb/envelope.js")).href);
      const clients = ports.map(
        (port) => new service.ConsensusClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()),
      );
      type Reply = { success: boolean; error: string; redirect: string; value: Buffer };
      const propose = (i: number, value: string, ms = 5000) =>
        new Promise<Reply>((resolve, reject) =>
          clients[i].propose(
            { identity: "e2e", name: "x", value: Buffer.from(value) },
            within(ms),
            (err: Error | null, r: never) => (err ? reject(err) : resolve(r)),
          ),
        );
      // paxos commits at its leader once one is elected, and its followers redirect to it; epaxos commits at any
      // replica; blank declines.
      if (template === "epaxos") {
        const write = await propose(0, "1");
        assert.equal(write.success, true, write.error);
      }
      let leader: string | undefined;
      for (const deadline = Date.now() + 15_000; template === "paxos" && leader === undefined;) {
        // Each round waits 2 s at most for its answers; what the last one saw is what a failure shows.
        const outcomes = await Promise.allSettled(names.map((_, i) => propose(i, "1", 2000)));
        leader = names.find((_, i) => outcomes[i]!.status === "fulfilled" && outcomes[i].value.success);
        if (leader !== undefined) break;
        const saw = outcomes.map((outcome, i) =>
          outcome.status === "rejected"
            ? `${names[i]}: ${(outcome.reason as Error).message}`
            : `${names[i]}: ${outcome.value.redirect ? `redirect to ${outcome.value.redirect}` : outcome.value.error || "declined"}`,
        );
        assert.ok(Date.now() < deadline, `no leader was elected in 15 s; the last answers: ${saw.join("; ")}`);
        await sleep(200);
      }
      for (const [i, name] of names.entries()) {
        const client = clients[i];
        const reply = await propose(i, "");
        if (template === "blank") {
          assert.equal(reply.success, false);
          assert.equal(reply.error, "not implemented");
        } else if (template === "epaxos" || name === leader) {
          assert.equal(reply.success, true, reply.error);
          assert.equal(reply.value.toString(), "1", "a read returns the committed write");
        } else {
          assert.deepEqual([reply.success, reply.redirect], [false, leader]);
        }

        const stream = client.dispatch(within(10_000));
        const replies: { type: number; sender: string; message?: { $case: string; value: { timestamp: string } } }[] =
          [];
        const ended = new Promise<{ code: number; details: string }>((resolve) => {
          stream.on("data", (reply: never) => replies.push(reply));
          stream.on("error", (err: { code: number; details: string }) => resolve(err));
          stream.on("end", () => resolve({ code: 0, details: "" }));
        });
        // fromPartial fills the fields left out (ts-proto encodes only complete messages).
        const request = (type: number, $case: string, value: object) =>
          envelope.PeerRequest.fromPartial({ type, sender: "client", message: { $case, value } });
        stream.write(request(envelope.Type.BEACON, "beacon", { timestamp: new Date().toISOString() }));
        // TryPreAccept's handler is still the stub in epaxos.
        if (template === "epaxos") stream.write(request(envelope.Type.TRY_PRE_ACCEPT, "tryPreAccept", { ballot: 1n }));
        else stream.end();
        const status = await ended;
        assert.equal(replies.length, 1);
        assert.equal(replies[0]!.sender, name);
        assert.equal(replies[0]!.message?.$case, "beacon");
        assert.match(replies[0]!.message!.value.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
        if (template === "epaxos") {
          assert.equal(status.code, grpc.status.UNIMPLEMENTED);
          assert.match(status.details, /TRY_PRE_ACCEPT/);
        } else assert.equal(status.code, 0);
        client.close();
      }

      // Ctrl-C: every replica stops and frees its port.
      for (const [i, { child, output }] of replicas.entries()) {
        await interrupt(child);
        assert.ok(await portIsFree(ports[i]!), `r${i + 1} still listens after Ctrl-C:\n${output()}`);
        assertNoWarnings(output());
      }
    });

    it("runs the same quorum by npm run cluster, and Ctrl-C stops all three", async (t) => {
      const { dir } = project();
      const ports = await freePortBlock(3);
      const cluster = await startScript(
        dir,
        "cluster",
        ["--replicas", "3", "--port", String(ports[0])],
        /Ctrl-C stops all/,
      );
      t.after(() => {
        if (cluster.child.exitCode === null && cluster.child.signalCode === null)
          process.kill(-cluster.child.pid!, "SIGKILL");
      });
      assert.match(cluster.output(), new RegExp(`r3=127\\.0\\.0\\.1:${ports[0]! + 2}`));
      assert.equal(await portIsFree(ports[0]!), false);
      // npm itself dies of the SIGINT: what the cluster says tells how it stopped.
      await interrupt(cluster.child);
      assert.doesNotMatch(cluster.output(), /error/);
      assertNoWarnings(cluster.output());
      // npm may exit before the command has stopped its replicas (they drain first).
      for (const port of [ports[0]!, ports[0]! + 1, ports[0]! + 2]) {
        for (let wait = 0; !(await portIsFree(port)) && wait < 100; wait++) await sleep(100);
        assert.ok(await portIsFree(port), cluster.output());
      }
    });

    it("benches a cluster of its own, every Dispatch reply checked, into one results file and one page", async () => {
      const { dir } = project();
      const bench = await npm(
        [
          "run",
          "bench",
          "--",
          "dispatch",
          "--duration",
          "1",
          "--warmup",
          "0.2",
          "--interval",
          "0.1",
          "--report",
          "bench.html",
        ],
        dir,
      );
      assert.equal(bench.code, 0, bench.output);
      assertNoWarnings(bench.output);
      const records = readFileSync(path.join(dir, "bench.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line));
      const client = records.find((record) => record.metric === "client");
      assert.ok(client.requests > 0 && client.errors === 0, JSON.stringify(client));
      assert.equal(records.filter((record) => record.metric === "server" && record.run === client.run).length, 3);
      const page = parseDocument(readFileSync(path.join(dir, "bench.html"), "utf8"));
      assert.equal(DomUtils.findAll((element) => element.name === "svg", page.children).length, 2);
      const series = (name: string) => {
        const [line] = DomUtils.findAll((element) => element.attribs["data-series"] === name, page.children);
        assert.ok(line, `no ${name} series`);
        return line.attribs
          .points!.trim()
          .split(/\s+/)
          .map((point) => point.split(",").map(Number));
      };
      assert.equal(series("throughput").length, client.timeline.counts.length);
      assert.equal(series("latency").length, client.percentiles.length);
      assert.ok([...series("throughput"), ...series("latency")].flat().every(Number.isFinite));
    });

    it(
      "takes the add-message of its next steps and of its README, then passes its tests",
      { skip: MAIN_LINE_ONLY },
      async () => {
        const { dir, stdout } = project();
        // As printed and as written, so that a suggestion or an example that breaks the project shows here.
        for (const line of [suggestedAddMessage(stdout), readmeAddMessage(dir)]) {
          const added = await shell(line, dir);
          assert.equal(added.code, 0, `${line}\n${added.output}`);
        }
        await assertMessagesWork(dir);
      },
    );

    it("takes ten more message types in a row, then passes its tests", { skip: MAIN_LINE_ONLY }, async () => {
      const { dir } = project();
      for (let i = 1; i <= 10; i++) {
        const added = await shell(`npx consensus add-message Extra${i}`, dir);
        assert.equal(added.code, 0, `add-message Extra${i}\n${added.output}`);
      }
      await assertMessagesWork(dir);
    });
  });
}

/** Asserts that the project in `dir` passes its tests, and that doctor finds nothing wrong with its message set. */
async function assertMessagesWork(dir: string): Promise<void> {
  const test = await npm(["test"], dir, FEW_SEEDS);
  assert.equal(test.code, 0, test.output);
  assertEveryTestRan(dir, test.output, FEW_SEEDS);
  assertNoWarnings(test.output);
  // The envelope against the scaffold's commit too: adding types breaks nothing on the wire.
  const doctor = await shell("npx consensus doctor", dir);
  assert.equal(doctor.code, 0, doctor.output);
  assert.match(doctor.output, /no problems/);
}

describe("end to end: add-message in an installed project", () => {
  it("adds Accept and PreAccept; the project builds and passes its tests; ACCEPT is UNIMPLEMENTED until written, then typed", async (t) => {
    const run = await runBin(CREATE_BIN, ["e2e-add", "--yes", "--no-git"], scratch);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const dir = path.join(scratch, "e2e-add");
    // The project's own consensus command, as a person runs it there.
    for (const args of [
      ["Accept", "--request", "ballot:uint64,value:bytes,deps:repeated int32", "--reply", "ok:bool"],
      ["PreAccept", "--request", "ballot:uint64", "--reply", "ok:bool,seq:uint64"],
    ]) {
      const added = await npm(["exec", "--", "consensus", "add-message", ...args], dir);
      assert.equal(added.code, 0, added.output);
    }
    const build = await npm(["run", "build"], dir);
    assert.equal(build.code, 0, build.output);
    const test = await npm(["test"], dir);
    assert.equal(test.code, 0, test.output);
    assertEveryTestRan(dir, test.output);
    assert.match(test.output, /ACCEPT is answered UNIMPLEMENTED/);

    const grpc = createRequire(path.join(dir, "package.json"))("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
    const service = await import(pathToFileURL(path.join(dir, "dist/src/pb/service.js")).href);
    const envelope = await import(pathToFileURL(path.join(dir, "dist/src/pb/envelope.js")).href);
    /** Starts the built replica, sends one ACCEPT on a Dispatch stream, and stops it. */
    const accept = async () => {
      const replica = spawn(NODE, ["dist/src/main.js", "--name", "r1", "--port", "0"], { cwd: dir });
      t.after(() => replica.kill("SIGKILL"));
      const port = await new Promise<number>((resolve, reject) => {
        let output = "";
        replica.stdout.on("data", (chunk) => {
          output += chunk;
          const match = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
          if (match) resolve(Number(match[1]));
        });
        replica.on("exit", (code) => reject(new Error(`replica exited ${code}: ${output}`)));
      });
      const client = new service.ConsensusClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      const stream = client.dispatch(within(10_000));
      const outcome = new Promise<{
        reply?: { success: boolean; message?: { $case: string; value: { ok: boolean } } };
        status?: { code: number; details: string };
      }>((resolve) => {
        stream.on("data", (reply: never) => resolve({ reply }));
        stream.on("error", (status: { code: number; details: string }) => resolve({ status }));
      });
      stream.write(
        envelope.PeerRequest.fromPartial({
          type: envelope.Type.ACCEPT,
          sender: "client",
          message: { $case: "accept", value: { ballot: 5n } },
        }),
      );
      const result = await outcome;
      stream.end();
      client.close();
      const exited = new Promise((resolve) => replica.on("exit", resolve));
      replica.kill("SIGTERM");
      await exited;
      return result;
    };

    const stub = await accept();
    assert.equal(stub.status?.code, grpc.status.UNIMPLEMENTED);
    assert.match(stub.status!.details, /ACCEPT is not implemented/);

    writeFileSync(
      path.join(dir, "src/handlers/accept.ts"),
      [
        'import type { Context } from "../context.js";',
        'import type { AcceptReply, AcceptRequest } from "../pb/accept.js";',
        "",
        "export async function accept(request: AcceptRequest, _context: Context): Promise<AcceptReply> {",
        "  return { ok: request.ballot > 0n };",
        "}",
        "",
      ].join("\n"),
    );
    const rebuilt = await npm(["run", "build"], dir);
    assert.equal(rebuilt.code, 0, rebuilt.output);
    const written = await accept();
    assert.equal(written.status, undefined, written.status?.details);
    assert.equal(written.reply?.success, true);
    assert.deepEqual(written.reply?.message, { $case: "accept", value: { ok: true } });
  });
});
