// The order of execution (src/epaxos/execution.ts) on hand-made committed graphs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Executed, Executor } from "../src/epaxos/execution.js";
import { compareIds, idKey, idText, type Instance, type InstanceId } from "../src/epaxos/instances.js";
import { Status } from "../src/pb/epaxos.js";

const id = (replica: number, instance: number): InstanceId => ({ replica, instance });

/** A graph of instances, all committed unless said, and an executor over it that writes down what it runs. */
function graph() {
  const instances = new Map<number, Instance>();
  const ran: string[] = [];
  const executor = new Executor(
    (at) => instances.get(idKey(at)),
    (at) => ran.push(idText(at)),
  );
  const add = (at: InstanceId, seq: number, deps: InstanceId[], status = Status.COMMITTED) => {
    const instance = {
      commands: [{ key: "x", value: Buffer.from("v") }],
      seq,
      deps: [...deps].sort(compareIds),
      status,
      ballot: 0,
      vbal: 0,
    };
    instances.set(idKey(at), instance);
    return instance;
  };
  return { executor, add, ran };
}

test("a chain runs from its end; an instance runs once", () => {
  const { executor, add, ran } = graph();
  add(id(0, 0), 1, []);
  add(id(1, 0), 2, [id(0, 0)]);
  add(id(2, 0), 3, [id(1, 0)]);
  assert.equal(executor.execute(id(2, 0)), undefined);
  assert.deepEqual(ran, ["0.0", "1.0", "2.0"]);
  assert.equal(executor.execute(id(1, 0)), undefined);
  assert.deepEqual(ran, ["0.0", "1.0", "2.0"]);
});

test("a cycle runs by seq, then by replica, then by instance, whichever member starts it", () => {
  for (const start of [id(0, 0), id(1, 0), id(2, 0), id(2, 1)]) {
    const { executor, add, ran } = graph();
    add(id(0, 0), 5, [id(1, 0)]);
    add(id(1, 0), 4, [id(2, 0)]);
    add(id(2, 0), 5, [id(2, 1)]);
    add(id(2, 1), 5, [id(0, 0)]);
    assert.equal(executor.execute(start), undefined);
    assert.deepEqual(ran, ["1.0", "0.0", "2.0", "2.1"], `from ${idText(start)}`);
  }
});

test("components run in inverse topological order: what a cycle depends on first", () => {
  const { executor, add, ran } = graph();
  add(id(0, 0), 1, [id(1, 0)]);
  add(id(1, 0), 1, [id(0, 0), id(2, 0)]); // the cycle {0.0, 1.0} depends on 2.0 ...
  add(id(2, 0), 9, [id(2, 1)]); // ... which depends on 2.1, whatever their seqs
  add(id(2, 1), 10, []);
  assert.equal(executor.execute(id(0, 0)), undefined);
  assert.deepEqual(ran, ["2.1", "2.0", "0.0", "1.0"]);
});

test("an instance that reaches an uncommitted one waits for it, then runs", () => {
  const { executor, add, ran } = graph();
  add(id(0, 0), 1, []);
  const pending = add(id(1, 0), 2, [id(0, 0)], Status.PREACCEPTED);
  add(id(2, 0), 3, [id(1, 0), id(0, 0)]);
  assert.deepEqual(executor.execute(id(2, 0)), id(1, 0));
  // What did not reach the uncommitted one could run.
  assert.deepEqual(ran, ["0.0"]);
  pending.status = Status.COMMITTED;
  assert.equal(executor.execute(id(2, 0)), undefined);
  assert.deepEqual(ran, ["0.0", "1.0", "2.0"]);
  // One unknown here waits the same way.
  add(id(0, 1), 4, [id(1, 7)]);
  assert.deepEqual(executor.execute(id(0, 1)), id(1, 7));
  assert.deepEqual(executor.execute(id(1, 7)), id(1, 7));
});

test("a chain of 100,000 instances runs without running out of stack", () => {
  const { executor, add, ran } = graph();
  const length = 100_000;
  for (let i = 0; i < length; i++) add(id(i % 3, i), i + 1, i === 0 ? [] : [id((i - 1) % 3, i - 1)]);
  // And a cycle as long: each depends on the next, the last on the first.
  for (let i = 0; i < length; i++) add(id(5, i), 1, [id(5, (i + 1) % length)]);
  assert.equal(executor.execute(id((length - 1) % 3, length - 1)), undefined);
  assert.equal(ran.length, length);
  assert.equal(ran[0], "0.0");
  assert.equal(ran.at(-1), `${(length - 1) % 3}.${length - 1}`);
  assert.equal(executor.execute(id(5, 77)), undefined);
  assert.equal(ran.length, 2 * length);
  assert.equal(ran[length], "5.0");
  assert.equal(ran.at(-1), `5.${length - 1}`);
});

test("executed instances are held as a watermark per replica and the few above it", () => {
  const executed = new Executed();
  for (const i of [0, 1, 3, 4]) executed.add(id(0, i));
  executed.add(id(1, 2));
  assert.equal(executed.held, 3);
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((i) => executed.has(id(0, i))),
    [true, true, false, true, true, false],
  );
  assert.equal(executed.has(id(1, 2)), true);
  assert.equal(executed.has(id(1, 0)), false);
  executed.add(id(0, 2));
  assert.equal(executed.held, 1);
  assert.equal(executed.has(id(0, 4)), true);
  for (let i = 0; i < 10_000; i++) executed.add(id(2, i));
  assert.equal(executed.held, 1);
});
