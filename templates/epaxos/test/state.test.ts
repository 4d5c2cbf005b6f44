// The ePaxos State, step by step, each driven on the virtual clock of a
// simulation: commits on the fast and the slow path at any replica, the
// execution order every replica agrees on, what an acceptor logs before it
// answers, a restart from the write-ahead log, and a minority that cannot commit.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { MemoryDisk } from "../src/disk.js";
import { encodeDeps, NOOP } from "../src/epaxos/instances.js";
import { Status } from "../src/pb/epaxos.js";
import { Replica } from "../src/replica.js";
import { Simulation } from "../src/simulation/index.js";

/** The EPaxos of replica `name` of `sim`. */
const epaxos = (sim: Simulation, name: string) => (sim.replicas.get(name) as Replica).state.epaxos;

/** The commits replica `name` of `sim` led, by path, as its metrics count them. */
const paths = (sim: Simulation, name: string) => {
  const { counters } = sim.replicas.get(name)!.metrics;
  return { fast: counters.get("path.fast") ?? 0, slow: counters.get("path.slow") ?? 0 };
};

test("any replica leads its client's command: a write commits on the fast path, and every replica executes it", async () => {
  const sim = new Simulation({ seed: 1 });
  await sim.start();
  assert.deepEqual(await sim.client({ replica: "r2" }).write("x", 4), { type: "ok", value: 4, replica: "r2" });
  assert.deepEqual(await sim.client({ replica: "r3" }).read("x"), { type: "ok", value: 4, replica: "r3" });
  assert.deepEqual(await sim.client({ replica: "r1" }).read("y"), { type: "ok", value: null, replica: "r1" });
  assert.deepEqual(paths(sim, "r2"), { fast: 1, slow: 0 });
  // The Commit reaches the replica that only pre-accepted, or never heard of it.
  assert.ok(await sim.until(() => sim.names.every((name) => epaxos(sim, name).get("x").toString() === "4"), 1000));
  await sim.close();
});

test("the reply says the command's seq, this replica's index and name, and the value", async () => {
  const sim = new Simulation({ seed: 2 });
  await sim.start();
  const propose = (name: string, value: string) =>
    sim.clock.settle(sim.replicas.get(name)!.propose({ identity: "c", name: "k", value: Buffer.from(value) }));
  const first = await propose("r3", "a");
  assert.deepEqual(
    { ...first, value: first.value.toString() },
    {
      success: true,
      redirect: "",
      error: "",
      seq: 1n,
      leader: 2,
      name: "k",
      value: "a",
    },
  );
  const read = await propose("r1", "");
  assert.equal(read.success, true);
  assert.equal(read.seq, 2n, "after the write it depends on");
  assert.equal(read.leader, 0);
  assert.equal(read.value.toString(), "a");
  await sim.close();
});

test("commands proposed in one turn go into one instance, in order, and each client hears the value after its own", async () => {
  const sim = new Simulation({ seed: 12 });
  await sim.start();
  const r1 = sim.replicas.get("r1")!;
  const values = ["1", "", "2", ""];
  const replies = await sim.clock.settle(
    Promise.all(values.map((value) => r1.propose({ identity: "c", name: "x", value: Buffer.from(value) }))),
  );
  assert.deepEqual(
    replies.map(({ success, value, seq }) => [success, value.toString(), seq]),
    [
      [true, "1", 1n],
      [true, "1", 1n],
      [true, "2", 1n],
      [true, "2", 1n],
    ],
  );
  assert.deepEqual(paths(sim, "r1"), { fast: 1, slow: 0 });
  const instance = epaxos(sim, "r1").instance({ replica: 0, instance: 0 })!;
  assert.deepEqual(
    instance.commands.map(({ key, value }) => `${key}=${Buffer.from(value)}`),
    ["x=1", "x=", "x=2", "x="],
  );
  assert.ok(await sim.until(() => sim.names.every((name) => epaxos(sim, name).get("x").toString() === "2"), 1000));
  await sim.close();
});

