// The Multi-Paxos under deterministic simulation: replicas on the in-memory
// network and a virtual clock, with messages lost, delayed and reordered,
// one-way slow and cut links, partitions, clocks that run fast or slow, crashes,
// power losses and failed disks, each followed by a restart from the write-ahead log. While a run goes,
// Paxos's own invariants are watched (see Observer); after it, the
// replicas' applied logs must agree slot by slot and the clients' history be
// linearizable. The log is compacted every few hundred bytes, so snapshots,
// compactions cut short by crashes, and catch-up from a snapshot all happen
// in every run. A failing run names its seed:
// `SIMULATION_SEED=17 npm test` replays it exactly.
import assert, { AssertionError } from "node:assert/strict";
import { describe, test } from "node:test";
import type { Acceptor } from "../src/paxos/acceptor.js";
import type { Learner } from "../src/paxos/learner.js";
import type { Command } from "../src/pb/paxos.js";
import type { ProposeRequest } from "../src/pb/client.js";
import { Replica } from "../src/replica.js";
import {
  assertHurt,
  assertLinearizable,
  FAULT_KINDS,
  Random,
  seeds,
  Simulation,
  type SimulatedReplicaOptions,
  type SimulationResult,
} from "../src/simulation/index.js";

/** Fails the run of `seed` with `problem`, saying how to replay it. */
function fail(seed: number, problem: string): never {
  throw new AssertionError({ message: `seed ${seed}: ${problem}\nreplay it: SIMULATION_SEED=${seed} npm test` });
}

/** A slot's value as text, to compare values and name them in a failure. */
function text(commands: readonly Command[]): string {
  return `[${commands.map(({ id, key, value }) => `${id}:${key}=${Buffer.from(value)}`).join(", ")}]`;
}

/** A replica's yes to a Prepare or an Accept, numbered in the order its acceptor decided it. */
interface Vote {
  order: number;
  ballot: number;
  what: string;
}

/**
 * Watches a run through each incarnation of each replica (the Simulation's
 * `replica` factory) and keeps the first breach of what Paxos promises:
 * - an acceptor's yes (to a Prepare or an Accept) is never for a ballot below
 *   one it said yes to before, in this incarnation or an earlier one, and a
 *   restarted acceptor recovers a promise and accepted entries that cover
 *   every yes it gave: a yes counts once its incarnation gave it, durable or not;
 * - at most one value is chosen in a slot (accepted by a majority at one ballot);
 * - a learner learns only the value chosen in its slot, and every learner the same
 *   one: compared across replicas and incarnations, apart from the acceptors;
 * - a write is answered ok only once a slot holding it is chosen;
 * - a learner's key-value store holds, for each key, the last value its applied log wrote there,
 *   also when it starts from a snapshot or installs one: the chosen slots below it wrote it;
 * - no replica stops for data older than what it acknowledged: nothing here restores old data, so such a
 *   stop (src/paxos/positions.ts) would be a false alarm.
 */
class Observer {
  /** The first breach, with its virtual time. */
  breach: string | undefined;
  /** How often a log was compacted, and a learner took in a snapshot (at a restart, or from a peer). */
  readonly counts = { compactions: 0, snapshots: 0 };
  private sim: Simulation | undefined;
  /** Counts the acceptors' decisions: each is taken when its call begins, before any await. */
  private decisions = 0;
  private readonly votes = new Map<string, Vote[]>();
  /** Per replica and slot, the highest ballot it accepted the slot at. */
  private readonly accepted = new Map<string, Map<number, number>>();
  /** The acceptors of each (slot, ballot, value): a majority chooses it. */
  private readonly acceptors = new Map<string, Set<string>>();
  /** The value chosen in each slot, and its commands. */
  private readonly chosen = new Map<number, string>();
  private readonly chosenCommands = new Map<number, readonly Command[]>();
  /** Each slot's value as first learned, and by which replica. */
  private readonly learnedFirst = new Map<number, { name: string; value: string }>();
  /** The writes (`key=value`) of the chosen slots: the clients' values are unique. */
  private readonly chosenWrites = new Set<string>();

