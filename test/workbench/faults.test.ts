// The nemesis in the workbench's commands: a cluster replica killed and
// restarted with its data folder, and `consensus bench kv --nemesis` against
// real replicas: the faults in the output, the history, the results line and
// the report, and the same schedule again from the same seed.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { Cluster } from "../../src/workbench/cluster.js";
import { type PeerReply, Type } from "../../src/workbench/pb/envelope.js";
import { ConsensusClient } from "../../src/workbench/pb/service.js";
import type { ClientRecord } from "../../src/workbench/results.js";
import { CONSENSUS_BIN, REPO } from "../support/paths.js";
import { runBin } from "../support/project.js";

/** A project whose replicas are the kv fixture (test/support/kv-replica.ts). */
let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "faults-"));
  const fixture = path.join(REPO, "dist/test/support/kv-replica.js");
  writeFileSync(path.join(dir, "consensus.json"), JSON.stringify({ start: ["node", fixture] }));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function beacon(address: string): Promise<PeerReply> {
  const client = new ConsensusClient(address, grpc.credentials.createInsecure());
  try {
    const stream = client.dispatch({ deadline: Date.now() + 5000 });
    const reply = new Promise<PeerReply>((resolve, reject) => {
      stream.once("data", resolve);
      stream.once("error", reject);
    });
    stream.write({ type: Type.BEACON, sender: "test", message: { $case: "beacon", value: { timestamp: "" } } });
    stream.end();
    return await reply;
  } finally {
    client.close();
  }
}

describe("the nemesis", { timeout: 90_000 }, () => {
  test("a killed replica comes back with the same data folder, and the cluster does not call it dead", async () => {
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
      const settled = await Promise.race([cluster.died.then(() => "died"), new Promise((r) => setImmediate(r, "no"))]);
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
  });

  test("bench kv --nemesis: faults printed, in the history, the results line and the report; a seed replays them", async () => {
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
      const result = await runBin(CONSENSUS_BIN, args, dir);
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
      const printed = result.stdout.split("\n").filter((line) => line.startsWith("fault "));
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
      // One shaded band per fault in the throughput chart.
      const page = readFileSync(path.join(dir, `${label}.html`), "utf8");
      assert.equal(page.match(/<rect class="band"/g)?.length, faults.length);
      return faults.map(({ fault, value }) => ({ fault, value }));
    };
    const [first, again] = [await run("first"), await run("again")];
    // The same faults in the same order; a run may end before the last one of the other starts.
    const common = Math.min(first.length, again.length);
    assert.deepEqual(again.slice(0, common), first.slice(0, common));
  });
});

function sinkStream(): NodeJS.WritableStream {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}