test("a batch holds 100 commands at most, and a command leader has 4 instances in flight at most", async () => {
  const sim = new Simulation({ seed: 13 });
  await sim.start();
  const r2 = sim.replicas.get("r2")!;
  const propose = (i: number) => r2.propose({ identity: "c", name: `k${i}`, value: Buffer.from(String(i)) });
  const proposed = Promise.all(Array.from({ length: 450 }, (_, i) => propose(i)));
  const opened = (instance: number) => epaxos(sim, "r2").instance({ replica: 1, instance }) !== undefined;
  // The first four open at once, 100 commands each; the fifth waits for room, until one of them commits.
  assert.ok(await sim.until(() => opened(3), 100));
  assert.equal(opened(4), false);
  const replies = await sim.clock.settle(proposed);
  assert.ok(replies.every(({ success }) => success));
  const sizes = Array.from({ length: 6 }, (_, instance) => epaxos(sim, "r2").instance({ replica: 1, instance }));
  assert.deepEqual(
    sizes.map((instance) => instance?.commands.length),
    [100, 100, 100, 100, 50, undefined],
  );
  await sim.close();
});

test("writes proposed at once at different replicas conflict: some take the slow path, all execute in one order", async () => {
  const sim = new Simulation({ seed: 3, replicas: 5 });
  await sim.start();
  const clients = sim.names.map((name) => sim.client({ replica: name }));
  const outcomes = await Promise.all(clients.map((client, i) => client.write("x", i + 1)));
  assert.ok(outcomes.every((outcome) => outcome.type === "ok"));
  const led = sim.names.map((name) => paths(sim, name));
  assert.equal(
    led.reduce((sum, { fast, slow }) => sum + fast + slow, 0),
    5,
  );
  assert.ok(
    led.some(({ slow }) => slow > 0),
    `paths: ${JSON.stringify(led)}`,
  );
  // Every replica ends with the value of the write it executed last: the same one.
  assert.ok(
    await sim.until(() => new Set(sim.names.map((name) => epaxos(sim, name).get("x").toString())).size === 1, 2000),
  );
  const last = epaxos(sim, "r1").get("x").toString();
  assert.deepEqual(await sim.client({ replica: "r4" }).read("x"), { type: "ok", value: Number(last), replica: "r4" });
  await sim.close();
});

test("an acceptor's PreAccept is synced to its log before it answers: a power loss right after keeps it", async () => {
  const sim = new Simulation({ seed: 6 });
  await sim.start();
  const request = {
    leaderId: 0,
    replica: 0,
    instance: 7,
    ballot: 0n,
    name: "x",
    value: Buffer.from("1"),
    seq: 3n,
    deps: Buffer.from(encodeDeps([{ replica: 2, instance: 1 }])),
    commands: [],
    progress: undefined,
  };
  const reply = await sim.clock.settle(epaxos(sim, "r2").preAccept(request));
  assert.equal(reply.ok, true);
  assert.equal(reply.seq, 3n);
  assert.deepEqual(reply.deps, request.deps, "nothing known here changes the leader's attributes");
  assert.equal((sim.replicas.get("r2")!.disk as MemoryDisk).unsynced, 0, "answered before its log was synced");
  sim.powerLoss("r2");
  await sim.restart("r2");
  const instance = epaxos(sim, "r2").instance({ replica: 0, instance: 7 });
  // Unchanged at ballot 0: what recovery reads as a possible fast-path commit.
  assert.equal(instance?.status, Status.PREACCEPTED_EQ);
  assert.equal(instance?.seq, 3);
  assert.deepEqual(instance?.deps, [{ replica: 2, instance: 1 }]);
  await sim.close();
});

