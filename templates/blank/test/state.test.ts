// Propose through a Replica: it counts the client, and this template's State
// answers "not implemented" (as the original) until a protocol replaces it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Replica } from "../src/replica.js";

test("Propose records the client and answers not implemented", async () => {
  const replica = new Replica({ name: "r1" });
  assert.deepEqual(await replica.start(), []);
  const reply = await replica.propose({ identity: "c9", name: "put", value: Buffer.from("v") });
  assert.equal(reply.success, false);
  assert.equal(reply.error, "not implemented");
  assert.equal(replica.metrics.requests, 1);
  assert.deepEqual([...replica.metrics.clients.keys()], ["c9"]);
  await replica.close();
});
