// The lower-ballot overwrite, replayed by hand at 5 replicas: r1 runs at
// ballot 256 and its promises come back slowly; meanwhile r5 wins 260 and
// commits k=1 in slot 0, and its heartbeat (a Commit: r1 accepts nothing at
// 260) tells r1 that slot 0 is chosen. When r1's last promise arrives, r1
// must not lead 256 over slot 0: r4, which never heard of 260, would accept
// r1's j=2 there and, once r1's commit point passes slot 0, apply it. Each
// step is a delay or a drop of one direction of a link, and all of it happens
// within the first election timeout, so no replica runs on its own.
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

test("a candidate that hears a higher ballot commit while its promises are slow does not overwrite the slot", async () => {
  const sim = new Simulation({ seed: 1, replicas: 5, network: { latency: [1, 1] } });
  const { network } = sim;
  await sim.start();
  const r1 = paxos(sim, "r1");

  // r1 runs at 256: its Prepare reaches r2 and r4 only, and r2's promise takes 300 ms back.
  network.drop("r1", "r3");
  network.drop("r1", "r5");
  network.delay("r2", "r1", 300);
  void r1["campaign"]();
  await sim.advance(5);

  // r5 runs at 260 and wins with r2 (which promised 256 first) and r3; r1 and r4 hear nothing of it.
  network.drop("r5", "r1");
  network.drop("r5", "r4");
  void paxos(sim, "r5")["campaign"]();
  await sim.advance(5);
  assert.ok(paxos(sim, "r5").leading, "r5 leads 260");
  const wrote = await sim.clock.settle(sim.replicas.get("r5")!.propose(request("k", "1")));
  assert.equal(wrote.success, true, "k=1 is chosen in slot 0");

  // r5's next heartbeat reaches r1, which fetches slot 0 from r5; the reply takes 250 ms.
  network.heal();
  network.drop("r1", "r3");
  network.drop("r5", "r4");
  assert.ok(await sim.until(() => r1.leaderName === "r5", 300), "r1 heard r5's Commit");
  network.delay("r5", "r1", 250);

  // r2's promise arrives: r1 has its majority of promises. A client then writes j=2 at r1; r1's
  // heartbeats carry its commit point to r4 after the fetched slot 0 arrives.
  assert.ok(await sim.until(() => !r1["campaigning"], 400), "r1's election ended");
  void sim.replicas.get("r1")!.propose(request("j", "2"));
  await sim.advance(300);
  assertSlot0(sim);

  // Healed, every replica learns slot 0, and it is k=1 on all of them.
  network.heal();
  network.delay("r2", "r1", 1);
  network.delay("r5", "r1", 1);
  assert.ok(
    await sim.until(() => sim.up().every((name) => paxos(sim, name).learner.applied > 0), 5000),
    "every replica learned slot 0",
  );
  assertSlot0(sim);
  await sim.close();
});
