// Snapshots and log compaction, on the virtual clock of a simulation: a
// replica crashed (or its power cut) at each step of a compaction recovers
// from what its folder holds, starts from its snapshot rather than slot 0,
// and catches up; a replica far behind catches up from a snapshot; the
// memory the logs take stays bounded however many slots are chosen.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryDisk } from "../src/disk.js";
import { Acceptor, PREPARE_SLOTS } from "../src/paxos/acceptor.js";
import type { Replica } from "../src/replica.js";
import { Simulation } from "../src/simulation/index.js";

/** Bytes of log between snapshots: a few slots of one small write each. */
const SNAPSHOT_EVERY = 600;

const paxos = (sim: Simulation, name: string) => (sim.replicas.get(name) as Replica).state.paxos;
const acceptorOf = (sim: Simulation, name: string) => paxos(sim, name)["acceptor"]!;

async function leader(sim: Simulation): Promise<string> {
  const found = () => sim.up().find((name) => paxos(sim, name).leading);
  assert.ok(await sim.until(() => found() !== undefined, 10_000), "no leader was elected");
  return found()!;
}

/** Writes k0…k4 with values from `from` on, through `replica`, until `done` (or 200 writes). */
async function writeUntil(sim: Simulation, replica: string, from: number, done: () => boolean): Promise<number> {
  const client = sim.client({ replica });
  let n = from;
  for (; !done() && n < from + 200; n++) assert.equal((await client.write(`k${n % 5}`, n)).type, "ok");
  assert.ok(done(), `still not done after ${n - from} writes`);
  return n;
}

/** The steps of a compaction, each a point where the replica dies: when its disk is asked to replace `file`. */
const STEPS = [
  { step: "the snapshot written, not yet durable", file: "snapshot", when: "after" },
  { step: "the snapshot durable, the log not yet rewritten", file: "wal", when: "before" },
  { step: "the log rewritten, not yet durable", file: "wal", when: "after" },
  { step: "the compaction done", file: "wal", when: "durable" },
] as const;

for (const { step, file, when } of STEPS) {
  for (const how of ["crash", "power loss"] as const) {
    test(`a ${how} with ${step} leaves a folder the replica recovers from, and it catches up`, async () => {
      const sim = new Simulation({ seed: 11, disk: { snapshotEvery: SNAPSHOT_EVERY } });
      await sim.start();
      const first = await leader(sim);
      const follower = sim.names.find((name) => name !== first)!;
      const disk = (sim.replicas.get(follower) as Replica).disk as MemoryDisk;
      const before = acceptorOf(sim, follower);
      let died = false;
      /** What the snapshot being written covers: a restart from it starts there. */
      let covered = 0;
      const die = () => {
        if (died) return;
        died = true;
        if (how === "crash") sim.crash(follower);
        else sim.powerLoss(follower);
      };
      const replace = disk.replace.bind(disk);
      disk.replace = (name, data) => {
        if (name === "snapshot") covered = paxos(sim, follower).learner.applied;
        if (name !== file || died) return replace(name, data);
        if (when === "before") die();
        const replaced = replace(name, data);
        if (when === "after") die();
        else replaced.then(die, () => undefined);
        return replaced;
      };
      const n = await writeUntil(sim, first, 0, () => died);
      const promised = before.promised;
      const accepted = new Map<number, number>();
      for (let slot = before.compacted; slot < 1000; slot++) {
        const held = before.acceptedIn(slot);
        if (held !== undefined) accepted.set(slot, held.ballot);
      }

      await sim.restart(follower);
      const restarted = paxos(sim, follower);
      const acceptor = acceptorOf(sim, follower);
      // A snapshot made durable (by its rename's sync) is where the replica starts.
      if (step !== STEPS[0].step) assert.ok(restarted.learner.applied >= covered, "it did not start from its snapshot");
      // It starts from its snapshot, then applies what the last commit point it wrote covers.
      assert.ok(acceptor.compacted <= restarted.learner.applied);
      if (how === "crash") {
        // A crash keeps every byte written: nothing it promised or accepted above its snapshot is lost.
        assert.equal(acceptor.promised, promised);
        for (const [slot, ballot] of accepted) {
          if (slot >= acceptor.compacted) assert.equal(acceptor.acceptedIn(slot)?.ballot, ballot, `slot ${slot}`);
        }
      }
      await writeUntil(sim, first, n, () => true);
      const lead = paxos(sim, first).learner;
      assert.ok(await sim.until(() => restarted.learner.applied === lead.applied, 5000), "it did not catch up");
      for (let k = 0; k < 5; k++) assert.equal(restarted.learner.get(`k${k}`).toString(), lead.get(`k${k}`).toString());
      await sim.close();
    });
  }
}

