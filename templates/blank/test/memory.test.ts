// The in-memory network: delivery to Replica.dispatch, per-link order, and
// the faults tests of a protocol need (drop, delay, partition, heal), on the
// system's clock and on a simulation's virtual one (jitter, loss, crashes).
// First, as in the other tests: it adds ANOTHER to the enum before the runtime reads it.
import { UNKNOWN } from "./support/types.js";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryNetwork } from "../src/memory.js";
import { type PeerReply, type PeerRequest, Type } from "../src/pb/envelope.js";
import { PeerError, QuorumError } from "../src/peers.js";
import { Replica } from "../src/replica.js";
import { Random, VirtualClock } from "../src/simulation/index.js";
import { Code } from "../src/status.js";

const ping = { $case: "beacon", value: { timestamp: "" } } as const;

function sleep(clock: VirtualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** A network of replicas r1..rN. */
function cluster(size: number): { network: MemoryNetwork; replicas: Replica[] } {
  const network = new MemoryNetwork();
  const replicas = Array.from({ length: size }, (_, i) => {
    const name = `r${i + 1}`;
    return new Replica({ name, peers: network.peers(name) });
  });
  network.add(...replicas);
  return { network, replicas };
}

/** A stand-in replica that records what it handles and echoes the request's timestamp. */
function recorder(name: string, handled: string[]) {
  return {
    name,
    async dispatch(request: PeerRequest): Promise<PeerReply> {
      const timestamp = request.message?.$case === "beacon" ? request.message.value.timestamp : "";
      handled.push(`${request.sender}:${timestamp}`);
      return { type: request.type, sender: name, success: true, message: { $case: "beacon", value: { timestamp } } };
    },
  };
}

describe("MemoryNetwork", () => {
  test("delivers to the peer's dispatch and resolves with its typed reply", async () => {
    const { replicas, network } = cluster(3);
    const [r1] = replicas;
    assert.deepEqual(r1!.peers.names, ["r2", "r3"]);
    const reply = await r1!.peers.send("r2", ping);
    assert.match(reply.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    assert.equal(network.stats.delivered, 1);
  });

  test("keeps the order of each link, whatever the delays", async () => {
    const network = new MemoryNetwork();
    const handled: string[] = [];
    network.add(recorder("r2", handled));
    const peers = network.peers("r1");
    network.delay("r1", "r2", 30);
    const first = peers.send("r2", { $case: "beacon", value: { timestamp: "1" } });
    network.delay("r1", "r2", 0); // a later message must not overtake the earlier one
    const second = peers.send("r2", { $case: "beacon", value: { timestamp: "2" } });
    const settled: string[] = [];
    await Promise.all([first, second].map((p) => p.then((reply) => settled.push(reply.timestamp))));
    assert.deepEqual(handled, ["r1:1", "r1:2"]);
    assert.deepEqual(settled, ["1", "2"]);
  });

  test("copies messages as the wire would: replicas share no objects", async () => {
    const network = new MemoryNetwork();
    let received: PeerRequest | undefined;
    network.add({
      name: "r2",
      dispatch: async (request) => ((received = request), recorder("r2", []).dispatch(request)),
    });
    const message = { $case: "beacon" as const, value: { timestamp: "t" } };
    await network.peers("r1").send("r2", message);
    assert.notEqual(received?.message?.value, message.value);
    assert.deepEqual(received?.message?.value, message.value);
  });

  test("delay holds messages back, one way, per link or for all", async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock });
    let arrived = NaN;
    for (const name of ["r1", "r2", "r3"]) {
      network.add({
        name,
        dispatch: async (request) => {
          arrived = clock.now();
          return { type: request.type, sender: name, success: true, message: ping };
        },
      });
    }
    /** The milliseconds a request from `from` to `to` takes to arrive, and its reply to come back. */
    const legs = async (from: string, to: string): Promise<[there: number, back: number]> => {
      const sent = clock.now();
      await clock.settle(network.peers(from).send(to, ping));
      return [arrived - sent, clock.now() - arrived];
    };
    network.delay(40);
    network.delay("r2", "r1", 0);
    assert.deepEqual(await legs("r1", "r2"), [40, 0]);
    assert.deepEqual(await legs("r2", "r1"), [0, 40]);
    // Links without a delay of their own take the one for all.
    assert.deepEqual(await legs("r1", "r3"), [40, 40]);
    assert.throws(() => network.delay(-1), RangeError);
  });

  test("drop loses messages of one direction until heal", async () => {
    const { replicas, network } = cluster(2);
    const [r1, r2] = replicas;
    network.drop("r1", "r2");
    await assert.rejects(r1!.peers.send("r2", ping), (error: PeerError) => error.code === Code.UNAVAILABLE);
    assert.equal(network.stats.dropped, 1);
    // r2's requests reach r1, but r1's replies to them are lost.
    await assert.rejects(r2!.peers.send("r1", ping), /dropped a message r1 → r2/);
    assert.deepEqual(network.stats, { delivered: 1, dropped: 2 });
    network.heal();
    assert.ok(await r1!.peers.send("r2", ping));
  });

  test("a reply lost on the way back rejects the send", async () => {
    const { replicas, network } = cluster(2);
    network.delay(20);
    const pending = replicas[0]!.peers.send("r2", ping);
    network.drop("r2", "r1");
    await assert.rejects(pending, (error: PeerError) => error.code === Code.UNAVAILABLE);
    await network.settled();
    assert.equal(network.stats.delivered, 1);
  });

  test("tells its observer of each message as it leaves and as it arrives, never of a lost one's arrival", async () => {
    const events: string[] = [];
    const clock = new VirtualClock();
    const network = new MemoryNetwork({
      clock,
      observer: {
        sent: (from, to, type, message, reply) => {
          const success = "success" in message ? ` ${message.success}` : "";
          events.push(`${clock.now()} sent ${from} → ${to} ${Type[type] ?? type}${reply ? " reply" : ""}${success}`);
          return events.length;
        },
        arrived: (sent) => void events.push(`${clock.now()} arrived ${sent}`),
      },
    });
    const replicas = ["r1", "r2"].map((name) => new Replica({ name, peers: network.peers(name, clock), clock }));
    network.add(...replicas);
    network.delay(2);
    await clock.settle(replicas[0]!.peers.send("r2", ping));
    network.drop("r2", "r1");
    await clock.settle(assert.rejects(replicas[0]!.peers.send("r2", ping)));
    network.heal();
    await clock.settle(
      assert.rejects(network.deliver("r1", "r2", { type: UNKNOWN, sender: "r1", message: ping }), /not known/),
    );
    assert.deepEqual(events, [
      "0 sent r1 → r2 BEACON",
      "2 arrived 1",
      "2 sent r2 → r1 BEACON reply true",
      "4 arrived 3",
      // The reply is lost on a dropped link: it never arrives.
      "4 sent r1 → r2 BEACON",
      "6 arrived 5",
      "6 sent r2 → r1 BEACON reply true",
      // An error is an unsuccessful reply without a message.
      `8 sent r1 → r2 ${UNKNOWN}`,
      "10 arrived 8",
      `10 sent r2 → r1 ${UNKNOWN} reply false`,
      "12 arrived 10",
    ]);
  });

  test("quorum under a partition: the majority side resolves, the minority side rejects", async () => {
    const { replicas, network } = cluster(5);
    network.partition(["r1", "r2", "r3"], ["r4", "r5"]);
    const majority = await replicas[0]!.peers.quorum(ping);
    assert.deepEqual([...majority.keys()].sort(), ["r2", "r3"]);
    await assert.rejects(replicas[3]!.peers.quorum(ping), (error: QuorumError) => {
      assert.ok(error instanceof QuorumError);
      assert.deepEqual([...error.failures.keys()].sort(), ["r1", "r2", "r3"]);
      assert.match(error.message, /^no BEACON quorum of 3\/5: 3 of 4 peers failed/);
      return true;
    });
    network.heal();
    assert.equal((await replicas[3]!.peers.quorum(ping)).size >= 2, true);
  });

  test("quorum times out when peers are too slow", async () => {
    const { replicas, network } = cluster(3);
    network.delay(200);
    await assert.rejects(replicas[0]!.peers.quorum(ping, { timeout: 20 }), /timed out after 20 ms/);
    network.delay(0);
  });

  test("a replica's status reaches the sender as a PeerError", async () => {
    const { network } = cluster(2);
    await assert.rejects(
      network.deliver("r1", "r2", { type: UNKNOWN, sender: "r1", message: ping }),
      (error: PeerError) =>
        error.code === Code.UNIMPLEMENTED && error.message === `r2: type ${UNKNOWN} is not known to this replica`,
    );
  });

  test("a reply that does not answer its request rejects the send", async () => {
    const network = new MemoryNetwork();
    const answers: PeerReply[] = [
      { type: Type.BEACON, sender: "r2", success: true, message: undefined },
      { type: Type.BEACON, sender: "r2", success: false, message: undefined },
      { type: UNKNOWN, sender: "r2", success: true, message: undefined },
    ];
    network.add({ name: "r2", dispatch: async () => answers.shift()! });
    const peers = network.peers("r1");
    await assert.rejects(peers.send("r2", ping), /^PeerError: r2: answered BEACON without its reply message$/);
    await assert.rejects(peers.send("r2", ping), /^PeerError: r2: answered BEACON with success=false$/);
    await assert.rejects(
      peers.send("r2", ping),
      new RegExp(`^PeerError: r2: answered BEACON with a reply of type ${UNKNOWN}$`),
    );
  });

  test("a replica that left is unreachable", async () => {
    const { replicas, network } = cluster(3);
    network.remove("r3");
    assert.deepEqual(replicas[0]!.peers.names, ["r2"]);
    await assert.rejects(replicas[0]!.peers.send("r3", ping), PeerError);
  });
});

