// The nemesis in the workbench's commands: a cluster replica killed and
// restarted with its data folder, and `consensus bench kv --nemesis` against
// real replicas: the faults in the output, the history, the results line and
// the report, and the same schedule again from the same seed.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, type TestContext, test } from "node:test";
import { Cluster } from "../../src/workbench/cluster.js";
import { describeEvent } from "../../src/workbench/nemesis.js";
import type { ClientRecord } from "../../src/workbench/results.js";
import { beacon } from "../support/beacon.js";
import { OPEN_RESOURCES, spawnChild } from "../support/child.js";
import { CONSENSUS_BIN, NODE, REPO } from "../support/paths.js";
import { environment, runBin } from "../support/project.js";

/** A project whose replicas are the kv fixture (test/support/kv-replica.ts). */
let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "faults-"));
  const fixture = path.join(REPO, "dist/test/support/kv-replica.js");
  writeFileSync(path.join(dir, "consensus.json"), JSON.stringify({ start: ["node", fixture] }));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("the nemesis", () => {
  test(
    "a killed replica comes back with the same data folder, and the cluster does not call it dead",
    { timeout: 60_000 },
    async () => {
      const data = path.join(dir, "data");
      const start = { command: ["node", path.join(REPO, "dist/test/support/kv-replica.js")], cwd: dir };
      const cluster = await Cluster.start({ start, replicas: 3, firstPort: 0, data, output: sinkStream() });
      try {
        const before = cluster.members.find((member) => member.name === "r2")!;
        const args = () => readFileSync(`/proc/${cluster.members.find((m) => m.name === "r2")!.pid}/cmdline`, "utf8");
        assert.match(args(), new RegExp(`--data\\0${path.join(data, "r2")}\\0`));
        await cluster.kill("r2");
        assert.deepEqual(
          cluster.members.map((member) => member.name),
          ["r1", "r3"],
        );
        await cluster.restart("r2");
        const after = cluster.members.find((member) => member.name === "r2")!;
        assert.notEqual(after.pid, before.pid);
        assert.match(args(), new RegExp(`--data\\0${path.join(data, "r2")}\\0`));
        assert.equal((await beacon(after.address)).sender, "r2");
        const settled = await Promise.race([
          cluster.died.then(() => "died"),
          new Promise((r) => setImmediate(r, "no")),
        ]);
        assert.equal(settled, "no");
        assert.deepEqual(
          (await cluster.stop()).map(({ name, code }) => [name, code]),
          [
            ["r1", 0],
            ["r2", 0],
            ["r3", 0],
          ],
        );
      } finally {
        await cluster.stop("SIGKILL");
      }
    },
  );

  test(
    "cluster --nemesis: each fault and its end printed as they happen; Ctrl-C ends the fault and stops all",
    { timeout: 60_000 },
    async (t) => {
      const child = spawnChild(
        [
          NODE,
          "--import",
          OPEN_RESOURCES,
          CONSENSUS_BIN,
          ...["cluster", "--port", "0", "--nemesis", "kill,pause", "--nemesis-interval", "0.4", "--seed", "9"],
        ],
        { cwd: dir, env: environment({ NO_COLOR: "1" }), t },
      );
      assert.match(await child.line(/^nemesis: kill,pause every 0\.4 s, seed 9/), /--seed 9 replays it/);
      // The first fault and its end, in order, for the same replica.
      const started = await child.line(/^nemesis: (kill|pause) r\d$/);
      const [, fault, replica] = /^nemesis: (\w+) (r\d)$/.exec(started)!;
      const ended = await child.line(/^nemesis: (restart|resume) r\d$/);
      assert.equal(ended, `nemesis: ${fault === "kill" ? "restart" : "resume"} ${replica}`);
      child.process.kill("SIGINT");
      // Its replicas drain for at most 5 s; then nothing may hold it.
      const { code, signal } = await child.exitWithin(15_000);
      assert.deepEqual([code, signal], [0, null], child.tail());
    },
  );

  test(
    "bench propose --nemesis kill: replicas killed and restarted under load, the run not failed for it",
    { timeout: 60_000 },
    async (t) => {
      const args = [
        "bench",
        "propose",
        "--duration",
        "2",
        "--warmup",
        "0.2",
        "--concurrency",
        "6",
        "--run",
        "propose-kill",
      ];
      const result = await runBin(
        CONSENSUS_BIN,
        // Seed 1 kills r1 first: the fixture's leader, where the clients' redirects took them.
        [...args, "--nemesis", "kill", "--nemesis-interval", "0.5", "--seed", "1"],
        dir,
        {},
        undefined,
        { t },
      );
      assert.equal(result.code, 0, result.stdout + result.stderr);
      const client = readFileSync(path.join(dir, "bench.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as ClientRecord)
        .findLast((record) => record.run === "propose-kill")!;
      assert.ok(client.faults!.length >= 2 && client.faults!.every((span) => span.fault === "kill"));
      assert.equal(client.faults![0]!.value, "r1");
      assert.ok(client.requests > 0);
      // Clients of a killed replica got errors, which fail a run without a nemesis.
      assert.ok(client.errors > 0, "the kills were felt");
      assert.equal(client.history, undefined, "only kv records a history");
    },
  );

  test(
    "bench kv --nemesis: faults printed as they happen, in the history, the results line and the report; a seed replays them; it exits once done",
    { timeout: 90_000 },
    async (t) => {
      const run = async (label: string) => {
        const args = ["bench", "kv", "--duration", "3", "--warmup", "0.2", "--concurrency", "4", "--run", label];
        args.push(
          "--nemesis",
          "partition,kill",
          "--nemesis-interval",
          "0.8",
          "--seed",
          "11",
          "--report",
          `${label}.html`,
        );
        args.push("--history", `${label}.jsonl`);
        const child = spawnChild([NODE, "--import", OPEN_RESOURCES, CONSENSUS_BIN, ...args], {
          cwd: dir,
          env: environment({ NO_COLOR: "1" }),
          t,
        });
        // Its last line; then nothing may hold it (an unclosed socket once kept it spinning at exit).
        await child.line(new RegExp(`^report written to ${label}\\.html$`));
        const result = await child.exitWithin(10_000);
        assert.equal(result.code, 0, result.stdout + result.stderr);
        assert.match(result.stdout, /^nemesis: partition,kill every 0\.8 s, seed 11 \(--seed 11 replays it\)$/m);
        const client = readFileSync(path.join(dir, "bench.jsonl"), "utf8")
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line) as ClientRecord)
          .findLast((record) => record.run === label)!;
        const faults = client.faults!;
        assert.ok(faults.length >= 2, JSON.stringify(faults));
        for (const span of faults) assert.ok(span.end >= span.start);
        const lines = result.stdout.split("\n");
        const printed = lines.filter((line) => line.startsWith("fault "));
        assert.equal(printed.length, faults.length);
        // Every start has its stop in the history, in order, with the same fault.
        const events = readFileSync(path.join(dir, `${label}.jsonl`), "utf8")
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line))
          .filter((event) => event.process === "nemesis");
        assert.equal(events.length, faults.length * 2);
        events.forEach((event, i) => {
          assert.equal(event.f, i % 2 === 0 ? "start" : "stop");
          assert.equal(event.fault, faults[Math.floor(i / 2)]!.fault);
        });
        // Each start and stop printed as it happened, as the cluster command prints them: before the figures.
        const live = lines.flatMap((line, at) => (/^nemesis: (partition|heal|kill|restart) /.test(line) ? [at] : []));
        assert.deepEqual(
          live.map((at) => lines[at]),
          events.map(describeEvent),
        );
        assert.ok(live.at(-1)! < lines.findIndex((line) => line.startsWith("requests ")), result.stdout);
        // One shaded band per fault in the throughput chart.
        const page = readFileSync(path.join(dir, `${label}.html`), "utf8");
        assert.equal(page.match(/<rect class="band"/g)?.length, faults.length);
        return faults.map(({ fault, value }) => ({ fault, value }));
      };
      const [first, again] = [await run("first"), await run("again")];
      // The same faults in the same order; a run may end before the last one of the other starts.
      const common = Math.min(first.length, again.length);
      assert.deepEqual(again.slice(0, common), first.slice(0, common));
    },
  );
});

