// Metrics: the counters and the JSON line dump appends.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { Metrics } from "../src/metrics.js";

const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

test("counts requests, distinct clients, commits and drops", () => {
  const metrics = new Metrics();
  assert.deepEqual([metrics.duration(), metrics.throughput()], [0, 0]);
  metrics.request("c1");
  metrics.request("c2");
  metrics.request("c1");
  metrics.complete(true);
  metrics.complete(true);
  metrics.complete(false);
  const record = metrics.record();
  assert.equal(record.requests, 3);
  assert.equal(record.clients, 2);
  assert.equal(record.commits, 2);
  assert.equal(record.drops, 1);
  assert.ok(record.duration >= 0);
  assert.equal(record.throughput, record.duration > 0 ? 2 / record.duration : 0);
  assert.match(record.started!, RFC3339_NANO);
  assert.ok(record.finished! >= record.started!);
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