describe("MemoryNetwork on a virtual clock", () => {
  test("jitter reorders messages across links, never on one link, the same way for the same seed", async () => {
    const deliveries = async (seed: number): Promise<string[]> => {
      const clock = new VirtualClock();
      const network = new MemoryNetwork({ clock, random: new Random(seed, "network").next });
      const handled: string[] = [];
      network.add({
        name: "sink",
        dispatch: async (request): Promise<PeerReply> => {
          handled.push(`${request.sender}:${request.message?.$case === "beacon" && request.message.value.timestamp}`);
          return { type: Type.BEACON, sender: "sink", success: true, message: ping };
        },
      });
      network.delay(1);
      network.jitter(20);
      const sends = ["a", "b", "c"].flatMap((from) =>
        [1, 2, 3, 4].map((n) => network.peers(from).send("sink", { $case: "beacon", value: { timestamp: String(n) } })),
      );
      await clock.settle(Promise.all(sends));
      return handled;
    };
    const handled = await deliveries(7);
    for (const from of ["a", "b", "c"]) {
      assert.deepEqual(
        handled.filter((h) => h.startsWith(from)),
        [1, 2, 3, 4].map((n) => `${from}:${n}`),
      );
    }
    const senders = handled.map((h) => h[0]).join("");
    assert.notEqual(senders, "aaaabbbbcccc", "links interleave");
    assert.deepEqual(await deliveries(7), handled);
    const others = await Promise.all([8, 9, 10].map(deliveries));
    assert.ok(others.some((other) => other.join() !== handled.join()));
  });

  test("loss loses messages with its probability: the send rejects UNAVAILABLE", async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock, random: new Random(1, "network").next });
    network.add(new Replica({ name: "r2" }));
    const peers = network.peers("r1");
    network.loss(1);
    await assert.rejects(peers.send("r2", ping), (error: PeerError) => error.code === Code.UNAVAILABLE);
    network.loss(0.5);
    const outcomes = await clock.settle(Promise.allSettled(Array.from({ length: 200 }, () => peers.send("r2", ping))));
    const lost = outcomes.filter((outcome) => outcome.status === "rejected").length;
    // Both the request and the reply may be lost: 1 - 0.5² = 75% of sends fail, give or take.
    assert.ok(lost > 120 && lost < 180, `${lost} of 200 lost`);
    assert.throws(() => network.loss(2), RangeError);
  });

  test("a reply from a replica that left while handling the request is lost, even if it is back", async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock });
    const slow = (name: string) => ({
      name,
      dispatch: async (): Promise<PeerReply> => {
        await sleep(clock, 50);
        return { type: Type.BEACON, sender: name, success: true, message: ping };
      },
    });
    network.add(slow("r2"));
    const pending = network.peers("r1").send("r2", ping);
    await clock.advance(10);
    network.remove("r2");
    network.add(slow("r2"));
    await assert.rejects(clock.settle(pending), /r2: left the network before replying/);
    assert.ok(await clock.settle(network.peers("r1").send("r2", ping)));
  });

  test("a request whose handler never finishes, in a replica that left, does not hold up the link once it is back", async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock });
    const stuck = { name: "r2", dispatch: () => new Promise<PeerReply>(() => {}) };
    network.add(stuck);
    const pending = network.peers("r1").send("r2", ping);
    await clock.advance(10);
    network.remove("r2");
    await assert.rejects(clock.settle(pending), /r2: left the network before replying/);
    network.add(new Replica({ name: "r2", peers: network.peers("r2") }));
    assert.ok(await clock.settle(network.peers("r1").send("r2", ping)));
  });

  test("deadlines and quorum timeouts run on the network's clock; close rejects what is pending", async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock });
    const replicas = ["r1", "r2", "r3"].map((name) => new Replica({ name, peers: network.peers(name) }));
    network.add(...replicas);
    network.delay(200);
    const quorum = replicas[0]!.peers.quorum(ping, { timeout: 20 });
    await assert.rejects(clock.settle(quorum), (error: QuorumError) => error instanceof QuorumError);
    assert.equal(clock.now(), 20);
    await assert.rejects(
      clock.settle(replicas[0]!.peers.send("r2", ping, { timeout: 30 })),
      (error: PeerError) => error.code === Code.DEADLINE_EXCEEDED && clock.now() === 50,
    );
    const pending = replicas[1]!.peers.send("r3", ping);
    await replicas[1]!.peers.close();
    await assert.rejects(pending, (error: PeerError) => error.code === Code.CANCELLED);
  });
});
