// Recovery's rules (src/epaxos/recovery.ts), by hand: what a recoverer does
// with a majority's answers to its Prepare, and the ballots it runs at.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NOOP } from "../src/epaxos/instances.js";
import { MAX_REPLICAS, nextBallot, plan, type Vote } from "../src/epaxos/recovery.js";
import { Status } from "../src/pb/epaxos.js";

const write = { key: "x", value: Buffer.from("1") };
/** The command leader's attributes, and others an acceptor gave it. */
const original = { seq: 2, deps: [{ replica: 1, instance: 4 }] };
const merged = {
  seq: 5,
  deps: [
    { replica: 1, instance: 4 },
    { replica: 2, instance: 9 },
  ],
};

const vote = (from: number, status: Status, vbal = 0, attributes = original): Vote => ({
  from,
  status,
  vbal,
  commands: status === Status.NONE ? undefined : [write],
  ...attributes,
});

test("a commit anywhere wins, whatever the others voted", () => {
  const votes = [vote(1, Status.ACCEPTED, 300, merged), vote(2, Status.COMMITTED, 0, original)];
  assert.deepEqual(plan(votes, 0, 2), { step: "commit", commands: [write], attributes: original });
});

test("otherwise the attributes accepted at the highest vbal are accepted again", () => {
  const votes = [vote(1, Status.ACCEPTED, 256, original), vote(2, Status.ACCEPTED, 514, merged), vote(3, Status.NONE)];
  assert.deepEqual(plan(votes, 0, 3), { step: "accept", commands: [write], attributes: merged });
  // An accept outranks the fast path's evidence: it was voted at a later ballot than 0.
  const mixed = [vote(1, Status.PREACCEPTED_EQ), vote(2, Status.ACCEPTED, 0, merged)];
  assert.deepEqual(plan(mixed, 0, 2), { step: "accept", commands: [write], attributes: merged });
});

test("slow - 1 unchanged PreAccepts at ballot 0 from replicas other than the leader: the leader's attributes are accepted", () => {
  // N = 3: one is enough (with the leader, a majority saw the command first).
  assert.deepEqual(plan([vote(1, Status.PREACCEPTED_EQ), vote(2, Status.NONE)], 0, 2), {
    step: "accept",
    commands: [write],
    attributes: original,
  });
  // N = 5: two are needed; one is not a fast-path commit, and its attributes may miss a committed conflict.
  const two = [vote(1, Status.PREACCEPTED_EQ), vote(2, Status.PREACCEPTED_EQ), vote(3, Status.PREACCEPTED, 0, merged)];
  assert.deepEqual(plan(two, 0, 3), { step: "accept", commands: [write], attributes: original });
  const one = [vote(1, Status.PREACCEPTED_EQ), vote(2, Status.PREACCEPTED, 0, merged), vote(3, Status.NONE)];
  assert.equal(plan(one, 0, 3).step, "preAccept");
});

test("the command leader's own PreAccept is no evidence of a fast path, nor is an unchanged one at a later ballot", () => {
  const leader = [vote(0, Status.PREACCEPTED_EQ), vote(1, Status.NONE)];
  assert.equal(plan(leader, 0, 2).step, "preAccept");
  const later = [vote(1, Status.PREACCEPTED_EQ, 256), vote(2, Status.NONE)];
  assert.equal(plan(later, 0, 2).step, "preAccept");
});

test("pre-accepted only: PreAccept again, from the union of the attributes the replicas gave it", () => {
  const votes = [vote(0, Status.PREACCEPTED, 0, original), vote(2, Status.PREACCEPTED, 256, merged)];
  assert.deepEqual(plan(votes, 0, 2), { step: "preAccept", commands: [write], attributes: merged });
});

test("nobody knows the command: a no-op, which interferes with nothing", () => {
  assert.deepEqual(plan([vote(1, Status.NONE), vote(2, Status.NONE)], 0, 2), { step: "noop" });
  assert.deepEqual(NOOP, []);
});

test("ballots: above any seen, owned by one replica, never the command leader's 0", () => {
  assert.equal(nextBallot(0, 0), MAX_REPLICAS);
  assert.equal(nextBallot(0, 2), MAX_REPLICAS + 2);
  assert.equal(nextBallot(MAX_REPLICAS + 2, 1), 2 * MAX_REPLICAS + 1);
  for (const [above, index] of [
    [0, 0],
    [257, 3],
    [1000, 4],
  ] as const) {
    const ballot = nextBallot(above, index);
    assert.ok(ballot > above && ballot % MAX_REPLICAS === index);
  }
});
