// The replica over real gRPC on 127.0.0.1: Dispatch answers in order under a
// pipelining client, ends a stream with the status the contract names, and
// survives peers that misbehave or hang up.
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { PeerReply, PeerRequest, Type } from "../src/pb/envelope.js";
import { ConsensusClient } from "../src/pb/service.js";
import { Replica } from "../src/replica.js";
import { ReplicaServer, type Served } from "../src/server.js";
import { Code, StatusError, unimplemented } from "../src/status.js";

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
    const stream = client.dispatch();
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
    const [a, b] = await Promise.all([
      exchange(
        client,
        Array.from({ length: 50 }, (_, i) => beacon(`jitter${i}`)),
      ),
      exchange(
        client,
        Array.from({ length: 30 }, (_, i) => beacon(`jitter${i}`)),
      ),
    ]);
    assert.deepEqual([a.replies.length, b.replies.length], [50, 30]);
  });

  const failures: [string, PeerRequest, grpc.status, RegExp][] = [
    ["a type this replica does not know", beacon("x", 7), Code.UNIMPLEMENTED, /^type 7 is not known to this replica$/],
    ["no message", { type: Type.BEACON, sender: "client", message: undefined }, Code.INVALID_ARGUMENT, /no message/],
    [
      "a handler that is still the stub",
      beacon("stub"),
      Code.UNIMPLEMENTED,
      /^ACCEPT is not implemented: write src\/handlers\/accept\.ts$/,
    ],
    ["a handler that throws", beacon("throw"), Code.INTERNAL, /^BEACON handler failed: boom$/],
    ["a handler that throws a StatusError", beacon("status"), Code.FAILED_PRECONDITION, /^not the leader$/],
  ];
  const other = Object.values(Type).find((t) => typeof t === "number" && t !== Type.BEACON && t !== Type.UNRECOGNIZED);
  if (other !== undefined) {
    failures.push([
      "a message of another type",
      beacon("x", other as Type),
      Code.INVALID_ARGUMENT,
      /carries a beacon message/,
    ]);
  }
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

  test("a peer that hangs up mid-stream costs only its stream", async () => {
    const stream = client.dispatch();
    stream.on("error", () => undefined);
    const first = new Promise((resolve) => stream.once("data", resolve));
    stream.write(beacon("ok"));
    for (let i = 0; i < 20; i++) stream.write(beacon("slow20"));
    await first;
    stream.cancel(); // handlers are still running: their replies have nowhere to go
    await sleep(100);
    const again = await exchange(client, [beacon("a"), beacon("b")]);
    assert.equal(again.code, Code.OK);
    assert.equal(again.replies.length, 2);
  });

  test("a peer whose connection drops mid-stream costs only its stream", async () => {
    const other = new ConsensusClient(address, grpc.credentials.createInsecure());
    const stream = other.dispatch();
    stream.on("error", () => undefined);
    for (let i = 0; i < 10; i++) stream.write(beacon("slow10"));
    await new Promise((resolve) => stream.once("data", resolve));
    other.close();
    stream.cancel();
    const again = await exchange(client, [beacon("a")]);
    assert.equal(again.replies.length, 1);
  });

  /**
   * Sends `requests` in one HTTP/2 write over node:http2 (to see how the replies arrive), reading
   * nothing for `stall` ms; resolves with the replies and the DATA frames they came in.
   */
  async function raw(
    requests: PeerRequest[],
    stall = 0,
    stalled = () => undefined,
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
      if (stall > 0) await sleep(stall);
      stalled();
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

  test("the replies to requests that arrive together leave together, in order", async () => {
    // grpc-js alone sends each reply in a DATA frame of its own.
    const requests = Array.from({ length: 64 }, (_, i) => beacon(`n${i}`));
    const { replies, chunks } = await raw(requests);
    assert.deepEqual(replies.map(stamp), requests.map(stamp));
    assert.ok(chunks <= 8, `64 replies came in ${chunks} DATA frames`);
  });

  test("a peer that stops reading holds the replies back, then gets every one in order", async () => {
    // 5000 replies overflow the peer's HTTP/2 window: the replica waits for it instead of queueing without end.
    const requests = Array.from({ length: 5000 }, (_, i) => beacon(`n${i}`));
    const before = replica.metrics.messages;
    let handled = 0;
    const { replies } = await raw(requests, 300, () => void (handled = replica.metrics.messages - before));
    assert.ok(handled < requests.length, `${handled} handled while the peer read nothing`);
    assert.deepEqual(replies.map(stamp), requests.map(stamp));
  });

  test("Propose carries the request to the replica and every field of its reply back", async () => {
    const reply = await new Promise((resolve, reject) =>
      client.propose({ identity: "c1", name: "put", value: Buffer.from("x") }, (error, reply) =>
        error ? reject(error) : resolve(reply),
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

describe("ReplicaServer.close", { timeout: 30_000 }, () => {
  /** A server whose handler signals each call and waits `ms` (forever when undefined) before answering. */
  async function slowServer(ms: number | undefined) {
    const replica = new Replica({ name: "r1" });
    let handled = 0;
    let signal!: () => void;
    const called = new Promise<void>((resolve) => (signal = resolve));
    const server = new ReplicaServer({
      propose: (request) => replica.propose(request),
      async dispatch(request) {
        handled++;
        signal();
        await (ms === undefined ? new Promise(() => undefined) : sleep(ms));
        return replica.dispatch(request);
      },
    });
    const client = new ConsensusClient(`127.0.0.1:${await server.listen()}`, grpc.credentials.createInsecure());
    const stream = client.dispatch();
    const replies: PeerReply[] = [];
    const status = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
    stream.on("data", (reply: PeerReply) => replies.push(reply));
    stream.on("error", () => undefined);
    return { server, client, stream, replies, status, called, handled: () => handled };
  }

  test("answers what a stream has received, ends it with OK, then stops", async () => {
    const { server, client, stream, replies, status, called, handled } = await slowServer(50);
    try {
      stream.write(beacon("a"));
      stream.write(beacon("b"));
      await called; // the first request is being handled
      await server.close();
      assert.equal((await status).code, Code.OK);
      assert.ok(handled() >= 1);
      assert.equal(replies.length, handled(), "every request handled was answered");
    } finally {
      client.close();
    }
  });

  test("cuts what is left after the timeout", async () => {
    const { server, client, stream, status, called } = await slowServer(undefined);
    try {
      stream.write(beacon("a"));
      await called;
      await server.close(100);
      assert.notEqual((await status).code, Code.OK);
    } finally {
      client.close();
    }
  });
});
