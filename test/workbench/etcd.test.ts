// `consensus bench kv --target etcd=…` against three real etcd members on 127.0.0.1: the same
// workload as against replicas, spread over the members, its history checked linearizable and
// its figures printed; the store's requests as a stand-in KV server sees them (reads
// linearizable, not serializable); a target that names no member, or not as host:port, is
// refused with one line and nothing written.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { type KVServer, KVService, type PutRequest, type RangeRequest } from "../../src/workbench/etcd-pb/rpc.js";
import type { HistoryEvent } from "../../src/workbench/history.js";
import { EtcdStore } from "../../src/workbench/load/etcd.js";
import type { ClientRecord } from "../../src/workbench/results.js";
import { etcdMissing, startEtcd } from "../support/etcd.js";
import { CONSENSUS_BIN } from "../support/paths.js";
import { runBin } from "../support/project.js";

/** A folder outside any project: an etcd target needs none. */
let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "bench-etcd-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bench = (t: TestContext, args: string[]) =>
  runBin(CONSENSUS_BIN, ["bench", ...args], dir, {}, undefined, { t, timeout: 60_000 });

describe("bench kv against three etcd members", { skip: etcdMissing() }, () => {
  test(
    "the history checks linearizable, every member is loaded, the figures are printed",
    { timeout: 90_000 },
    async (t) => {
      const etcd = await startEtcd({ t });
      try {
        await checkedRun(t, etcd.endpoints);
      } finally {
        await etcd.stop();
      }
    },
  );
});

/** Runs bench kv --check against the etcd members `endpoints` and checks what it printed and wrote. */
async function checkedRun(t: TestContext, endpoints: string[]): Promise<void> {
  const results = path.join(dir, "kv.jsonl");
  const target = `etcd=${endpoints.join(",")}`;
  const quick = ["--duration", "1", "--warmup", "0.2", "--interval", "0.2", "--concurrency", "6"];
  const { code, stdout, stderr } = await bench(t, [
    "kv",
    "--target",
    target,
    "--check",
    ...quick,
    "--results",
    results,
  ]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, new RegExp(`^kv ${endpoints.join(" ")}: 6 clients on 8 keys, 50% reads`, "m"));
  assert.match(stdout, /^requests +[\d,]+ in \d+\.\d\d s: [\d,]+\/s$/m);
  assert.match(stdout, /^latency +p50 \S+ \S+ +p90 .* p99 .* max /m);
  assert.match(stdout, /^answers +[\d,]+ successes, 0 declines, 0 redirects, \d+ errors$/m);
  const operations = /^✔ linearizable \(([\d,]+) operations\)$/m.exec(stdout);
  assert.ok(operations, stdout);
  const [client] = (await readFile(results, "utf8"))
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as ClientRecord);
  assert.equal(client!.bench, "kv");
  assert.equal(client!.flags.targets, target);
  assert.deepEqual(client!.targets, endpoints);
  assert.ok(client!.successes > 0);
  assert.equal(client!.check?.verdict, "linearizable");
  assert.equal(client!.check?.operations, Number(operations[1]!.replace(/,/g, "")));
  // Clients start spread over the members: each is asked, and reads see what writes wrote.
  const events = (await readFile(path.join(dir, "kv-history.jsonl"), "utf8"))
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as HistoryEvent & { replica?: string });
  const asked = new Set(events.filter((event) => event.type === "invoke").map((event) => event.replica));
  assert.deepEqual([...asked].sort(), [...endpoints].sort());
  const reads = events.filter((event) => event.type === "ok" && event.f === "read");
  assert.ok(
    reads.some((event) => typeof event.value === "number"),
    "some read saw a written value",
  );
}

test("the etcd store: a read is a linearizable Range of the key, a write a Put of its bytes, an error indeterminate", async () => {
  const ranges: RangeRequest[] = [];
  const puts: PutRequest[] = [];
  const held = new Map<string, Buffer>();
  const server = new grpc.Server();
  const kv: KVServer = {
    range(call, callback) {
      ranges.push(call.request);
      const value = held.get(call.request.key.toString());
      callback(null, { header: undefined, kvs: value ? [{ key: call.request.key, value }] : [] });
    },
    put(call, callback) {
      puts.push(call.request);
      if (call.request.key.toString() === "down") {
        callback({ code: grpc.status.UNAVAILABLE, details: "etcdserver: no leader" });
        return;
      }
      held.set(call.request.key.toString(), call.request.value);
      callback(null, { header: undefined });
    },
  };
  server.addService(KVService, kv);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const endpoint = `127.0.0.1:${port}`;
  const store = new EtcdStore([endpoint]);
  try {
    const ask = (key: string, value: Buffer | null) =>
      store.perform({ caller: 0, process: 0, key, value, endpoint, timeout: 5000, redirected: () => assert.fail() });
    assert.deepEqual(await ask("k0", null), { value: Buffer.alloc(0), endpoint }, "a key never written reads empty");
    assert.deepEqual(await ask("k0", Buffer.from("7")), { value: Buffer.from("7"), endpoint });
    assert.deepEqual(await ask("k0", null), { value: Buffer.from("7"), endpoint });
    assert.deepEqual(await ask("down", Buffer.from("8")), { error: "UNAVAILABLE: etcdserver: no leader", endpoint });
    assert.deepEqual(
      ranges.map((range) => [range.key.toString(), range.serializable]),
      [
        ["k0", false],
        ["k0", false],
      ],
    );
    assert.deepEqual(
      puts.map((put) => [put.key.toString(), put.value.toString()]),
      [
        ["k0", "7"],
        ["down", "8"],
      ],
    );
  } finally {
    store.close();
    server.forceShutdown();
  }
});

describe("bad etcd targets are refused with one line, nothing written", () => {
  const refused: [string, string[], string][] = [
    ["no member", ["kv", "--target", "etcd="], "error: --target etcd=: give etcd's members, etcd=host:port[,…]"],
    [
      "a bad port",
      ["kv", "--target", "etcd=127.0.0.1:2379,127.0.0.1:99999"],
      "error: --target etcd=127.0.0.1:2379,127.0.0.1:99999: 127.0.0.1:99999 is not host:port",
    ],
    [
      "a member without a port",
      ["kv", "--target", "etcd=localhost"],
      "error: --target etcd=localhost: localhost is not host:port",
    ],
    [
      "etcd after replicas",
      ["kv", "--target", "r1=127.0.0.1:3264,etcd=127.0.0.1:2379"],
      "error: --target r1=127.0.0.1:3264,etcd=127.0.0.1:2379: etcd=host:port,… names etcd's members alone",
    ],
    [
      "a load other than kv",
      ["propose", "--target", "etcd=127.0.0.1:2379"],
      "error: --target etcd=… loads etcd's KV API, which only bench kv speaks (not propose)",
    ],
    [
      "a nemesis",
      ["kv", "--target", "etcd=127.0.0.1:2379", "--nemesis", "kill"],
      "error: --nemesis breaks the bench's own cluster: name its replicas (r1,r2) in --target, or give none",
    ],
  ];
  for (const [what, args, line] of refused) {
    test(what, async (t) => {
      const results = path.join(dir, `refused-${what.replace(/\W+/g, "-")}.jsonl`);
      const { code, stdout, stderr } = await bench(t, [...args, "--results", results]);
      assert.equal(code, 1);
      assert.equal(stderr, `${line}\n`);
      assert.equal(stdout, "");
      assert.ok(!existsSync(results) && !existsSync(results.replace(".jsonl", "-history.jsonl")));
    });
  }
});