  constructor(private readonly majority: number) {}

  watch(sim: Simulation): void {
    this.sim = sim;
  }

  /** A Replica whose acceptor, learner and Propose report here. */
  replica(options: SimulatedReplicaOptions): Replica {
    const { name } = options;
    const replica = new Replica({
      ...options,
      // A failed disk stops a replica too: the simulation injects those, and restarts it.
      onStop: (error) => error.message.startsWith("its disk failed") || this.fail(`${name} stopped: ${error.message}`),
    });
    // Only what an incarnation that is up does leaves the process.
    const live = () => this.sim?.replicas.get(name) === replica;
    const learner = replica.state.paxos.learner;
    // The store as the applied log says it should be: each key's last write.
    let written = new Map<string, string>();
    let replayed = 0;
    /** A snapshot was taken in: the chosen slots below it must have left its store. */
    const installed = (how: string) => {
      this.counts.snapshots++;
      written = this.storeBelow(name, learner.applied, how);
      replayed = learner.applied;
      this.holds(name, learner, written, how);
    };
    const start = replica.start.bind(replica);
    replica.start = async () => {
      const notices = await start();
      const acceptor = replica.state.paxos["acceptor"]!;
      this.recovered(name, acceptor);
      this.acceptor(name, acceptor, live);
      if (learner.applied > 0) installed(`after its restart from a snapshot of slot ${learner.applied}`);
      return notices;
    };
    const install = learner.install.bind(learner);
    learner.install = (snapshot) => {
      const before = learner.applied;
      install(snapshot);
      if (learner.applied > before) installed(`after it installed a snapshot of slot ${snapshot.applied}`);
    };
    const choose = learner.choose.bind(learner);
    learner.choose = (slot, commands) => {
      this.learned(name, slot, commands);
      choose(slot, commands);
      for (; replayed < learner.applied; replayed++) {
        for (const { key, value } of learner.chosenIn(replayed)!) {
          if (value.length > 0) written.set(key, Buffer.from(value).toString());
        }
      }
      this.holds(name, learner, written, `after slot ${replayed - 1}`);
    };
    const propose = replica.propose.bind(replica);
    replica.propose = async (request) => {
      const reply = await propose(request);
      if (reply.success && request.value.length > 0 && live()) this.answered(name, request);
      return reply;
    };
    return replica;
  }

  /** The store the chosen slots below `applied` leave: each key's last write. */
  private storeBelow(name: string, applied: number, how: string): Map<string, string> {
    const written = new Map<string, string>();
    for (let slot = 0; slot < applied; slot++) {
      const commands = this.chosenCommands.get(slot);
      if (commands === undefined) {
        this.fail(`${name} holds slot ${slot} as applied ${how}, where nothing is chosen`);
        break;
      }
      for (const { key, value } of commands) if (value.length > 0) written.set(key, Buffer.from(value).toString());
    }
    return written;
  }

  /** The learner's store must hold `written`, and nothing else. */
  private holds(name: string, learner: Learner, written: Map<string, string>, when: string): void {
    for (const [key, value] of written) {
      const held = learner.get(key).toString();
      if (held !== value) this.fail(`${name} holds ${key}=${held} ${when}, where the log last wrote ${value}`);
    }
    for (const { key, value } of learner.snapshot().store) {
      if (!written.has(key)) this.fail(`${name} holds ${key}=${Buffer.from(value)} ${when}, never written there`);
    }
  }

