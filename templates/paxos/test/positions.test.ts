// What each replica acknowledged, as a replica remembers and tells it
// (src/paxos/positions.ts): a replica behind its own entry is told why in
// one line; a replica's Peers stamp what it knows on Prepare, Accept and
// Commit, and learn from each reply; a reply that puts the replica behind
// its own entry stops it, and a yes its peer's data cannot have given is
// not counted.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Runtime } from "../src/context.js";
import { MemoryDisk } from "../src/disk.js";
import { Acceptor } from "../src/paxos/acceptor.js";
import { Positions } from "../src/paxos/positions.js";
import type { Acknowledged } from "../src/pb/paxos.js";
import type { Peers, RequestMessage } from "../src/peers.js";
import { Replica } from "../src/replica.js";
import { Simulation } from "../src/simulation/index.js";

const entry = (name: string, ballot: number, slot = 0, slotBallot = 0): Acknowledged => ({
  name,
  ballot: BigInt(ballot),
  slot: BigInt(slot),
  slotBallot: BigInt(slotBallot),
});

/** A fresh acceptor that promised `promised` and accepted slot 3 at ballot 256. */
async function acceptor(promised: number): Promise<Acceptor> {
  const { acceptor } = await Acceptor.open(undefined);
  await acceptor.accept(3, 256, []);
  await acceptor.prepare(promised, 0);
  return acceptor;
}

test("a replica no one told about, or told no more than its data holds, is not behind", async () => {
  const positions = new Positions();
  const own = await acceptor(512);
  assert.equal(positions.behind("r1", [entry("r2", 1024, 9, 1024)], own), undefined);
  assert.equal(positions.behind("r1", [entry("r1", 512, 3, 256)], own), undefined);
  assert.equal(positions.behind("r1", [entry("r1", 256, 3, 1)], own), undefined, "a slot held at a higher ballot");
});

test("a replica behind what it acknowledged is told why, in one line", async () => {
  const own = await acceptor(512);
  const cases: [Acknowledged, string][] = [
    [entry("r1", 768), "it acknowledged ballot 768, but its data holds a promise of only 512"],
    [entry("r1", 512, 4, 512), "it acknowledged slot 4 at ballot 512, but its data has nothing there"],
    [entry("r1", 512, 3, 512), "it acknowledged slot 3 at ballot 512, but its data has ballot 256 there"],
  ];
  for (const [told, why] of cases) {
    assert.equal(
      new Positions().behind("r1", [told], own),
      `its data is older than what it acknowledged to its peers: ${why}; ` +
        "it stops rather than vote on what it forgot. Restore its newest data folder",
    );
  }
});

test("what it was told is kept, and the most of it counts: a later, smaller entry changes nothing", async () => {
  const positions = new Positions();
  const own = await acceptor(512);
  positions.heard(entry("r1", 768));
  assert.match(positions.behind("r1", [entry("r1", 256, 1, 256)], own) ?? "", /ballot 768/);
  assert.deepEqual(positions.list(), [entry("r1", 768, 1, 256)]);
});

test("the watched Peers stamp Prepare, Accept and Commit (not CatchUp) and learn from each yes and each reply", async () => {
  const sent: RequestMessage[] = [];
  const replies = {
    prepare: { ok: true, ballot: 512n, accepted: [], acknowledged: [entry("r3", 300)] },
    accept: { ok: true, ballot: 512n, acknowledged: [] },
    commit: { ok: false, ballot: 768n, acknowledged: [] },
    catchUp: { entries: [] },
  };
  const peers = {
    names: ["r2"],
    send: async (_peer: string, message: RequestMessage) => {
      sent.push(message);
      return replies[message.$case as keyof typeof replies];
    },
  } as unknown as Peers;
  const positions = new Positions();
  const { peers: watched } = positions.watch({ name: "r1", peers } as Runtime, () => undefined);
  await watched.send("r2", { $case: "prepare", value: { ballot: 512n, from: 0n, acknowledged: [] } });
  assert.deepEqual(positions.list(), [entry("r3", 300), entry("r2", 512)], "r3 from the reply; r2's promise");
  await watched.send("r2", {
    $case: "accept",
    value: { ballot: 512n, slot: 7n, commands: [], commit: 0n, acknowledged: [] },
  });
  await watched.send("r2", { $case: "commit", value: { ballot: 512n, commit: 8n, acknowledged: [] } });
  await watched.send("r2", { $case: "catchUp", value: { from: 0n, to: 8n } });
  assert.deepEqual(positions.list(), [entry("r3", 300), entry("r2", 512, 7, 512)], "a no to a Commit counts nothing");
  assert.deepEqual(
    sent.map((message) => ("acknowledged" in message.value ? message.value.acknowledged.length : undefined)),
    [0, 2, 2, undefined],
    "each request carries what was known as it left",
  );
});

