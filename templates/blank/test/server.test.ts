// The replica over real gRPC on 127.0.0.1: Dispatch answers in order under a
// pipelining client, ends a stream with the status the contract names, and
// survives peers that misbehave or hang up.
// First: the replica must know a second type when its runtime loads.
import { ANOTHER, UNKNOWN } from "./support/types.js";
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { PeerReply, PeerRequest, Type } from "../src/pb/envelope.js";
import { ConsensusClient, ConsensusService } from "../src/pb/service.js";
import { coalesceReplies } from "../src/coalesce.js";
import { Replica } from "../src/replica.js";
import { consensusService, HIGH_WATER, ReplicaServer, type Served } from "../src/server.js";
import { Code, StatusError, unimplemented } from "../src/status.js";
import { deadline } from "./support/deadline.js";

/** The timestamp of a beacon request or reply ("" for other messages). */
const stamp = (envelope: PeerRequest | PeerReply): string =>
  envelope.message?.$case === "beacon" ? envelope.message.value.timestamp : "";

const beacon = (timestamp: string, type: number = Type.BEACON): PeerRequest => ({
  type,
  sender: "client",
  message: { $case: "beacon", value: { timestamp } },
});

interface Outcome {
  replies: PeerReply[];
  code: grpc.status;
  details: string;
}

/** Writes all `requests` at once on one Dispatch stream, half-closes, and collects what comes back. */
function exchange(client: ConsensusClient, requests: PeerRequest[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const replies: PeerReply[] = [];
    const stream = client.dispatch(deadline());
    let status: grpc.StatusObject | undefined;
    let ended = false;
    const done = () => status && (ended || status.code !== Code.OK) && resolve({ replies, ...status });
    stream.on("data", (reply: PeerReply) => replies.push(reply));
    stream.on("error", () => undefined); // the status says it all
    stream.on("end", () => ((ended = true), done()));
    stream.on("status", (s: grpc.StatusObject) => ((status = s), done()));
    for (const request of requests) stream.write(request);
    stream.end();
  });
}

/** A PRNG with a fixed seed (Park-Miller), so the "random" delays are the same every run. */
function random(seed: number): () => number {
  return () => (seed = (seed * 48271) % 2147483647) / 2147483647;
}