  private acceptor(name: string, acceptor: Acceptor, live: () => boolean): void {
    const compact = acceptor.compact.bind(acceptor);
    acceptor.compact = async (below) => {
      this.counts.compactions++;
      return compact(below);
    };
    const prepare = acceptor.prepare.bind(acceptor);
    acceptor.prepare = async (ballot, from) => {
      const order = this.decisions++;
      const vote = await prepare(ballot, from);
      if (vote.ok && live()) this.voted(name, { order, ballot, what: "Prepare" });
      return vote;
    };
    const accept = acceptor.accept.bind(acceptor);
    acceptor.accept = async (slot, ballot, commands) => {
      const order = this.decisions++;
      const value = text(commands);
      const writes = commands.filter((c) => c.value.length > 0).map((c) => `${c.key}=${Buffer.from(c.value)}`);
      const vote = await accept(slot, ballot, commands);
      if (vote.ok && live()) {
        this.voted(name, { order, ballot, what: `Accept of slot ${slot}` });
        this.acceptedBy(name, slot, ballot, commands, value, writes);
      }
      return vote;
    };
  }

  /** A yes must not be below any yes decided before it, nor above any decided after it (answered sooner). */
  private voted(name: string, vote: Vote): void {
    let votes = this.votes.get(name);
    if (votes === undefined) this.votes.set(name, (votes = []));
    let at = votes.length;
    while (at > 0 && votes[at - 1]!.order > vote.order) at--;
    const before = votes[at - 1];
    const after = votes[at];
    if (before !== undefined && before.ballot > vote.ballot) {
      this.fail(
        `${name} granted ${vote.what} at ballot ${vote.ballot} after it granted ${before.what} at ${before.ballot}`,
      );
    }
    if (after !== undefined && after.ballot < vote.ballot) {
      this.fail(
        `${name} granted ${after.what} at ballot ${after.ballot} after it granted ${vote.what} at ${vote.ballot}`,
      );
    }
    votes.splice(at, 0, vote);
  }

  private acceptedBy(
    name: string,
    slot: number,
    ballot: number,
    commands: readonly Command[],
    value: string,
    writes: string[],
  ): void {
    let slots = this.accepted.get(name);
    if (slots === undefined) this.accepted.set(name, (slots = new Map()));
    slots.set(slot, Math.max(ballot, slots.get(slot) ?? 0));
    const key = `${slot} ${ballot} ${value}`;
    let acceptors = this.acceptors.get(key);
    if (acceptors === undefined) this.acceptors.set(key, (acceptors = new Set()));
    acceptors.add(name);
    if (acceptors.size < this.majority) return;
    const chosen = this.chosen.get(slot);
    if (chosen !== undefined && chosen !== value) {
      this.fail(`two values chosen in slot ${slot}: ${chosen}, then ${value} at ballot ${ballot}`);
    }
    this.chosen.set(slot, value);
    this.chosenCommands.set(slot, commands);
    for (const write of writes) this.chosenWrites.add(write);
  }

  /** A restarted acceptor must still hold every promise and acceptance it answered yes with (but what it compacted). */
  private recovered(name: string, acceptor: Acceptor): void {
    const highest = Math.max(0, ...(this.votes.get(name) ?? []).map((vote) => vote.ballot));
    if (acceptor.promised < highest) {
      this.fail(`${name} restarted promising ballot ${acceptor.promised}, below the ${highest} it granted before`);
    }
    for (const [slot, ballot] of this.accepted.get(name) ?? []) {
      if (slot < acceptor.compacted) continue; // chosen, and in the snapshot (checked by holds)
      const held = acceptor.acceptedIn(slot)?.ballot;
      if (held === undefined || held < ballot) {
        this.fail(`${name} restarted without its acceptance of slot ${slot} at ballot ${ballot} (it holds ${held})`);
      }
    }
  }