test("a command leader's commit is synced before its client hears: a power loss right after keeps it", async () => {
  const sim = new Simulation({ seed: 10 });
  await sim.start();
  const replica = sim.replicas.get("r1")!;
  const reply = await sim.clock.settle(replica.propose({ identity: "c", name: "x", value: Buffer.from("1") }));
  assert.equal(reply.success, true);
  assert.equal((replica.disk as MemoryDisk).unsynced, 0, "answered before its commit was synced");
  sim.powerLoss("r1");
  await sim.restart("r1");
  // Its own vote says only PREACCEPTED, and the PREACCEPTED_EQ that made the fast path may be out of reach.
  assert.equal(epaxos(sim, "r1").instance({ replica: 0, instance: 0 })?.status, Status.EXECUTED);
  assert.equal(epaxos(sim, "r1").get("x").toString(), "1");
  await sim.close();
});

test("a restarted replica recovers its committed instances from the log and executes them again", async () => {
  const sim = new Simulation({ seed: 4 });
  await sim.start();
  const client = sim.client({ replica: "r1" });
  for (const value of [1, 2, 3]) assert.equal((await client.write("x", value)).type, "ok");
  assert.equal((await client.write("y", 9)).type, "ok");
  sim.crash("r1");
  await sim.restart("r1");
  assert.equal(epaxos(sim, "r1").get("x").toString(), "3");
  assert.equal(epaxos(sim, "r1").get("y").toString(), "9");
  // It numbers new instances after the ones it logged, and commits them.
  assert.deepEqual(await client.write("x", 4), { type: "ok", value: 4, replica: "r1" });
  assert.equal(epaxos(sim, "r1").instance({ replica: 0, instance: 4 })?.status, Status.EXECUTED);
  await sim.close();
});

test("a replica cut off from the others commits nothing until the partition heals", async () => {
  const sim = new Simulation({ seed: 5 });
  await sim.start();
  sim.partition(["r1"], ["r2", "r3"]);
  const proposed = sim.replicas.get("r1")!.propose({ identity: "c", name: "x", value: Buffer.from("1") });
  let answered = false;
  void proposed.then(() => (answered = true));
  await sim.advance(5000);
  assert.equal(answered, false);
  sim.heal();
  const reply = await sim.clock.settle(proposed);
  assert.equal(reply.success, true);
  assert.equal(reply.value.toString(), "1");
  await sim.close();
});

/** A PreAccept at ballot 0 from r1 (index 0), the command leader of `instance`, writing `value` to `key`. */
const preAcceptFromR1 = (instance: number, key: string, value: string, seq: number) => ({
  leaderId: 0,
  replica: 0,
  instance,
  ballot: 0n,
  name: key,
  value: Buffer.from(value),
  seq: BigInt(seq),
  deps: Buffer.from(encodeDeps([])),
  commands: [],
  progress: undefined,
});

test("recovery keeps what a fast path may have committed: a peer's unchanged PreAccept brings back the leader's attributes", async () => {
  const sim = new Simulation({ seed: 8 });
  await sim.start();
  sim.crash("r1");
  // r3 pre-accepts a write of x first, so anything PreAccepted there again would depend on it.
  await sim.clock.settle(epaxos(sim, "r3").preAccept(preAcceptFromR1(8, "x", "8", 1)));
  // r2 pre-accepts another unchanged: with r1 that is a fast quorum, so r1 may have committed it and answered.
  const reply = await sim.clock.settle(epaxos(sim, "r2").preAccept(preAcceptFromR1(7, "x", "7", 1)));
  assert.equal(epaxos(sim, "r2").instance({ replica: 0, instance: 7 })?.status, Status.PREACCEPTED_EQ);
  assert.deepEqual(reply.deps, Buffer.from(encodeDeps([])));
  // Nobody hears from r1 again: r2 or r3 recovers it, after its randomized wait.
  const committed = (name: string) =>
    (epaxos(sim, name).instance({ replica: 0, instance: 7 })?.status ?? Status.NONE) >= Status.COMMITTED;
  assert.ok(await sim.until(() => committed("r2") && committed("r3"), 10_000));
  for (const name of ["r2", "r3"]) {
    const instance = epaxos(sim, name).instance({ replica: 0, instance: 7 })!;
    assert.deepEqual(
      { seq: instance.seq, deps: instance.deps, value: Buffer.from(instance.commands[0]!.value).toString() },
      { seq: 1, deps: [], value: "7" },
      `${name} committed the attributes r1 proposed`,
    );
  }
  await sim.close();
});

