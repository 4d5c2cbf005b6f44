// The workbench against the paxos template's replicas, scaffolded and built:
// the Propose load follows the followers' redirects to the leader and stays
// there; `bench kv --nemesis kill,pause,partition --check` reports
// linearizable (the requirement); a cluster's --data folders hold
// what the replicas committed across a crash of all of them.
import assert from "node:assert/strict";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseTrace } from "../../src/check/index.js";
import { Cluster } from "../../src/workbench/cluster.js";
import { decodeValue, encodeValue } from "../../src/workbench/load/kv.js";
import { proposeLoad } from "../../src/workbench/load/propose.js";
import { type Ended, proposeFollowing, Replicas } from "../../src/workbench/load/redirects.js";
import { Measurement } from "../../src/workbench/measurement.js";
import type { ClientRecord, ServerRecord } from "../../src/workbench/results.js";
import { spawnChild } from "../support/child.js";
import { CONSENSUS_BIN, NODE } from "../support/paths.js";
import { environment, runBin } from "../support/project.js";
import { builtReplicaProject } from "../support/replica-project.js";

/** A built paxos project. */
let dir: string;
before(async () => {
  dir = await builtReplicaProject("paxos");
});
after(async () => {
  await rm(path.dirname(dir), { recursive: true, force: true });
});

const start = () => ({ command: ["node", "dist/src/main.js"], cwd: dir });
const sink = () => new Writable({ write: (_chunk, _encoding, done) => done() });

/** Proposes `value` (empty: a read) for `key` at `replica`, following redirects; fails on anything but a success. */
async function commit(members: Map<string, string>, key: string, value: Buffer, replica = "r1") {
  const replicas = new Replicas(members);
  try {
    const ended: Ended = await proposeFollowing(
      replicas,
      0,
      { identity: "test", name: key, value },
      replica,
      5000,
      () => {},
    );
    if ("error" in ended) assert.fail(`${ended.replica}: ${ended.error}`);
    assert.ok(ended.reply.success, `${ended.replica} declined: ${ended.reply.error}`);
    return ended;
  } finally {
    replicas.close();
  }
}

async function records(file: string): Promise<(ClientRecord | ServerRecord)[]> {
  return (await readFile(file, "utf8"))
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as ClientRecord | ServerRecord);
}

