// Interference, the attributes a new command gets, an acceptor's merge, and
// the deps' encoding (src/epaxos/instances.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type Command,
  Conflicts,
  decodeBatch,
  decodeDeps,
  encodeBatch,
  encodeDeps,
  interfere,
  type InstanceId,
  merge,
  NOOP,
} from "../src/epaxos/instances.js";

const write = (key: string, value: string): Command => ({ key, value: Buffer.from(value) });
const read = (key: string): Command => ({ key, value: Buffer.alloc(0) });
const id = (replica: number, instance: number): InstanceId => ({ replica, instance });

test("commands on one key interfere, but two reads do not; other keys never", () => {
  assert.equal(interfere(write("x", "1"), write("x", "2")), true);
  assert.equal(interfere(read("x"), write("x", "2")), true);
  assert.equal(interfere(write("x", "1"), read("x")), true);
  assert.equal(interfere(read("x"), read("x")), false);
  assert.equal(interfere(write("x", "1"), write("y", "1")), false);
});

test("a write depends on the key's writes and the reads since; a read on the writes only", () => {
  const conflicts = new Conflicts();
  assert.deepEqual(conflicts.attributes(id(0, 0), [write("x", "1")]), { seq: 1, deps: [] });
  conflicts.add(id(0, 0), [write("x", "1")], 1);
  conflicts.add(id(1, 0), [read("x")], 2);
  conflicts.add(id(2, 0), [read("x")], 2);
  conflicts.add(id(2, 1), [write("y", "1")], 7);
  // A read: the write, not the reads, nor the other key.
  assert.deepEqual(conflicts.attributes(id(1, 1), [read("x")]), { seq: 2, deps: [id(0, 0)] });
  // A write: the write and both reads, seq above all of them.
  assert.deepEqual(conflicts.attributes(id(1, 1), [write("x", "2")]), {
    seq: 3,
    deps: [id(0, 0), id(1, 0), id(2, 0)],
  });
  // An instance never depends on itself.
  assert.deepEqual(conflicts.attributes(id(0, 0), [write("x", "1")]).deps, [id(1, 0), id(2, 0)]);
});

test("a committed write covers its deps: later commands depend on it instead, so the lists stay small", () => {
  const conflicts = new Conflicts();
  const x = write("x", "v");
  for (let i = 0; i < 1000; i++) {
    const attributes = conflicts.attributes(id(0, i), [x]);
    assert.ok(attributes.deps.length <= 1, `instance ${i} depends on ${attributes.deps.length}`);
    assert.equal(attributes.seq, i + 1);
    conflicts.add(id(0, i), [x], attributes.seq);
    conflicts.committed([x], attributes.deps);
  }
  assert.equal(conflicts.listed("x"), 1);
  // A committed read covers nothing: a later read would lose the write it follows.
  conflicts.add(id(1, 0), [read("x")], 1001);
  conflicts.committed([read("x")], [id(0, 999)]);
  assert.deepEqual(conflicts.attributes(id(1, 1), [read("x")]).deps, [id(0, 999)]);
  // An uncommitted write covers nothing either.
  conflicts.add(id(2, 0), [write("x", "w")], 1002);
  assert.deepEqual(conflicts.attributes(id(1, 1), [read("x")]).deps, [id(0, 999), id(2, 0)]);
});

test("seq is above every interfering instance seen, also those a committed write covered", () => {
  const conflicts = new Conflicts();
  conflicts.add(id(0, 0), [write("x", "1")], 9);
  conflicts.add(id(1, 0), [write("x", "2")], 3);
  conflicts.committed([write("x", "2")], [id(0, 0)]);
  assert.deepEqual(conflicts.attributes(id(2, 0), [read("x")]), { seq: 10, deps: [id(1, 0)] });
});

test("a batch's attributes are over all its commands: the deps of each, united, and seq above them all", () => {
  const conflicts = new Conflicts();
  conflicts.add(id(0, 0), [write("x", "1")], 4);
  conflicts.add(id(1, 0), [read("y")], 9);
  conflicts.add(id(2, 0), [write("z", "1"), read("x")], 2);
  // A read of x and a write of y: x's write, y's read; not z, nor x's read.
  assert.deepEqual(conflicts.attributes(id(1, 1), [read("x"), write("y", "2")]), {
    seq: 10,
    deps: [id(0, 0), id(1, 0)],
  });
  // A write in a committed batch covers its deps on its own key only: y's read stays listed for y.
  conflicts.add(id(1, 1), [read("x"), write("y", "2")], 10);
  conflicts.committed([read("x"), write("y", "2")], [id(0, 0), id(1, 0)]);
  assert.deepEqual(conflicts.attributes(id(0, 1), [write("y", "3")]).deps, [id(1, 1)]);
  assert.deepEqual(conflicts.attributes(id(0, 1), [read("x")]).deps, [id(0, 0)]);
});

test("a batch goes on the wire as the original's name and value when it holds one command, in commands when more", () => {
  const one = encodeBatch([write("x", "1")]);
  assert.deepEqual([one.name, Buffer.from(one.value).toString(), one.commands, one.noop], ["x", "1", [], false]);
  const two = encodeBatch([write("x", "1"), read("y")]);
  assert.deepEqual([two.name, two.value.length, two.commands.length, two.noop], ["", 0, 2, false]);
  const none = encodeBatch(NOOP);
  assert.deepEqual([none.name, none.commands, none.noop], ["", [], true]);
  for (const batch of [[write("x", "1")], [write("x", "1"), read("y"), write("", "")], [read("")], NOOP]) {
    assert.deepEqual(
      decodeBatch(encodeBatch(batch)).map(({ key, value }) => [key, Buffer.from(value).toString()]),
      batch.map(({ key, value }) => [key, Buffer.from(value).toString()]),
    );
  }
});

test("merge unites deps and takes the higher seq, saying whether the leader's attributes changed", () => {
  const leader = { seq: 4, deps: [id(0, 1), id(2, 3)] };
  assert.deepEqual(merge(leader, { seq: 2, deps: [id(0, 1)] }), { ...leader, changed: false });
  assert.deepEqual(merge(leader, { seq: 5, deps: [] }), { seq: 5, deps: leader.deps, changed: true });
  assert.deepEqual(merge(leader, { seq: 1, deps: [id(1, 0), id(2, 3), id(2, 4)] }), {
    seq: 4,
    deps: [id(0, 1), id(1, 0), id(2, 3), id(2, 4)],
    changed: true,
  });
  assert.deepEqual(merge({ seq: 1, deps: [] }, { seq: 1, deps: [] }), { seq: 1, deps: [], changed: false });
});

test("deps go on the wire as Dependencies and come back sorted, empty as no bytes", () => {
  const deps = [id(0, 5), id(3, 0), id(3, 2 ** 31 - 1)];
  assert.deepEqual(decodeDeps(encodeDeps(deps)), deps);
  assert.equal(encodeDeps([]).length, 0);
  assert.deepEqual(decodeDeps(new Uint8Array()), []);
  assert.deepEqual(decodeDeps(encodeDeps([id(3, 0), id(0, 5)])), [id(0, 5), id(3, 0)]);
});