test("an instance nobody knows, that a committed one depends on, is recovered as a no-op: the dependent executes", async () => {
  const sim = new Simulation({ seed: 9 });
  await sim.start();
  sim.crash("r1");
  const unknown = { replica: 0, instance: 9 };
  await sim.clock.settle(
    epaxos(sim, "r2").commit({
      leaderId: 0,
      replica: 0,
      instance: 3,
      name: "y",
      value: Buffer.from("3"),
      seq: 2n,
      deps: Buffer.from(encodeDeps([unknown])),
      noop: false,
      commands: [],
      progress: undefined,
    }),
  );
  assert.equal(epaxos(sim, "r2").get("y").toString(), "", "it waits for 0.9");
  assert.ok(await sim.until(() => epaxos(sim, "r2").get("y").toString() === "3", 10_000));
  for (const name of ["r2", "r3"]) {
    assert.ok(await sim.until(() => epaxos(sim, name).instance(unknown)?.status === Status.EXECUTED, 10_000));
    assert.deepEqual(epaxos(sim, name).instance(unknown)?.commands, NOOP);
  }
  // The no-op ran as nothing: a read sees only the write.
  assert.deepEqual(await sim.client({ replica: "r2" }).read("y"), { type: "ok", value: 3, replica: "r2" });
  await sim.close();
});

test("a command leader restarted with its instance open recovers it and commits its command", async () => {
  const sim = new Simulation({ seed: 10 });
  await sim.start();
  sim.partition(["r1"], ["r2", "r3"]);
  const proposed = sim.replicas.get("r1")!.propose({ identity: "c", name: "x", value: Buffer.from("1") });
  void proposed.catch(() => undefined);
  await sim.advance(100);
  sim.crash("r1");
  sim.heal();
  await sim.restart("r1");
  const id = { replica: 0, instance: 0 };
  assert.ok(
    await sim.until(
      () => sim.names.every((name) => epaxos(sim, name).instance(id)?.status === Status.EXECUTED),
      10_000,
    ),
  );
  for (const name of sim.names) assert.equal(epaxos(sim, name).get("x").toString(), "1");
  await sim.close();
});

test("recovery goes by the ballot a replica voted at, not the one it promised since", async () => {
  const sim = new Simulation({ seed: 11 });
  await sim.start();
  // r3 led 2.5 and is gone; two recoveries of it ran before, r2's at ballot 257, then r3's own at 258.
  sim.crash("r3");
  const accept = (ballot: bigint, seq: bigint) => ({
    leaderId: 1,
    replica: 2,
    instance: 5,
    ballot,
    count: 0n,
    seq,
    deps: Buffer.from(encodeDeps([])),
    name: "x",
    value: Buffer.from("5"),
    noop: false,
    commands: [],
  });
  // r2 accepted seq 1 at 257; r1 (and r3, so a majority: chosen) accepted seq 4 at 258.
  assert.equal((await sim.clock.settle(epaxos(sim, "r2").accept(accept(257n, 1n)))).ok, true);
  assert.equal((await sim.clock.settle(epaxos(sim, "r1").accept(accept(258n, 4n)))).ok, true);
  // Then r2 promised 513 (a Prepare of its own that went no further): its vote is still the one of 257.
  const prepare = { leaderId: 1, replica: 2, instance: 5, ballot: 513n };
  const promised = await sim.clock.settle(epaxos(sim, "r2").prepare(prepare));
  assert.deepEqual([promised.ok, promised.vbal, promised.seq], [true, 257n, 1n]);
  const id = { replica: 2, instance: 5 };
  assert.ok(
    await sim.until(
      () => ["r1", "r2"].every((name) => (epaxos(sim, name).instance(id)?.status ?? 0) >= Status.COMMITTED),
      10_000,
    ),
  );
  for (const name of ["r1", "r2"]) assert.equal(epaxos(sim, name).instance(id)?.seq, 4, `${name} committed seq 4`);
  await sim.close();
});
