// Metrics: the counters and the JSON line dump appends.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { Metrics } from "../src/metrics.js";
import { VirtualClock } from "../src/simulation/index.js";

test("counts requests, distinct clients, commits and drops, and the commits per second between first and last", async () => {
  const clock = new VirtualClock(BigInt(Date.UTC(2026, 0, 2, 3, 4, 5)) * 1_000_000n);
  const metrics = new Metrics(clock);
  assert.deepEqual([metrics.duration(), metrics.throughput()], [0, 0]);
  metrics.request("c1");
  metrics.complete(true);
  // One instant: no time has passed, so no rate.
  assert.deepEqual([metrics.duration(), metrics.throughput()], [0, 0]);
  await clock.advance(250);
  metrics.request("c2");
  metrics.request("c1");
  await clock.advance(250);
  metrics.request("c3");
  metrics.complete(true);
  await clock.advance(1000);
  metrics.complete(false);
  metrics.complete(true);
  // The version has a test of its own (the dump's, below).
  const { version: _version, ...record } = metrics.record();
  // 3 commits from 03:04:05 to 03:04:06.5: 1.5 s, 2 per second.
  assert.deepEqual(record, {
    metric: "server",
    started: "2026-01-02T03:04:05.000000000Z",
    finished: "2026-01-02T03:04:06.500000000Z",
    requests: 4,
    commits: 3,
    drops: 1,
    clients: 3,
    messages: 0,
    throughput: 2,
    duration: 1.5,
    counters: {},
  });
});

test("counts what the protocol counts of its own, listed by name whatever the order it counted them in", () => {
  const metrics = new Metrics();
  metrics.count("path.slow");
  metrics.count("elections");
  metrics.count("path.fast", 3);
  metrics.count("path.slow");
  const { counters } = metrics.record();
  assert.deepEqual(Object.entries(counters), [
    ["elections", 1],
    ["path.fast", 3],
    ["path.slow", 2],
  ]);
});

test("dump appends one JSON line per call, extra keys included, bigints kept exact", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "metrics-"));
  try {
    const file = path.join(dir, "runs", "metrics.jsonl");
    const metrics = new Metrics();
    metrics.request("c1");
    metrics.complete(true);
    await metrics.dump(file, { run: 1, seq: 2n ** 64n - 1n, small: 7n });
    await metrics.dump(file);
    const lines = (await readFile(file, "utf8")).trimEnd().split("\n");
    assert.equal(lines.length, 2);
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    const { version } = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    assert.deepEqual(Object.keys(record), [
      "metric",
      "version",
      "started",
      "finished",
      "requests",
      "commits",
      "drops",
      "clients",
      "messages",
      "throughput",
      "duration",
      "counters",
      "run",
      "seq",
      "small",
    ]);
    assert.equal(record.metric, "server");
    assert.equal(record.version, version);
    assert.deepEqual([record.requests, record.commits, record.drops, record.clients], [1, 1, 0, 1]);
    assert.equal(record.seq, "18446744073709551615");
    assert.equal(record.small, 7);
    assert.equal(typeof record.throughput, "number");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a dump before any request has null times and zero rates", () => {
  const record = new Metrics().record();
  assert.deepEqual([record.started, record.finished, record.duration, record.throughput], [null, null, 0, 0]);
});
