// The lower-ballot overwrite, replayed by hand at 5 replicas: r1 runs at
// ballot 256 and its promises come back slowly; meanwhile r5 wins 260 and
// commits k=1 in slot 0, and its heartbeat (a Commit: r1 accepts nothing at
// 260) tells r1 that slot 0 is chosen. When r1's last promise arrives, r1
// must not lead 256 over slot 0: r4, which never heard of 260, would accept
// r1's j=2 there and, once r1's commit point passes slot 0, apply it. Each
// step is a delay or a drop of one direction of a link, and all of it happens
// within the first election timeout, so no replica runs on its own. Two
// endings: r1 fetched slot 0 before its last promise came, or after.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Command } from "../src/pb/paxos.js";
import type { Replica } from "../src/replica.js";
import { Simulation } from "../src/simulation/index.js";

const paxos = (sim: Simulation, name: string) => (sim.replicas.get(name) as Replica).state.paxos;

/** A slot's writes, as `key=value`. */
const writes = (commands: readonly Command[] | undefined) =>
  commands?.map(({ key, value }) => `${key}=${Buffer.from(value)}`).join(", ");

/** A client's write of `key`. */
const request = (key: string, value: string) => ({ identity: "client", name: key, value: Buffer.from(value) });

/** Fails if any replica learned slot 0 as anything but k=1. */
function assertSlot0(sim: Simulation): void {
  for (const name of sim.up()) {
    const learned = writes(paxos(sim, name).learner.chosenIn(0));
    if (learned !== undefined)
      assert.equal(learned, "k=1", `${name} learned slot 0 as ${learned}, where k=1 was chosen`);
  }
}

/**
 * Everything up to r5's heartbeat reaching r1, with r1's last promise still
 * on its way (it arrives at 301 ms). r1→r3 and r5→r4 stay cut.
 */
async function outranked(): Promise<Simulation> {
  const sim = new Simulation({ seed: 1, replicas: 5, network: { latency: [1, 1] } });
  const { network } = sim;
  await sim.start();
  const r1 = paxos(sim, "r1");
  // Once r5's heartbeat tells r1 that r2 promised 260, the old-data check (positions.ts) would not
  // count r2's promise of 256, which arrives later. That check is for replicas restored from older
  // data folders; it is not what keeps slot 0 safe here, so r1 goes without it.
  r1["positions"].stale = () => undefined;

  // r1 runs at 256: its Prepare reaches r2 and r4 only, and r2's promise takes 300 ms back.
  network.drop("r1", "r3");
  network.drop("r1", "r5");
  network.delay("r2", "r1", 300);
  void r1["campaign"]();
  await sim.advance(5);
  // r2 would refuse a second candidate for an election timeout (Paxos.prepare); as if that time had
  // passed on its clock, it forgets whom it promised: timing must not be what keeps slot 0 safe.
  paxos(sim, "r2")["promisedTo"] = { owner: -1, at: -Infinity };

  // r5 runs at 260 and wins with r2 (which promised 256 first) and r3; r1 and r4 hear nothing of it.
  network.drop("r5", "r1");
  network.drop("r5", "r4");
  void paxos(sim, "r5")["campaign"]();
  await sim.advance(5);
  assert.ok(paxos(sim, "r5").leading, "r5 leads 260");
  const wrote = await sim.clock.settle(sim.replicas.get("r5")!.propose(request("k", "1")));
  assert.equal(wrote.success, true, "k=1 is chosen in slot 0");

  // r5's next heartbeat reaches r1, which fetches slot 0 from r5.
  network.heal();
  network.drop("r1", "r3");
  network.drop("r5", "r4");
  assert.ok(await sim.until(() => r1.leaderName === "r5", 300), "r1 heard r5's Commit");
  return sim;
}

/** Heals the network: every replica then learns slot 0, and it must be k=1 on all of them. */
async function assertHealed(sim: Simulation): Promise<void> {
  sim.network.heal();
  sim.network.delay("r2", "r1", 1);
  sim.network.delay("r5", "r1", 1);
  assert.ok(
    await sim.until(() => sim.up().every((name) => paxos(sim, name).learner.applied > 0), 5000),
    "every replica learned slot 0",
  );
  assertSlot0(sim);
  await sim.close();
}

test("a candidate that learned a higher ballot's chosen slot while its promises were slow does not propose over it", async () => {
  const sim = await outranked();
  const r1 = paxos(sim, "r1");
  // The fetched slot 0 lands within 2 ms, unless r1 drops it as a candidate (see Paxos.fetchChosen).
  await sim.advance(10);
  // r5's answers to r1 now take 250 ms, and r1's first heartbeat after its election does not reach r4.
  sim.network.delay("r5", "r1", 250);
  sim.network.drop("r1", "r4");
  assert.ok(await sim.until(() => !r1["campaigning"], 400), "r1's election ended");
  sim.network.heal();
  sim.network.drop("r1", "r3");
  sim.network.drop("r5", "r4");
  // A client writes j=2 at r1: had r1 led 256 with new slots from 0, r4 would apply j=2 in slot 0 at once.
  void sim.replicas.get("r1")!.propose(request("j", "2"));
  await sim.advance(100);
  assertSlot0(sim);
  await assertHealed(sim);
});

test("a candidate whose fetch of a higher ballot's chosen slot lands after its election does not apply over it", async () => {
  const sim = await outranked();
  const r1 = paxos(sim, "r1");
  // The reply to r1's fetch takes 250 ms: it lands after r2's promise.
  sim.network.delay("r5", "r1", 250);
  assert.ok(await sim.until(() => !r1["campaigning"], 400), "r1's election ended");
  // A client writes j=2 at r1; had r1 led 256, its heartbeats would carry, once the fetched slot 0
  // landed, a commit point past slot 0 to r4, which accepted j=2 there.
  void sim.replicas.get("r1")!.propose(request("j", "2"));
  await sim.advance(300);
  assertSlot0(sim);
  await assertHealed(sim);
});
