// The Beacon handler, through the in-memory network.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryNetwork } from "../../src/memory.js";
import { Replica } from "../../src/replica.js";

test("beacon answers with the replica's clock, RFC 3339 with nanoseconds", async () => {
  const network = new MemoryNetwork().add(new Replica({ name: "r1" }));
  const reply = await network
    .peers("test")
    .send("r1", { $case: "beacon", value: { timestamp: new Date().toISOString() } });
  assert.match(reply.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.ok(Math.abs(Date.parse(reply.timestamp) - Date.now()) < 60_000, "close to this machine's clock");
});
