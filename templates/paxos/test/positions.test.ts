// What each replica acknowledged, as a replica remembers and tells it
// (src/paxos/positions.ts): a replica behind its own entry is told why in
// one line; a replica's Peers stamp what it knows on Prepare, Accept and
// Commit, and learn from each reply.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Runtime } from "../src/context.js";
import { Acceptor } from "../src/paxos/acceptor.js";
import { Positions } from "../src/paxos/positions.js";
import type { Acknowledged } from "../src/pb/paxos.js";
import type { Peers, RequestMessage } from "../src/peers.js";

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
  const { peers: watched } = positions.watch({ name: "r1", peers } as Runtime);
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