describe("bench kv --check", () => {
  /** Runs `consensus bench kv --check` in a project whose replicas start with `start`; the run's results line and page. */
  async function checkedRun(t: TestContext, start: string[], extra: string[]) {
    const project = mkdtempSync(path.join(os.tmpdir(), "kv-check-"));
    try {
      writeFileSync(path.join(project, "consensus.json"), JSON.stringify({ start }));
      const args = ["bench", "kv", "--check", "--duration", "4", "--warmup", "0.2", "--report", "kv.html", ...extra];
      const result = await runBin(CONSENSUS_BIN, args, project, {}, undefined, { t });
      const client = JSON.parse(readFileSync(path.join(project, "bench.jsonl"), "utf8").trim().split("\n").at(-1)!);
      const page = readFileSync(path.join(project, "kv.html"), "utf8");
      return { result, client: client as ClientRecord, page };
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  }
  const fixture = () => path.join(REPO, "dist/test/support/kv-replica.js");

  test(
    "replicas that answer reads at the leader: linearizable, said by the command, the results line and the report",
    { timeout: 60_000 },
    async (t) => {
      const { result, client, page } = await checkedRun(t, ["node", fixture()], ["--concurrency", "6", "--keys", "3"]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /^✔ linearizable \([\d,]+ operations\)$/m);
      assert.equal(client.check!.verdict, "linearizable");
      assert.ok(client.check!.operations > 0);
      assert.deepEqual(client.check!.violations, []);
      assert.equal(client.history, "bench-history.jsonl");
      assert.match(page, /<h2>Linearizability<\/h2>\n<p class="verdict linearizable">linearizable/);
      assert.match(page, /<section class="history">/);
    },
  );

  test(
    "--target r1=host:port,…: replicas it did not start, redirects to their names followed, no project needed",
    { timeout: 60_000 },
    async (t) => {
      const start = { command: ["node", fixture()], cwd: dir };
      const cluster = await Cluster.start({ start, replicas: 3, firstPort: 0, output: sinkStream() });
      const outside = mkdtempSync(path.join(os.tmpdir(), "kv-targets-"));
      try {
        const targets = cluster.members.map((member) => `${member.name}=${member.address}`).join(",");
        const args = ["bench", "kv", "--check", "--target", targets, "--duration", "2", "--warmup", "0.2"];
        const result = await runBin(
          CONSENSUS_BIN,
          [...args, "--concurrency", "6", "--keys", "3"],
          outside,
          {},
          undefined,
          {
            t,
          },
        );
        assert.equal(result.code, 0, result.stdout + result.stderr);
        const client = JSON.parse(readFileSync(path.join(outside, "bench.jsonl"), "utf8").trim()) as ClientRecord;
        // Clients that start at r2 and r3 are redirected to r1 by name, and their operations complete there.
        assert.ok(client.redirects > 0, JSON.stringify(client));
        assert.equal(client.errors, 0, client.error);
        assert.equal(client.check!.verdict, "linearizable");
        const oks = readFileSync(path.join(outside, "bench-history.jsonl"), "utf8")
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line))
          .filter((event) => event.type === "ok" && event.f === "write");
        assert.ok(oks.length > 0 && oks.every((event) => event.replica === "r1"));
      } finally {
        await cluster.stop("SIGKILL");
        rmSync(outside, { recursive: true, force: true });
      }
    },
  );

  test(
    "followers that serve reads from a stale copy, under --nemesis partition: caught as not linearizable",
    { timeout: 60_000 },
    async (t) => {
      const extra = ["--concurrency", "6", "--keys", "2", "--nemesis", "partition", "--nemesis-interval", "1"];
      const { result, client, page } = await checkedRun(
        t,
        ["node", fixture(), "--stale-reads"],
        [...extra, "--seed", "3"],
      );
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stdout, /^✖ not linearizable \([\d,]+ operations\)$/m);
      assert.match(result.stdout, /^ {2}key "k\d".*$/m);
      assert.match(result.stderr, /^error: the history of run kv-\S+ is not linearizable: see bench-history\.jsonl\n$/);
      assert.equal(client.check!.verdict, "not linearizable");
      assert.ok(client.check!.violations.length > 0);
      assert.match(page, /<p class="verdict not-linearizable">not linearizable/);
      assert.match(page, /<h2>What cannot be ordered<\/h2>/);
      assert.match(page, /<g class="nemesis" data-fault="partition">/);
    },
  );
});

function sinkStream(): NodeJS.WritableStream {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}