test("a replica that missed slots the others compacted catches up from a snapshot, then the tail", async () => {
  const sim = new Simulation({ seed: 12, disk: { snapshotEvery: SNAPSHOT_EVERY } });
  await sim.start();
  const first = await leader(sim);
  const follower = sim.names.find((name) => name !== first)!;
  sim.crash(follower);
  const lead = paxos(sim, first).learner;
  await writeUntil(sim, first, 0, () => lead.held > 20);
  await sim.restart(follower);
  const behind = paxos(sim, follower).learner;
  const installed: number[] = [];
  const install = behind.install.bind(behind);
  behind.install = (snapshot) => {
    installed.push(Number(snapshot.applied));
    install(snapshot);
  };
  assert.ok(await sim.until(() => behind.applied === lead.applied, 5000), "it did not catch up");
  assert.ok(installed.length > 0, "it caught up without a snapshot");
  for (let k = 0; k < 5; k++) assert.equal(behind.get(`k${k}`).toString(), lead.get(`k${k}`).toString());
  await sim.close();
});

test("however many slots are chosen, each replica holds a bounded number of them in memory and in its log", async () => {
  const sim = new Simulation({ seed: 13, disk: { snapshotEvery: SNAPSHOT_EVERY } });
  await sim.start();
  const first = await leader(sim);
  const lead = paxos(sim, first).learner;
  await writeUntil(sim, first, 0, () => lead.applied >= 150);
  await sim.advance(1000);
  for (const name of sim.names) {
    const { learner } = paxos(sim, name);
    const acceptor = acceptorOf(sim, name);
    assert.ok(learner.held > 100, `${name} compacted nothing: it holds slots from ${learner.held}`);
    let accepted = 0;
    for (let slot = 0; slot < learner.applied + 10; slot++) if (acceptor.acceptedIn(slot) !== undefined) accepted++;
    assert.ok(accepted < 40, `${name}'s acceptor holds ${accepted} slots`);
    assert.ok(learner.log().size < 40, `${name}'s learner holds ${learner.log().size} slots`);
    const wal = (await (sim.replicas.get(name) as Replica).disk!.read("wal"))!;
    assert.ok(wal.length < 4 * SNAPSHOT_EVERY, `${name}'s log is ${wal.length} bytes`);
  }
  await sim.close();
});

test("an acceptor answers a Prepare in chunks, from where it was asked and never below what it compacted", async () => {
  const disk = new MemoryDisk("r1");
  const { acceptor } = await Acceptor.open(disk);
  const command = (slot: number) => ({ identity: "c", key: "x", value: Buffer.from(String(slot)), id: BigInt(slot) });
  const slots = PREPARE_SLOTS * 2 + 5;
  for (let slot = 0; slot < slots; slot++) await acceptor.accept(slot, 512, [command(slot)]);
  const first = await acceptor.prepare(768, 3);
  assert.equal(first.accepted.length, PREPARE_SLOTS);
  assert.equal(first.accepted[0]!.slot, 3n);
  assert.equal(first.next, 3 + PREPARE_SLOTS);
  const second = await acceptor.prepare(768, first.next);
  assert.equal(second.accepted[0]!.slot, BigInt(first.next));
  const last = await acceptor.prepare(768, second.next);
  assert.equal(last.next, 0);
  assert.equal(last.accepted.at(-1)!.slot, BigInt(slots - 1));

  await acceptor.compact(50);
  const compacted = await acceptor.prepare(768, 0);
  assert.equal(compacted.compacted, 50);
  assert.equal(compacted.accepted[0]!.slot, 50n);
  // The log holds the promise and the slots from 50 on; the restarted acceptor, told the snapshot is at 50, holds them.
  const { acceptor: restarted } = await Acceptor.open(disk.reopen(), 50);
  assert.equal(restarted.promised, 768);
  assert.equal(restarted.acceptedIn(49), undefined);
  assert.deepEqual(restarted.acceptedIn(50), { ballot: 512, commands: [command(50)] });
  assert.deepEqual(restarted.acceptedIn(slots - 1), { ballot: 512, commands: [command(slots - 1)] });
});

test("a restarted replica applies what the commit point in its log covers, with no leader to tell it", async () => {
  // A large snapshotEvery: nothing is compacted, so all it knows at its restart is in the log.
  const sim = new Simulation({ seed: 14 });
  await sim.start();
  const first = await leader(sim);
  await writeUntil(sim, first, 0, () => paxos(sim, first).learner.applied >= 10);
  await sim.advance(500); // a few heartbeats: the commit point reaches every log
  const applied = new Map(sim.names.map((name) => [name, paxos(sim, name).learner.applied]));
  for (const name of sim.names) sim.crash(name);
  const [alone] = sim.names;
  await sim.restart(alone!);
  // Alone, it cannot elect anyone: it learned these slots from its own log.
  assert.equal(paxos(sim, alone!).learner.applied, applied.get(alone!));
  assert.ok(applied.get(alone!)! >= 10);
  await sim.close();
});
