// The Multi-Paxos under deterministic simulation: replicas on the in-memory
// network and a virtual clock, with messages lost, delayed and reordered,
// partitions, and crashes followed by restarts from the write-ahead log.
// After each run the clients' history must be linearizable and every
// replica's applied log a prefix of the longest. A failing run names its seed:
// `SIMULATION_SEED=17 npm test` replays it exactly.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Command } from "../src/pb/paxos.js";
import { Replica } from "../src/replica.js";
import { assertLinearizable, FAULT_KINDS, seeds, Simulation, type SimulationResult } from "../src/simulation/index.js";

/** The applied log of each replica that is up, by name. */
function logs(replicas: Map<string, unknown>): Map<string, (readonly Command[])[]> {
  return new Map([...replicas].map(([name, replica]) => [name, (replica as Replica).state.paxos.learner.log()]));
}

/** Every applied log is a prefix of the longest one: no two replicas applied different commands in a slot. */
function assertPrefixes(seed: number, replicas: Map<string, unknown>): void {
  const all = logs(replicas);
  const [longestName, longest] = [...all].reduce((a, b) => (b[1].length > a[1].length ? b : a));
  for (const [name, log] of all) {
    for (let slot = 0; slot < log.length; slot++) {
      const replay = `SIMULATION_SEED=${seed} npm test replays it`;
      assert.deepEqual(
        log[slot],
        longest[slot],
        `seed ${seed}: slot ${slot} of ${name} differs from ${longestName}'s (${replay})`,
      );
    }
  }
}

/** Counts of the history's completions by type. */
function outcomes(history: string): Record<string, number> {
  const counts: Record<string, number> = { ok: 0, fail: 0, info: 0 };
  for (const line of history.split("\n")) {
    if (line === "") continue;
    const event = JSON.parse(line) as { process: unknown; type: string };
    if (event.process !== "nemesis" && event.type !== "invoke") counts[event.type] = (counts[event.type] ?? 0) + 1;
  }
  return counts;
}

async function run(seed: number, replicas: number): Promise<SimulationResult> {
  const sim = new Simulation({
    seed,
    replicas,
    network: { latency: [1, 30], loss: 0.05 },
    faults: { kinds: [...FAULT_KINDS], interval: [100, 600], duration: [100, 2500] },
  });
  try {
    const result = await sim.run({ clients: 4, keys: 3, reads: 0.4, operations: 80, timeout: 3000, limit: 600_000 });
    assertLinearizable(result);
    assert.deepEqual(result.errors, [], `seed ${seed}: handlers threw`);
    // Let the followers hear the last commit point, then compare the logs.
    await sim.advance(2000);
    assertPrefixes(seed, sim.replicas);
    return result;
  } finally {
    await sim.close();
  }
}

describe("Multi-Paxos under simulated faults", () => {
  for (const size of [3, 5]) {
    test(`${size} replicas: every seed's history is linearizable and the applied logs agree`, async () => {
      const totals: Record<string, number> = { ok: 0, fail: 0, info: 0 };
      let faults = 0;
      for (const seed of seeds(size === 3 ? 200 : 100)) {
        const result = await run(seed, size);
        for (const [type, count] of Object.entries(outcomes(result.history))) totals[type]! += count;
        faults += result.faults.filter((event) => event.f === "start").length;
      }
      // The runs did commit, and were hurt: a run where nothing happens proves nothing.
      assert.ok(
        totals.ok! > totals.info!,
        `more operations were indeterminate than committed: ${JSON.stringify(totals)}`,
      );
      assert.ok(faults > 0, "no fault was injected");
    });
  }
});

test("a seed replays its run exactly", async () => {
  const histories = [];
  for (let i = 0; i < 2; i++) {
    const sim = new Simulation({ seed: 7, network: { loss: 0.02 }, faults: { kinds: [...FAULT_KINDS] } });
    histories.push((await sim.run({ clients: 3, operations: 40, limit: 600_000 })).history);
    await sim.close();
  }
  assert.ok(histories[0]!.length > 0);
  assert.equal(histories[0], histories[1]);
});