  private learned(name: string, slot: number, commands: readonly Command[]): void {
    const chosen = this.chosen.get(slot);
    const value = text(commands);
    const first = this.learnedFirst.get(slot);
    if (first === undefined) this.learnedFirst.set(slot, { name, value });
    else if (first.value !== value) {
      this.fail(`${name} learned ${value} in slot ${slot}, where ${first.name} learned ${first.value}`);
    }
    if (chosen === undefined) this.fail(`${name} learned ${value} in slot ${slot}, where nothing is chosen yet`);
    else if (chosen !== value) this.fail(`${name} learned ${value} in slot ${slot}, where ${chosen} is chosen`);
  }

  private answered(name: string, request: ProposeRequest): void {
    const write = `${request.name}=${Buffer.from(request.value)}`;
    if (!this.chosenWrites.has(write)) this.fail(`${name} answered ok to the write ${write} before it was chosen`);
  }

  private fail(problem: string): void {
    this.breach ??= `at ${Math.round(this.sim?.clock.now() ?? 0)} virtual ms, ${problem}`;
  }
}

/** No two replicas that are up applied different commands in a slot (of those they still hold). */
function assertAgree(seed: number, replicas: Map<string, Replica>): void {
  const first = new Map<number, { name: string; value: string }>();
  for (const [name, replica] of replicas) {
    for (const [slot, commands] of replica.state.paxos.learner.log()) {
      const seen = first.get(slot);
      if (seen === undefined) first.set(slot, { name, value: text(commands) });
      else if (seen.value !== text(commands)) fail(seed, `slot ${slot} of ${name} differs from ${seen.name}'s`);
    }
  }
}

/** Bytes of log between snapshots in a run: a few dozen slots, so that every run compacts, often. */
const SNAPSHOT_EVERY = 1024;

/** Each message between replicas takes at least this many virtual ms (and up to 30). */
const LATENCY = 1;

/**
 * One-way slow links on seeded schedules of their own, one schedule per two
 * replicas (so several links at once in a larger cluster): a replica that
 * hears its leader late runs for election while the others still follow
 * it, and rival ballots' Prepares and Accepts arrive out of order. Returns
 * what ends them (the links slowed last back to normal).
 */
function slowLinks(sim: Simulation, seed: number): () => void {
  const ends = Array.from({ length: Math.floor(sim.names.length / 2) }, (_, lane) => slowLink(sim, seed, lane));
  return () => {
    for (const end of ends) end();
  };
}