/** Watched Peers of r1 (its acceptor `own`) over a peer r2 that answers with `answer`; what r1's stop was told. */
function watchedOver(own: Acceptor | undefined, answer: (message: RequestMessage) => unknown) {
  const sent: RequestMessage[] = [];
  const stops: string[] = [];
  const peers = {
    names: ["r2"],
    send: async (_peer: string, message: RequestMessage) => {
      sent.push(message);
      return answer(message);
    },
  } as unknown as Peers;
  const positions = new Positions();
  const runtime = { name: "r1", peers, stop: (error: Error) => stops.push(error.message) } as unknown as Runtime;
  return { positions, peers: positions.watch(runtime, () => own).peers, sent, stops };
}

const prepare = (ballot: number, from = 0): RequestMessage => ({
  $case: "prepare",
  value: { ballot: BigInt(ballot), from: BigInt(from), acknowledged: [] },
});

test("a reply that puts the replica behind its own entry stops it: the reply is not counted, and nothing more is sent", async () => {
  // r1 restarted on a copy that promised 512; r2 remembers its promise of 768 (r1 asks, as a candidate,
  // before any leader's request reaches it).
  const own = await acceptor(512);
  const refusal = { ok: false, ballot: 768n, accepted: [], next: 0n, compacted: 0n, acknowledged: [entry("r1", 768)] };
  const { peers, sent, stops } = watchedOver(own, () => refusal);
  await assert.rejects(peers.send("r2", prepare(1025)), /stopped: its data is older than what it acknowledged/);
  assert.deepEqual(stops, [
    "its data is older than what it acknowledged to its peers: it acknowledged ballot 768, but its data holds a " +
      "promise of only 512; it stops rather than vote on what it forgot. Restore its newest data folder",
  ]);
  await assert.rejects(peers.send("r2", prepare(1026)), /stopped/);
  assert.equal(sent.length, 1, "the second Prepare did not leave");
});

test("a reply that says no more than the replica's data holds is handed on", async () => {
  const own = await acceptor(512);
  const promise = {
    ok: true,
    ballot: 1025n,
    accepted: [],
    next: 0n,
    compacted: 0n,
    acknowledged: [entry("r1", 512, 3, 256)],
  };
  const { peers, stops } = watchedOver(own, () => promise);
  assert.equal(await peers.send("r2", prepare(1025)), promise);
  assert.deepEqual(stops, []);
});

test("a yes its peer's data cannot have given is not counted: a ballot below its promise, a promise without its slot", async () => {
  const accepted = (slot: number, ballot: number) => ({ slot: BigInt(slot), ballot: BigInt(ballot), commands: [] });
  // r2 is known to have promised 768 and accepted slot 3 at 768 (say, told by the leader it acknowledged them to).
  const promise = (fields: object) => ({
    ok: true,
    ballot: 1025n,
    accepted: [],
    next: 0n,
    compacted: 0n,
    acknowledged: [],
    ...fields,
  });
  const cases: [RequestMessage, object, RegExp | undefined][] = [
    [prepare(1025), {}, /r2 promised without slot 3, which it accepted at ballot 768: its data is older/],
    [prepare(1025), { accepted: [accepted(3, 512)] }, /r2 promised without slot 3/],
    [prepare(1025), { accepted: [accepted(3, 768)] }, undefined],
    [prepare(1025), { accepted: [accepted(3, 1024)] }, undefined],
    [prepare(1025, 4), {}, undefined], // the candidate asked from slot 4 on
    [prepare(1025), { next: 3n, accepted: [accepted(1, 768)] }, undefined], // slot 3 is in a later chunk
    [prepare(1025), { compacted: 4n }, undefined], // slot 3 is chosen and compacted there
    [
      prepare(700),
      { ballot: 700n, accepted: [accepted(3, 768)] },
      /r2 said yes to ballot 700, but it had promised 768/,
    ],
    [
      { $case: "accept", value: { ballot: 700n, slot: 4n, commands: [], commit: 0n, acknowledged: [] } },
      { ok: true, ballot: 700n, acknowledged: [] },
      /r2 said yes to ballot 700, but it had promised 768/,
    ],
  ];
  for (const [i, [message, fields, refused]] of cases.entries()) {
    const reply = message.$case === "prepare" ? promise(fields) : fields;
    const { positions, peers, stops } = watchedOver(undefined, () => reply);
    positions.heard(entry("r2", 768, 3, 768));
    const sent = peers.send("r2", message);
    if (refused === undefined) assert.equal(await sent, reply, `case ${i}`);
    else await assert.rejects(sent, refused);
    assert.deepEqual(stops, [], "the candidate goes on: only r2 is behind");
    // A refused yes teaches nothing about r2.
    if (refused !== undefined) assert.deepEqual(positions.list(), [entry("r2", 768, 3, 768)]);
  }
});

/**
 * Three simulated replicas (seed 7, 1 ms links) whose stops are kept in `stops`; `copy` says whether a
 * replica starts on an empty copy of its folder. With how to reach a replica's Paxos, and to write k at one.
 */