describe("Dispatch over gRPC", { timeout: 30_000 }, () => {
  const replica = new Replica({ name: "r1" });
  const next = random(42);
  /**
   * The replica, with handler delays and failures chosen by the request's
   * timestamp, and replies that echo it (so their order can be checked).
   */
  const served: Served = {
    // Every field set, so that the test below sees each one carried.
    propose: async (request) => ({
      success: true,
      redirect: "r3",
      error: "e",
      seq: 2n ** 60n,
      leader: 2,
      name: request.name,
      value: Buffer.concat([request.value, Buffer.from([0, 255])]),
    }),
    async dispatch(request) {
      const timestamp = stamp(request);
      if (timestamp.startsWith("slow")) await sleep(Number(timestamp.slice(4)));
      else if (timestamp.startsWith("jitter")) await sleep(Math.floor(next() * 3));
      if (timestamp === "throw") throw new Error("boom");
      if (timestamp === "stub") throw unimplemented("ACCEPT", "src/handlers/accept.ts");
      if (timestamp === "status") throw new StatusError(Code.FAILED_PRECONDITION, "not the leader");
      const reply = await replica.dispatch(request);
      return { ...reply, message: { $case: "beacon", value: { timestamp } } };
    },
  };
  const server = new ReplicaServer(served);
  let client: ConsensusClient;
  let address: string;

  before(async () => {
    address = `127.0.0.1:${await server.listen()}`;
    client = new ConsensusClient(address, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await server.close();
  });

  test("answers 200 pipelined beacons once each, in request order", async () => {
    const requests = Array.from({ length: 200 }, (_, i) => beacon(`jitter${i}`));
    const { replies, code } = await exchange(client, requests);
    assert.equal(code, Code.OK);
    assert.deepEqual(
      replies.map((reply) => [reply.type, reply.sender, reply.success, stamp(reply)]),
      requests.map((request) => [Type.BEACON, "r1", true, stamp(request)]),
    );
  });

  test("answers 2000 pipelined requests, more than a stream queues before it stops reading", async () => {
    const requests = Array.from({ length: 2000 }, (_, i) => beacon(`n${i}`));
    const { replies, code } = await exchange(client, requests);
    assert.equal(code, Code.OK);
    assert.deepEqual(replies.map(stamp), requests.map(stamp));
  });

  test("answers in request order when a later request would be handled faster", async () => {
    const requests = [30, 0, 20, 0, 10, 0].map((ms) => beacon(`slow${ms}`));
    const { replies } = await exchange(client, requests);
    assert.deepEqual(replies.map(stamp), requests.map(stamp));
  });

  test("the replies of two streams do not mix", async () => {
    const requests = (name: string, count: number) =>
      Array.from({ length: count }, (_, i) => beacon(`jitter-${name}${i}`));
    const [a, b] = [requests("a", 50), requests("b", 30)];
    const outcomes = await Promise.all([exchange(client, a), exchange(client, b)]);
    assert.deepEqual(
      outcomes.map(({ code, replies }) => [code, replies.map(stamp)]),
      [
        [Code.OK, a.map(stamp)],
        [Code.OK, b.map(stamp)],
      ],
    );
  });

  const failures: [string, PeerRequest, grpc.status, RegExp][] = [
    [
      "a type this replica does not know",
      beacon("x", UNKNOWN),
      Code.UNIMPLEMENTED,
      new RegExp(`^type ${UNKNOWN} is not known to this replica$`),
    ],
    ["no message", { type: Type.BEACON, sender: "client", message: undefined }, Code.INVALID_ARGUMENT, /no message/],
    [
      "a handler that is still the stub",
      beacon("stub"),
      Code.UNIMPLEMENTED,
      /^ACCEPT is not implemented: write src\/handlers\/accept\.ts$/,
    ],
    [
      "a message of another type",
      beacon("x", ANOTHER),
      Code.INVALID_ARGUMENT,
      /^ANOTHER request carries a beacon message$/,
    ],
    ["a handler that throws", beacon("throw"), Code.INTERNAL, /^BEACON handler failed: boom$/],
    ["a handler that throws a StatusError", beacon("status"), Code.FAILED_PRECONDITION, /^not the leader$/],
  ];
  for (const [what, request, code, details] of failures) {
    test(`ends the stream with ${Code[code]} for ${what}, after answering the requests before it`, async () => {
      const outcome = await exchange(client, [beacon("ok"), beacon("ok"), request, beacon("never")]);
      assert.equal(outcome.code, code, outcome.details);
      assert.match(outcome.details, details);
      assert.equal(outcome.replies.length, 2);
      // The server still serves: a new stream on the same connection works.
      assert.equal((await exchange(client, [beacon("again")])).replies.length, 1);
    });
  }

  test("a peer whose connection drops mid-stream costs only its stream", async () => {
    const other = new ConsensusClient(address, grpc.credentials.createInsecure());
    const stream = other.dispatch(deadline());
    stream.on("error", () => undefined);
    for (let i = 0; i < 10; i++) stream.write(beacon("slow10"));
    await new Promise((resolve) => stream.once("data", resolve));
    other.close();
    stream.cancel();
    const again = await exchange(client, [beacon("a")]);
    assert.equal(again.replies.length, 1);
  });

  test("the replies to requests that arrive together leave together, in order", async () => {
    // grpc-js alone sends each reply in a DATA frame of its own; the README says 2 for these 64.
    const requests = Array.from({ length: 64 }, (_, i) => beacon(`n${i}`));
    const { replies, chunks } = await raw(address, requests);
    assert.deepEqual(replies.map(stamp), requests.map(stamp));
    assert.ok(chunks <= 2, `64 replies came in ${chunks} DATA frames`);
  });

  test("Propose carries the request to the replica and every field of its reply back", async () => {
    const reply = await new Promise((resolve, reject) =>
      client.propose(
        { identity: "c1", name: "put", value: Buffer.from("x") },
        new grpc.Metadata(),
        deadline(),
        (error, reply) => (error ? reject(error) : resolve(reply)),
      ),
    );
    assert.deepEqual(reply, {
      success: true,
      redirect: "r3",
      error: "e",
      seq: 2n ** 60n,
      leader: 2,
      name: "put",
      value: Buffer.from([120, 0, 255]),
    });
  });
});

/**
 * Sends `requests` to `address` in one HTTP/2 write over node:http2 (to see how the replies arrive),
 * reading nothing until `reading` resolves; resolves with the replies and the DATA frames they came in.
 */
async function raw(
  address: string,
  requests: PeerRequest[],
  reading?: Promise<void>,
): Promise<{ replies: PeerReply[]; chunks: number }> {
  const body = Buffer.concat(
    requests.map((request) => {
      const message = PeerRequest.encode(request).finish();
      const frame = Buffer.alloc(5 + message.length);
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      return frame;
    }),
  );
  const session = http2.connect(`http://${address}`);
  try {
    const stream = session.request({
      ":method": "POST",
      ":path": "/pb.Consensus/Dispatch",
      "content-type": "application/grpc",
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    const closed = new Promise((resolve) => stream.on("close", resolve));
    stream.end(body);
    await reading;
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    await closed;
    const data = Buffer.concat(chunks);
    const replies: PeerReply[] = [];
    for (let offset = 0; offset < data.length; offset += 5 + data.readUInt32BE(offset + 1)) {
      replies.push(PeerReply.decode(data.subarray(offset + 5, offset + 5 + data.readUInt32BE(offset + 1))));
    }
    return { replies, chunks: chunks.length };
  } finally {
    session.close();
  }
}

/** The reply a replica gives `request`, carrying the request's stamp back. */
async function echo(replica: Replica, request: PeerRequest): Promise<PeerReply> {
  const reply = await replica.dispatch(request);
  return { ...reply, message: { $case: "beacon", value: { timestamp: stamp(request) } } };
}

/** The replies src/coalesce.ts lets HTTP/2 hold before the next must wait (its README says so). */
const IN_FLIGHT = 128;

/** Notes, beneath the coalescing interceptor, the replies handed to HTTP/2 and those not yet on the socket. */
class SocketSide extends grpc.ServerInterceptingCall {
  static handed = 0;
  static inFlight = 0;
  static most = 0;
  static full: () => void = () => undefined;

  override sendMessage(message: unknown, written: () => void): void {
    SocketSide.handed++;
    SocketSide.most = Math.max(SocketSide.most, ++SocketSide.inFlight);
    if (SocketSide.inFlight === IN_FLIGHT) SocketSide.full();
    super.sendMessage(message, () => {
      SocketSide.inFlight--;
      written();
    });
  }
}

describe("a peer that stops reading", { timeout: 30_000 }, () => {
  test("holds 128 replies in flight, handles no more than HIGH_WATER requests ahead of them, then sends every one in order", async () => {
    const stalled = new Promise<void>((resolve) => (SocketSide.full = resolve));
    const replica = new Replica({ name: "r1" });
    let handled = 0;
    let ahead = 0;
    const server = new grpc.Server({ interceptors: [(_method, call) => new SocketSide(call), coalesceReplies] });
    server.addService(
      ConsensusService,
      consensusService({
        propose: (request) => replica.propose(request),
        dispatch(request) {
          ahead = Math.max(ahead, ++handled - SocketSide.handed);
          return echo(replica, request);
        },
      }),
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    try {
      // Replies of ~220 bytes: the peer's 64 KiB HTTP/2 window takes ~300, the rest must wait.
      const requests = Array.from({ length: 2000 }, (_, i) => beacon(`n${i}`.padEnd(200, ".")));
      // The peer reads once the replica has the bound in flight, which it reaches only because the peer does not read.
      const { replies } = await raw(`127.0.0.1:${port}`, requests, stalled);
      assert.equal(SocketSide.most, IN_FLIGHT, "replies in flight at most");
      // Beyond what is in flight: the unanswered requests a stream takes before it stops reading, and what
      // the call buffers before it says wait (16, the one being written among them).
      assert.ok(ahead <= HIGH_WATER + 16, `${ahead} requests handled ahead of what HTTP/2 was handed`);
      assert.deepEqual(replies.map(stamp), requests.map(stamp));
    } finally {
      server.forceShutdown();
    }
  });
});

/**
 * Watches the Dispatch calls of a server from its handler's side: the requests the stream
 * has taken, the replies written, and whether the peer cancelled.
 */
function watch() {
  const seen = { received: 0, sent: 0, cancelled: false };
  let wake: (() => void) | undefined;
  const changed = () => wake?.();
  const interceptor: grpc.ServerInterceptor = (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message, pass) => {
            pass(message);
            // The call emits what it was given within this turn: counted once the stream has it.
            setImmediate(() => (seen.received++, changed()));
          },
          onCancel: () => ((seen.cancelled = true), changed()),
        }),
      sendMessage: (message, pass) => (seen.sent++, pass(message)),
    });
  return {
    seen,
    interceptor,
    async until(done: () => boolean): Promise<void> {
      while (!done()) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

/**
 * A served replica whose handler notes each request's stamp in `handled` and echoes it, and
 * holds the request stamped "held" until release(); one Dispatch stream open on it.
 */
async function heldServer() {
  const replica = new Replica({ name: "r1" });
  const handled: string[] = [];
  let entered!: () => void;
  const holding = new Promise<void>((resolve) => (entered = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const watcher = watch();
  const server = new ReplicaServer(
    {
      propose: (request) => replica.propose(request),
      async dispatch(request) {
        handled.push(stamp(request));
        if (stamp(request) === "held") {
          entered();
          await released;
        }
        return echo(replica, request);
      },
    },
    { interceptors: [watcher.interceptor] },
  );
  const client = new ConsensusClient(`127.0.0.1:${await server.listen()}`, grpc.credentials.createInsecure());
  const stream = client.dispatch(deadline());
  const replies: PeerReply[] = [];
  const status = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
  stream.on("data", (reply: PeerReply) => replies.push(reply));
  stream.on("error", () => undefined);
  return { server, client, stream, replies, status, handled, holding, release, watcher };
}

describe("a peer that cancels its stream", { timeout: 30_000 }, () => {
  test("costs only its stream: what it received is not answered, nothing more is written to it, close does not wait for it", async () => {
    const { server, client, stream, handled, holding, release, watcher } = await heldServer();
    try {
      for (const timestamp of ["first", "held", "q1", "q2", "q3"]) stream.write(beacon(timestamp));
      await watcher.until(() => watcher.seen.received === 5);
      await holding;
      const sent = watcher.seen.sent; // the reply to "first"
      stream.cancel();
      await watcher.until(() => watcher.seen.cancelled);
      release();
      const again = await exchange(client, [beacon("a"), beacon("b")]);
      assert.deepEqual([again.code, again.replies.map(stamp)], [Code.OK, ["a", "b"]]);
      // A stream left open would hold close for its whole timeout, past the suite's.
      await server.close(60_000);
      // Each request was handed to the replica as it arrived, the held one's followers too.
      assert.deepEqual(handled, ["first", "held", "q1", "q2", "q3", "a", "b"]);
      assert.equal(watcher.seen.sent, sent + 2, "only the other stream's replies written after the cancel");
    } finally {
      release();
      client.close();
    }
  });
});

describe("ReplicaServer.close", { timeout: 30_000 }, () => {
  test("answers every request a stream has received, in order, ends it with OK, then stops", async () => {
    const { server, client, stream, replies, status, handled, holding, release, watcher } = await heldServer();
    try {
      for (const timestamp of ["held", "b", "c"]) stream.write(beacon(timestamp));
      await watcher.until(() => watcher.seen.received === 3);
      await holding;
      // "b" and "c" were handled without waiting for "held"; their replies wait behind its.
      assert.deepEqual([handled, replies.length], [["held", "b", "c"], 0]);
      const closed = server.close();
      release();
      await closed;
      assert.equal((await status).code, Code.OK);
      assert.deepEqual(replies.map(stamp), ["held", "b", "c"]);
    } finally {
      client.close();
    }
  });

  test("cuts what is left after the timeout", async () => {
    const { server, client, stream, status, holding, release } = await heldServer();
    try {
      stream.write(beacon("held"));
      await holding;
      await server.close(100);
      assert.notEqual((await status).code, Code.OK);
    } finally {
      release();
      client.close();
    }
  });
});