describe("the workbench against paxos replicas", () => {
  test(
    "propose: clients that start at the followers are redirected once, then stay at the leader",
    { timeout: 60_000 },
    async () => {
      const metrics = path.join(path.dirname(dir), "stay.jsonl");
      const cluster = await Cluster.start({
        start: start(),
        replicas: 3,
        firstPort: 0,
        metrics,
        run: "stay",
        output: sink(),
      });
      try {
        const members = new Map(cluster.members.map((member) => [member.name, member.address]));
        // Once a leader is elected, a proposal at r1 ends there.
        const leader = (await commit(members, "warm", encodeValue(1))).replica;
        const followers = [...members.keys()].filter((name) => name !== leader);
        const measurement = new Measurement({ warmup: 0, duration: 0, requests: 300, interval: 1, timeout: 5000 });
        measurement.start();
        await proposeLoad(
          { targets: followers, replicas: members, concurrency: 4, size: 16, timeout: 5000 },
          measurement,
        );
        assert.equal(measurement.errors, 0, measurement.firstError);
        assert.equal(measurement.successes, measurement.answers, "every proposal ends in success");
        assert.ok(measurement.answers >= 300);
        // One redirect per client: after it, a client proposes at the leader.
        assert.equal(measurement.redirects, 4);
      } finally {
        await cluster.stop();
      }
      const servers = (await records(metrics)).filter((record): record is ServerRecord => record.metric === "server");
      const leaders = servers.filter((server) => server.commits > 0);
      assert.equal(leaders.length, 1, "one replica commits");
      assert.ok(leaders[0]!.commits > 300);
      assert.equal(leaders[0]!.clients, 5, "every client proposed there (and the test's own)");
    },
  );

  test("bench propose: the load lands on the leader, every proposal a success", { timeout: 60_000 }, async (t) => {
    const results = path.join(path.dirname(dir), "propose.jsonl");
    const args = ["bench", "propose", "--duration", "2", "--warmup", "0", "--concurrency", "6", "--results", results];
    const run = await runBin(CONSENSUS_BIN, args, dir, {}, undefined, { t });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^answers +[\d,]+ successes, 0 declines, [1-9][\d,]* redirects, 0 errors$/m);
    const lines = await records(results);
    const client = lines.find((line): line is ClientRecord => line.metric === "client")!;
    assert.equal(client.successes, client.requests);
    // Four of the six clients start at the followers (two per replica).
    assert.ok(client.redirects >= 4, JSON.stringify(client));
    const servers = lines.filter((line): line is ServerRecord => line.metric === "server");
    const [leader, ...followers] = servers.sort((a, b) => b.commits - a.commits);
    assert.ok(leader!.commits >= client.successes, "the leader committed every proposal");
    assert.equal(leader!.clients, 6);
    assert.deepEqual(
      followers.map((follower) => follower.commits),
      [0, 0],
    );
    // What the protocol counts of its own: the leader won its election (the bench prints each replica's).
    assert.ok(leader!.counters!["elections won"]! >= 1, JSON.stringify(leader));
    assert.match(run.stdout, /^counted +elections won [1-9]\d*$/m);
  });

  test(
    "cluster --trace: the replicas' Dispatch messages, each send matched with its receipt, drawn on stop",
    { timeout: 60_000 },
    async (t) => {
      const folder = path.join(path.dirname(dir), "trace");
      const child = spawnChild([NODE, CONSENSUS_BIN, "cluster", "--port", "0", "--trace", folder], {
        cwd: dir,
        env: environment({ NO_COLOR: "1" }),
        t,
      });
      await child.line(/^Ctrl-C stops all/);
      // An election, then the leader's heartbeats.
      await sleep(1500);
      child.process.kill("SIGINT");
      const { code } = await child.exitWithin(15_000);
      assert.equal(code, 0, child.stderr);
      assert.match(child.stdout, new RegExp(`^messages: ${path.join(folder, "messages.html")}$`, "m"));
      const sends = (
        await Promise.all(["r1", "r2", "r3"].map((name) => readFile(path.join(folder, `${name}.jsonl`), "utf8")))
      )
        .join("")
        .split("\n")
        .filter((line) => line.includes('"event":"send"'));
      const trace = parseTrace(await readFile(path.join(folder, "messages.jsonl"), "utf8"));
      assert.equal(trace.length, sends.length);
      const types = new Set(trace.map((m) => m.type));
      assert.ok(types.has("PREPARE") && types.has("COMMIT"), [...types].join(" "));
      // At most the last messages before the stop go unanswered.
      const received = trace.filter((m) => m.receive !== undefined);
      assert.ok(received.length >= trace.length - 6, `${received.length} of ${trace.length} received`);
      // The replicas read the same wall clock, each to the microsecond.
      assert.ok(
        received.every((m) => m.receive! >= m.send - 10_000),
        "received after sent",
      );
      const html = await readFile(path.join(folder, "messages.html"), "utf8");
      const data = JSON.parse(/<script type="application\/json" id="mg-data">(.*?)<\/script>/s.exec(html)![1]!);
      assert.equal(data.messages.length, 7 * trace.length);
      // The script calls the function it defines, whatever the bundle named it.
      const call = /\n(\w+)\(\);\n\}\)\(\);<\/script>/.exec(html)![1]!;
      assert.match(html, new RegExp(`function ${call}\\(\\)`));
    },
  );

  test(
    "bench kv --trace: the run's messages on the history's clock, with its operations, linked from the report",
    { timeout: 60_000 },
    async (t) => {
      const base = path.join(path.dirname(dir), "kv-trace");
      const [folder, results, report] = [base, `${base}.jsonl`, `${base}.html`];
      const args = ["bench", "kv", "--duration", "1", "--warmup", "0", "--concurrency", "4", "--check"];
      args.push("--trace", folder, "--results", results, "--report", report);
      const run = await runBin(CONSENSUS_BIN, args, dir, {}, undefined, { t });
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, new RegExp(`^messages drawn in ${path.join(folder, "messages.html")}$`, "m"));
      const history = (await readFile(`${base}-history.jsonl`, "utf8"))
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { time: number });
      const end = Math.max(...history.map((event) => event.time));
      const trace = parseTrace(await readFile(path.join(folder, "messages.jsonl"), "utf8"));
      assert.ok(
        trace.some((m) => m.type === "ACCEPT"),
        "the leader's Accepts",
      );
      // On the history's clock: the Accepts of the run's writes fall within it.
      const accepts = trace.filter((m) => m.type === "ACCEPT" && !m.reply);
      assert.ok(accepts.filter((m) => m.send > 0 && m.send < end).length > accepts.length / 2, `${end}`);
      const html = await readFile(path.join(folder, "messages.html"), "utf8");
      const data = JSON.parse(/<script type="application\/json" id="mg-data">(.*?)<\/script>/s.exec(html)![1]!);
      assert.equal(data.ops.length, 5 * history.filter((e) => (e as { type?: string }).type === "invoke").length);
      assert.match(await readFile(report, "utf8"), /<a href="kv-trace\/messages\.html">the run's messages<\/a>/);
    },
  );

  test("bench kv --nemesis kill,pause,partition --check: linearizable", { timeout: 90_000 }, async (t) => {
    const seed = Number(process.env.CONSENSUS_TEST_SEED ?? Math.floor(Math.random() * 2 ** 32));
    t.diagnostic(`seed ${seed} (CONSENSUS_TEST_SEED=${seed} replays it)`);
    const results = path.join(path.dirname(dir), "kv.jsonl");
    const args = ["bench", "kv", "--nemesis", "kill,pause,partition", "--check", "--seed", String(seed)];
    args.push("--duration", "4", "--warmup", "0.5", "--nemesis-interval", "0.8", "--concurrency", "8");
    args.push("--results", results, "--history", path.join(path.dirname(dir), "kv-history.jsonl"));
    const run = await runBin(CONSENSUS_BIN, args, dir, {}, undefined, { t });
    const said = `seed ${seed}:\n${run.stdout}${run.stderr}`;
    assert.equal(run.code, 0, said);
    assert.match(run.stdout, new RegExp(`^nemesis: kill,pause,partition every 0\\.8 s, seed ${seed} `, "m"));
    assert.match(run.stdout, /^✔ linearizable \([\d,]+ operations\)$/m, said);
    const client = (await records(results)).find((line): line is ClientRecord => line.metric === "client")!;
    assert.equal(client.check!.verdict, "linearizable", said);
    assert.ok(client.faults!.length >= 3, said);
    // Faults slow it down, but it commits; how much in 4 s depends on the machine's load.
    t.diagnostic(`${client.successes} successes under ${client.faults!.length} faults`);
    assert.ok(client.successes > 0, said);
  });

  test("--data: what was committed survives a crash of every replica", { timeout: 60_000 }, async () => {
    const data = path.join(path.dirname(dir), "data");
    const options = { start: start(), replicas: 3, firstPort: 0, data, output: sink() };
    let cluster = await Cluster.start(options);
    try {
      const members = new Map(cluster.members.map((member) => [member.name, member.address]));
      await commit(members, "k", encodeValue(42));
      await cluster.stop("SIGKILL");
      cluster = await Cluster.start(options);
      const again = new Map(cluster.members.map((member) => [member.name, member.address]));
      const read = await commit(again, "k", Buffer.alloc(0));
      assert.ok("reply" in read);
      assert.equal(decodeValue(read.reply.value), 42);
    } finally {
      await cluster.stop("SIGKILL");
    }
  });
});