function cluster(stops: string[], copy: (name: string) => boolean = () => false) {
  const sim = new Simulation({
    seed: 7,
    network: { latency: [1, 1] },
    replica: (options) =>
      new Replica({
        ...options,
        disk: copy(options.name) ? new MemoryDisk(`${options.name}-copy`) : options.disk,
        onStop: (error) => stops.push(`${options.name}: ${error.message}`),
      }),
  });
  const paxos = (name: string) => (sim.replicas.get(name) as Replica).state.paxos;
  const write = async (at: string, value: string) => {
    const request = { identity: "client", name: "k", value: Buffer.from(value) };
    const reply = await sim.clock.settle(sim.replicas.get(at)!.propose(request));
    assert.equal(reply.success, true, `k=${value} at ${at}: ${reply.error || reply.redirect}`);
    return Buffer.from(reply.value).toString();
  };
  /** Starts the three; the one that leads. */
  const start = async () => {
    await sim.start();
    assert.ok(await sim.until(() => sim.up().some((name) => paxos(name).leading), 5000), "a leader");
    return sim.up().find((name) => paxos(name).leading)!;
  };
  return { sim, paxos, write, start };
}

test("a replica restored from an empty copy, which the leader cannot reach, learns it from the refusals to its own Prepare and stops", async () => {
  // r-x acknowledged k=2 and k=3 with the leader alone (the third replica down), then comes back on a copy
  // of its folder from before it wrote anything. The leader's requests do not reach it (its link to x is
  // cut, as a gRPC channel in reconnect backoff is), so x runs for leader; the third replica, which heard
  // of x's acknowledgements in the leader's heartbeats, refuses it and says so in its reply.
  const restored = new Set<string>();
  const stops: string[] = [];
  const { sim, paxos, write, start } = cluster(stops, (name) => restored.has(name));
  const leader = await start();
  const [x, y] = sim.up().filter((name) => name !== leader) as [string, string];
  sim.crash(y);
  await write(leader, "2");
  await write(leader, "3");
  await sim.restart(y);
  assert.ok(await sim.until(() => paxos(y).learner.applied >= 2, 2000), `${y} caught up from ${leader}`);
  sim.crash(x);
  restored.add(x);
  sim.network.drop(leader, x);
  await sim.restart(x);
  assert.ok(await sim.until(() => stops.length > 0, 5000), `${x} stopped`);
  assert.equal(stops.length, 1, stops.join("\n"));
  assert.match(
    stops[0]!,
    new RegExp(
      `^${x}: its data is older than what it acknowledged to its peers: it acknowledged ballot \\d+, but its data ` +
        "holds a promise of only 0; it stops rather than vote on what it forgot. Restore its newest data folder$",
    ),
  );
  assert.equal(await write(leader, "4"), "4");
  sim.network.heal();
  await sim.advance(1000);
  assert.equal(await write(leader, ""), "4", "no write acknowledged before is lost");
  await sim.close();
});

test("a leader whose own Accept of a slot it re-proposed was lost to a power loss is not taken for one on old data", async () => {
  // y misses slot 0 but accepts slot 1 and hears it chosen: it holds slot 1 as chosen, not applied.
  // Leading next, it proposes both again at its ballot; its own Accept of slot 1 is still being written
  // when slot 0 is chosen and its learner applies both. x, which accepted slot 1 at y's ballot, takes
  // a commit point past it for y's own acceptance (positions.ts): y must not send one before that
  // Accept is on disk, or y, restarted after a power loss, is told it forgot what it never acknowledged.
  const stops: string[] = [];
  const { sim, paxos, write, start } = cluster(stops);
  const leader = await start();
  const y = sim.up().filter((name) => name !== leader)[1]!; // and x, the other follower
  sim.network.drop(leader, y);
  await write(leader, "1");
  sim.network.heal();
  sim.network.drop(y, leader); // its answers, and its fetch of slot 0, do not arrive
  await write(leader, "2");
  assert.ok(await sim.until(() => paxos(y).learner.chosenIn(1) !== undefined, 1000), `${y} holds slot 1 as chosen`);
  assert.equal(paxos(y).learner.applied, 0, `${y} lacks slot 0`);
  sim.crash(leader);
  sim.network.heal();
  const acceptor = paxos(y)["acceptor"]!;
  const accept = acceptor.accept.bind(acceptor);
  const first = acceptor.promised;
  acceptor.accept = (slot, ballot, commands) =>
    slot === 1 && ballot > first ? new Promise(() => undefined) : accept(slot, ballot, commands);
  // x no longer counts the leader as alive, and its own election timer has not fired yet.
  await sim.advance(501);
  void paxos(y)["campaign"]();
  await sim.advance(200);
  assert.ok(paxos(y).leading && paxos(y).learner.applied === 2, `${y} leads and applied both slots`);
  await sim.advance(300); // heartbeats carry y's commit point to x
  sim.powerLoss(y);
  await sim.restart(y);
  await sim.restart(leader);
  await sim.advance(3000);
  assert.deepEqual(stops, []);
  const leading = sim.up().find((name) => paxos(name).leading)!;
  assert.equal(await write(leading, ""), "2", "k=2 is kept");
  await sim.close();
});
