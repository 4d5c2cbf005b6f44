// Compaction, on the virtual clock of a simulation: every replica forgets the
// instances all of them executed, so however many commands commit, the
// instances held in memory and the log stay bounded; a replica restarted
// from its snapshot and log holds the same store and commits on; and a
// replica that is down holds back what the others forget until it is back.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Replica } from "../src/replica.js";
import { Simulation } from "../src/simulation/index.js";

/** Bytes of log between snapshots: a few dozen instances of one small write each. */
const SNAPSHOT_EVERY = 2000;

const epaxos = (sim: Simulation, name: string) => (sim.replicas.get(name) as Replica).state.epaxos;

/** Instances `name` forgot, all instance spaces together. */
const forgotten = (sim: Simulation, name: string) =>
  epaxos(sim, name)["forgotten"].reduce((sum: number, below: number) => sum + below, 0);

/** Writes k0…k4 with the values `from` to `to` - 1, through `replicas` in turn. */
async function write(sim: Simulation, from: number, to: number, replicas = sim.names): Promise<void> {
  const clients = replicas.map((replica) => sim.client({ replica }));
  for (let n = from; n < to; n++) {
    const outcome = await clients[n % clients.length]!.write(`k${n % 5}`, n);
    assert.equal(outcome.type, "ok", `write ${n}: ${JSON.stringify(outcome)}`);
  }
}

/** The values of k0…k4 at `name`. */
const values = (sim: Simulation, name: string) => [0, 1, 2, 3, 4].map((k) => epaxos(sim, name).get(`k${k}`).toString());

test("however many commands commit, each replica holds a bounded number of instances in memory and in its log", async () => {
  const sim = new Simulation({ seed: 21, disk: { snapshotEvery: SNAPSHOT_EVERY } });
  await sim.start();
  await write(sim, 0, 300);
  await sim.advance(1000);
  for (const name of sim.names) {
    const replica = epaxos(sim, name);
    assert.ok(forgotten(sim, name) > 250, `${name} forgot ${forgotten(sim, name)} of 300 instances`);
    assert.ok(replica["instances"].size < 40, `${name} holds ${replica["instances"].size} instances`);
    assert.ok(replica["logged"].size < 100, `${name} keeps the records of ${replica["logged"].size} instances`);
    assert.ok(replica["executor"].executed.held < 10, `${name} lists ${replica["executor"].executed.held} executed`);
    const wal = (await (sim.replicas.get(name) as Replica).disk!.read("wal"))!;
    assert.ok(wal.length < 4 * SNAPSHOT_EVERY, `${name}'s log is ${wal.length} bytes`);
  }
  await sim.close();
});

for (const how of ["crash", "power loss"] as const) {
  test(`a replica restarted after a ${how} from its snapshot and log holds the same store, and commits on`, async () => {
    const sim = new Simulation({ seed: 22, disk: { snapshotEvery: SNAPSHOT_EVERY } });
    await sim.start();
    await write(sim, 0, 150);
    await sim.advance(500);
    const before = values(sim, "r2");
    assert.ok((sim.replicas.get("r2") as Replica).metrics.counters.get("compactions")! > 0, "r2 never compacted");
    if (how === "crash") sim.crash("r2");
    else sim.powerLoss("r2");
    await sim.restart("r2");
    assert.ok(forgotten(sim, "r2") > 100, `it started from a snapshot that forgot ${forgotten(sim, "r2")} instances`);
    assert.deepEqual(values(sim, "r2"), before);
    await write(sim, 150, 300);
    await sim.advance(1000);
    for (const name of sim.names) assert.deepEqual(values(sim, name), values(sim, "r1"), name);
    assert.ok(forgotten(sim, "r2") > 250, `r2 forgot only ${forgotten(sim, "r2")} instances`);
    await sim.close();
  });
}

test("a replica that is down holds back what the others forget; once it is back and caught up, they forget", async () => {
  const sim = new Simulation({ seed: 23, disk: { snapshotEvery: SNAPSHOT_EVERY } });
  await sim.start();
  sim.crash("r3");
  await write(sim, 0, 100, ["r1", "r2"]);
  await sim.advance(1000);
  for (const name of ["r1", "r2"]) {
    assert.equal(forgotten(sim, name), 0, `${name} forgot instances r3 never executed`);
    assert.ok(epaxos(sim, name)["instances"].size >= 100);
  }
  await sim.restart("r3");
  // The Commits it missed are sent again until it acknowledges them.
  assert.ok(await sim.until(() => values(sim, "r3").join() === values(sim, "r1").join(), 10_000), "r3 never caught up");
  await write(sim, 100, 160);
  await sim.advance(1000);
  for (const name of sim.names) {
    assert.ok(forgotten(sim, name) > 120, `${name} forgot only ${forgotten(sim, name)} instances`);
    assert.ok(epaxos(sim, name)["instances"].size < 40, `${name} holds ${epaxos(sim, name)["instances"].size}`);
  }
  await sim.close();
});
