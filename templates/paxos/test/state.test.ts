// The Multi-Paxos State, step by step, each driven on the virtual clock of a simulation:
// election, commits, redirects, a leader crash, a restart from the
// write-ahead log and catch-up, a minority that cannot commit.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryDisk } from "../src/disk.js";
import { Acceptor } from "../src/paxos/acceptor.js";
import type { Replica } from "../src/replica.js";
import { Simulation } from "../src/simulation/index.js";

/** The Paxos of replica `name` of `sim`. */
const paxos = (sim: Simulation, name: string) => (sim.replicas.get(name) as Replica).state.paxos;

/** Runs `sim` until one replica that is up leads; its name. */
async function leader(sim: Simulation, limit = 10_000): Promise<string> {
  const found = () => sim.up().find((name) => paxos(sim, name).leading);
  assert.ok(await sim.until(() => found() !== undefined, limit), "no leader was elected");
  return found()!;
}

test("one replica is elected; a write commits and a read returns it, through the log", async () => {
  const sim = new Simulation({ seed: 1 });
  await sim.start();
  const first = await leader(sim);
  const client = sim.client({ replica: first });
  assert.deepEqual(await client.write("x", 4), { type: "ok", value: 4, replica: first });
  assert.deepEqual(await client.read("x"), { type: "ok", value: 4, replica: first });
  assert.deepEqual(await client.read("y"), { type: "ok", value: null, replica: first });
  assert.equal(sim.up().filter((name) => paxos(sim, name).leading).length, 1);
  await sim.close();
});

test("a follower redirects to the leader, and the client follows", async () => {
  const sim = new Simulation({ seed: 2 });
  await sim.start();
  const first = await leader(sim);
  const follower = sim.names.find((name) => name !== first)!;
  const proposed = sim.replicas.get(follower)!.propose({ identity: "c", name: "x", value: Buffer.from("1") });
  const reply = await sim.clock.settle(proposed);
  assert.equal(reply.success, false);
  assert.equal(reply.redirect, first);
  const outcome = await sim.client({ replica: follower }).write("x", 1);
  assert.deepEqual(outcome, { type: "ok", value: 1, replica: first });
  await sim.close();
});

test("after the leader crashes another is elected, keeps what was committed, and commits", async () => {
  const sim = new Simulation({ seed: 3 });
  await sim.start();
  const first = await leader(sim);
  assert.equal((await sim.client({ replica: first }).write("x", 1)).type, "ok");
  sim.crash(first);
  const crashedAt = sim.clock.now();
  const second = await leader(sim);
  assert.notEqual(second, first);
  // Elected within a few election timeouts (500–1000 ms each).
  assert.ok(sim.clock.now() - crashedAt < 5000, `elected after ${sim.clock.now() - crashedAt} virtual ms`);
  const client = sim.client({ replica: second });
  assert.deepEqual(await client.read("x"), { type: "ok", value: 1, replica: second });
  assert.deepEqual(await client.write("x", 2), { type: "ok", value: 2, replica: second });
  await sim.close();
});

test("a replica restarted from its write-ahead log catches up on the slots it missed", async () => {
  const sim = new Simulation({ seed: 4 });
  await sim.start();
  const first = await leader(sim);
  const client = sim.client({ replica: first });
  for (let i = 1; i <= 5; i++) assert.equal((await client.write(`k${i}`, i)).type, "ok");
  const follower = sim.names.find((name) => name !== first)!;
  sim.crash(follower);
  for (let i = 6; i <= 10; i++) assert.equal((await client.write(`k${i}`, i)).type, "ok");
  await sim.restart(follower);
  const restarted = paxos(sim, follower);
  assert.ok(await sim.until(() => restarted.learner.applied === paxos(sim, first).learner.applied, 5000));
  assert.deepEqual([...restarted.learner.log()], [...paxos(sim, first).learner.log()]);
  assert.equal(restarted.learner.get("k10").toString(), "10");
  await sim.close();
});

test("a leader cut off in a minority commits nothing; the majority elects another and goes on", async () => {
  const sim = new Simulation({ seed: 5 });
  await sim.start();
  const first = await leader(sim);
  const others = sim.names.filter((name) => name !== first);
  sim.partition([first], others);
  const cut = await sim.client({ replica: first, timeout: 3000 }).write("x", 1);
  assert.equal(cut.type, "info", "a write committed in a minority");
  const second = await leader(sim);
  assert.ok(others.includes(second));
  assert.deepEqual(await sim.client({ replica: second }).read("x"), { type: "ok", value: null, replica: second });
  sim.heal();
  assert.ok(await sim.until(() => !paxos(sim, first).leading && paxos(sim, first).leaderName === second, 5000));
  await sim.close();
});

test("what an acceptor promised and accepted survives a crash: it is on disk before the answer", async () => {
  const disk = new MemoryDisk("r1");
  const { acceptor } = await Acceptor.open(disk);
  const command = { identity: "c", key: "x", value: Buffer.from("1"), id: 7n };
  assert.deepEqual(await acceptor.prepare(512, 0), { ok: true, ballot: 512, accepted: [], next: 0, compacted: 0 });
  assert.deepEqual(await acceptor.accept(0, 512, [command]), { ok: true, ballot: 512 });
  assert.deepEqual(await acceptor.prepare(768, 0), {
    ok: true,
    ballot: 768,
    accepted: [{ slot: 0n, ballot: 512n, commands: [command] }],
    next: 0,
    compacted: 0,
  });
  // A crash: the restarted acceptor reads the log back.
  const { acceptor: restarted, notice } = await Acceptor.open(disk.reopen());
  assert.equal(notice, undefined);
  assert.equal(restarted.promised, 768);
  assert.deepEqual(restarted.acceptedIn(0), { ballot: 512, commands: [command] });
  // So it still refuses what its promise rules out.
  assert.deepEqual(await restarted.accept(1, 512, []), { ok: false, ballot: 768 });
  assert.deepEqual(await restarted.prepare(513, 0), { ok: false, ballot: 768, accepted: [], next: 0, compacted: 0 });
});