/** One schedule of slowLinks: one link slow at a time. */
function slowLink(sim: Simulation, seed: number, lane: number): () => void {
  const random = new Random(seed, lane === 0 ? "slow links" : `slow links ${lane}`);
  let slowed: [string, string] | undefined;
  const restore = () => {
    if (slowed !== undefined) sim.network.delay(slowed[0], slowed[1], LATENCY);
    slowed = undefined;
  };
  const slow = () => {
    const from = random.pick(sim.names);
    const to = random.pick(sim.names.filter((name) => name !== from));
    slowed = [from, to];
    sim.network.delay(from, to, random.int(50, 600));
    timer = sim.clock.setTimeout(
      () => {
        restore();
        timer = sim.clock.setTimeout(slow, random.int(100, 1000));
      },
      random.int(100, 1500),
    );
  };
  let timer = sim.clock.setTimeout(slow, random.int(100, 1000));
  return () => {
    timer.cancel();
    restore();
  };
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

async function run(seed: number, replicas: number): Promise<SimulationResult & Observer["counts"]> {
  const observer = new Observer(Math.floor(replicas / 2) + 1);
  const sim = new Simulation({
    seed,
    replicas,
    network: { latency: [LATENCY, 30], loss: 0.05 },
    disk: { snapshotEvery: SNAPSHOT_EVERY },
    faults: { kinds: [...FAULT_KINDS], interval: [50, 300], duration: [100, 1500], everyKind: true },
    replica: (options) => observer.replica(options),
  });
  observer.watch(sim);
  try {
    const workload = { clients: 4, keys: 3, reads: 0.4, operations: 150, timeout: 3000, limit: 600_000 };
    const heal = slowLinks(sim, seed);
    const result = await sim.run(workload);
    heal();
    // Let the followers hear the last commit point, then compare the logs.
    await sim.advance(2000);
    // The protocol's own checks first: they say more precisely what went wrong than the history can.
    if (observer.breach !== undefined) fail(seed, observer.breach);
    assertAgree(seed, sim.replicas);
    assertLinearizable(result);
    assertHurt(result, FAULT_KINDS);
    assert.deepEqual(result.errors, [], `seed ${seed}: handlers threw`);
    return { ...result, ...observer.counts };
  } finally {
    await sim.close();
  }
}

/** Seeds per cluster size: fewer for the larger clusters, whose runs take longer. */
const RUNS: Record<number, number> = { 3: 200, 5: 100, 7: 50 };

describe("Multi-Paxos under simulated faults", () => {
  for (const size of [3, 5, 7]) {
    test(`${size} replicas: every seed keeps Paxos's invariants, its history is linearizable and the replicas agree`, async () => {
      const totals: Record<string, number> = { ok: 0, fail: 0, info: 0 };
      let compactions = 0;
      let snapshots = 0;
      for (const seed of seeds(RUNS[size]!)) {
        const result = await run(seed, size);
        for (const [type, count] of Object.entries(outcomes(result.history))) totals[type]! += count;
        compactions += result.compactions;
        snapshots += result.snapshots;
      }
      // The runs did commit (each was hurt: see run()).
      assert.ok(
        totals.ok! > totals.info!,
        `more operations were indeterminate than committed: ${JSON.stringify(totals)}`,
      );
      assert.ok(compactions > 0 && snapshots > 0, `${compactions} compactions, ${snapshots} snapshots taken in`);
    });
  }
});

/**
 * The leaders of a run without faults but `loss`, under a saturating load
 * (10 clients, each with a command always in flight, for `seconds` of virtual
 * time): the ballots at which Accepts were granted, in the order first seen.
 */
async function leaders(seed: number, loss: number, seconds: number): Promise<{ ballots: number[]; ok: number }> {
  const ballots: number[] = [];
  const sim = new Simulation({
    seed,
    network: { latency: [LATENCY, 30], loss },
    replica(options) {
      const replica = new Replica(options);
      const start = replica.start.bind(replica);
      replica.start = async () => {
        const notices = await start();
        const acceptor = replica.state.paxos["acceptor"]!;
        const accept = acceptor.accept.bind(acceptor);
        acceptor.accept = async (slot, ballot, commands) => {
          const vote = await accept(slot, ballot, commands);
          if (vote.ok && !ballots.includes(ballot)) ballots.push(ballot);
          return vote;
        };
        return notices;
      };
      return replica;
    },
  });
  try {
    const workload = { clients: 10, keys: 8, reads: 0.2, operations: Infinity, timeout: 3000 };
    const result = await sim.run({ ...workload, limit: seconds * 1000 });
    return { ballots, ok: outcomes(result.history).ok! };
  } finally {
    await sim.close();
  }
}

test("a saturated run keeps its leader without faults, and at 5% message loss elections are rare", async (t) => {
  const seconds = 20;
  for (const seed of seeds(2)) {
    const steady = await leaders(seed, 0, seconds);
    assert.equal(steady.ballots.length, 1, `seed ${seed}: leaders at ballots ${steady.ballots.join(", ")}`);
    const lossy = await leaders(seed, 0.05, seconds);
    t.diagnostic(
      `seed ${seed}: ${seconds} virtual s, no faults: ${steady.ok} commits, 1 leader; ` +
        `5% loss: ${lossy.ok} commits, ${lossy.ballots.length - 1} elections after the first`,
    );
    // Each election costs the lost Accepts and heartbeats of an election timeout in a row, or more.
    assert.ok(lossy.ballots.length <= 2, `seed ${seed}: ${lossy.ballots.length} leaders at 5% loss`);
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
