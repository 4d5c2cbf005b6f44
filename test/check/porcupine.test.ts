// The readers of Porcupine's test histories (for npm run bench:check), on a
// few lines of each format, and the checker's verdict on what they give.
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkHistory } from "../../src/check/index.js";
import { fromJepsen, fromKv } from "./porcupine.js";

test("a Jepsen log: one register, info completions keep their invoke's value, other lines skipped", async () => {
  const log = [
    "INFO  jepsen.core - Worker 0 starting",
    "INFO  jepsen.util - 2\t:invoke\t:write\t4",
    "INFO  jepsen.util - 3\t:invoke\t:read\tnil",
    "INFO  jepsen.util - 2\t:ok\t:write\t4",
    "INFO  jepsen.util - 1\t:invoke\t:cas\t[4 0]",
    "INFO  jepsen.util - 3\t:ok\t:read\t4",
    "INFO  jepsen.util - 1\t:info\t:cas\t:timed-out",
    "INFO  jepsen.util - 0\t:invoke\t:read\tnil",
    "INFO  jepsen.util - 0\t:ok\t:read\t0",
  ].join("\n");
  const events = fromJepsen(log);
  assert.deepEqual(events.slice(3, 6), [
    { process: 1, type: "invoke", f: "cas", value: [4, 0] },
    { process: 3, type: "ok", f: "read", value: 4 },
    { process: 1, type: "info", f: "cas", value: [4, 0] },
  ]);
  // The read of 0 is explained by the info cas only.
  assert.equal((await checkHistory(events)).verdict, "linearizable");
  assert.equal((await checkHistory(fromJepsen(log.replace(":read\t0", ":read\t3")))).verdict, "not linearizable");
});

test("a kv history: get, put and append on string keys, each key starting as the empty string", async () => {
  const kv = [
    '{:process 0, :type :invoke, :f :get, :key "7", :value nil}',
    '{:process 0, :type :ok, :f :get, :key "7", :value ""}',
    '{:process 0, :type :invoke, :f :append, :key "7", :value "x 0 0 y"}',
    '{:process 0, :type :ok, :f :append, :key "7", :value "x 0 0 y"}',
    '{:process 1, :type :invoke, :f :put, :key "3", :value "x 1 0 y"}',
    '{:process 1, :type :ok, :f :put, :key "3", :value "x 1 0 y"}',
    '{:process 0, :type :invoke, :f :append, :key "7", :value "x 0 1 y"}',
    '{:process 0, :type :ok, :f :append, :key "7", :value "x 0 1 y"}',
    '{:process 0, :type :invoke, :f :get, :key "7", :value nil}',
    '{:process 0, :type :ok, :f :get, :key "7", :value "x 0 0 yx 0 1 y"}',
  ].join("\n");
  const events = fromKv(kv);
  assert.deepEqual(events.slice(0, 4), [
    { process: "start", type: "invoke", f: "write", key: "7", value: "" },
    { process: "start", type: "ok", f: "write", key: "7", value: "" },
    { process: "start", type: "invoke", f: "write", key: "3", value: "" },
    { process: "start", type: "ok", f: "write", key: "3", value: "" },
  ]);
  assert.deepEqual(events[8], { process: 1, type: "invoke", f: "write", key: "3", value: "x 1 0 y" });
  assert.equal((await checkHistory(events)).verdict, "linearizable");
  // A read that misses the last append, which completed before it: Porcupine's c01-bad.
  const bad = kv.replace('"x 0 0 yx 0 1 y"', '"x 0 0 y"');
  assert.equal((await checkHistory(fromKv(bad))).verdict, "not linearizable");
});
