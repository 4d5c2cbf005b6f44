// ePaxos's quorum sizes (src/epaxos/quorum.ts), worked out by hand from N = 2F + 1.
import assert from "node:assert/strict";
import { test } from "node:test";
import { quorums } from "../src/epaxos/quorum.js";

test("slow quorum F + 1 and fast quorum 2F, the leader counted in both", () => {
  assert.deepEqual(quorums(3), { replicas: 3, failures: 1, slow: 2, fast: 2 });
  assert.deepEqual(quorums(5), { replicas: 5, failures: 2, slow: 3, fast: 4 });
  assert.deepEqual(quorums(7), { replicas: 7, failures: 3, slow: 4, fast: 6 });
  assert.deepEqual(quorums(9), { replicas: 9, failures: 4, slow: 5, fast: 8 });
});

test("one replica is every quorum; an even number tolerates what one fewer does, with majorities", () => {
  assert.deepEqual(quorums(1), { replicas: 1, failures: 0, slow: 1, fast: 1 });
  assert.deepEqual(quorums(2), { replicas: 2, failures: 0, slow: 2, fast: 2 });
  assert.deepEqual(quorums(4), { replicas: 4, failures: 1, slow: 3, fast: 3 });
  assert.deepEqual(quorums(6), { replicas: 6, failures: 2, slow: 4, fast: 5 });
});

test("no replicas, or a fraction of one, is refused", () => {
  for (const n of [0, -1, 1.5, NaN]) assert.throws(() => quorums(n), /a whole number of replicas/);
});
