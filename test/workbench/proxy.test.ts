// src/workbench/proxy.ts with real sockets on 127.0.0.1: a partition stops
// exactly the links between its sides, both ways, and nothing else; a heal
// restores them; a delay slows every byte without losing or reordering any; a
// slow reader slows the sender instead of filling the proxy; close() lets go
// of every port. And, at the gRPC level, a Dispatch across a cut gets no reply
// until the heal.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import { type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { type PeerReply, PeerRequest, Type } from "../../src/workbench/pb/envelope.js";
import { ConsensusClient, ConsensusService } from "../../src/workbench/pb/service.js";
import { LinkProxies, type Peer } from "../../src/workbench/proxy.js";
import { spawnChild } from "../support/child.js";

const HOST = "127.0.0.1";

/** A TCP server on 127.0.0.1 that echoes what it reads (or, paused, reads nothing until told), counting its connections. */
class Target {
  accepted = 0;
  readonly sockets = new Set<Socket>();
  private constructor(
    readonly server: Server,
    readonly peer: Peer,
  ) {}

  static async start(name: string, { echo = true, port = 0 } = {}): Promise<Target> {
    const server = createServer({ pauseOnConnect: !echo });
    server.listen({ host: HOST, port });
    await once(server, "listening");
    const target = new Target(server, { name, host: HOST, port: (server.address() as AddressInfo).port });
    server.on("connection", (socket) => {
      target.accepted++;
      target.sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => target.sockets.delete(socket));
      if (echo) socket.pipe(socket);
    });
    return target;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
    await once(this.server, "close");
  }
}

/** Targets r1..rN and the proxies between them, all closed when the test ends. */
async function cluster(t: TestContext, count: number): Promise<{ targets: Target[]; proxies: LinkProxies }> {
  const targets = await Promise.all(Array.from({ length: count }, (_, i) => Target.start(`r${i + 1}`)));
  const proxies = await LinkProxies.start(
    targets.map((target) => target.peer),
    HOST,
  );
  t.after(async () => {
    await proxies.close();
    await Promise.all(targets.map((target) => target.close()));
  });
  return { targets, proxies };
}

function dial(address: string): Socket {
  const colon = address.lastIndexOf(":");
  const socket = connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
  socket.on("error", () => {});
  return socket;
}

/** Resolves when `socket` closes, whether reset or ended (events.once would reject on the reset). */
function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once("close", () => resolve()));
}

/** Reads from `socket` until `length` bytes have come; rejects if it closes first. */
function read(socket: Socket, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= length) {
        socket.off("data", onData).off("close", onClose);
        resolve(Buffer.concat(chunks));
      }
    };
    const onClose = () => reject(new Error(`closed after ${got} of ${length} bytes`));
    socket.on("data", onData).on("close", onClose);
  });
}

/** Sends `payload` through `address` to an echo target and resolves with what came back. */
async function roundTrip(address: string, payload: Buffer = randomBytes(1024)): Promise<Buffer> {
  const socket = dial(address);
  try {
    const echoed = read(socket, payload.length);
    socket.write(payload);
    return await echoed;
  } finally {
    socket.destroy();
  }
}

async function assertEchoes(address: string): Promise<void> {
  const payload = randomBytes(4096);
  assert.deepEqual(await roundTrip(address, payload), payload);
}

/** Dials `address` and resolves with the bytes it got before the connection closed. */
async function refused(address: string): Promise<number> {
  const socket = dial(address);
  let got = 0;
  socket.on("data", (chunk: Buffer) => (got += chunk.length));
  socket.write("hello?");
  await closed(socket);
  return got;
}

test("every ordered pair has its own listener, which forwards to the target", async (t) => {
  const { proxies } = await cluster(t, 3);
  const addresses = new Set<string>();
  for (const from of ["r1", "r2", "r3"]) {
    for (const to of ["r1", "r2", "r3"]) {
      if (from === to) {
        assert.throws(
          () => proxies.address(from, to),
          /no link from r1 to r1|no link from r2 to r2|no link from r3 to r3/,
        );
        continue;
      }
      addresses.add(proxies.address(from, to));
      await assertEchoes(proxies.address(from, to));
    }
  }
  assert.equal(addresses.size, 6);
});

test("a partition cuts the links between its sides, both ways and at once, and only those; a heal restores them", async (t) => {
  const { targets, proxies } = await cluster(t, 3);
  const [, , r3] = targets as [Target, Target, Target];
  // Connections open before the cut, one across it and one within a side.
  const across = dial(proxies.address("r1", "r3"));
  const within = dial(proxies.address("r1", "r2"));
  for (const socket of [across, within]) {
    const echoed = read(socket, 5);
    socket.write("ready");
    assert.equal((await echoed).toString(), "ready");
  }
  const acrossClosed = closed(across);
  const acceptedByR3 = r3.accepted;

  proxies.partition([["r1", "r2"], ["r3"]]);

  // The connection across is destroyed at once, at the target's end too.
  await acrossClosed;
  while (r3.sockets.size > 0) await closed([...r3.sockets][0]!);
  // New connections across are accepted and reset, in both directions, and reach nothing.
  for (const [from, to] of [
    ["r1", "r3"],
    ["r3", "r1"],
    ["r2", "r3"],
    ["r3", "r2"],
  ] as const) {
    assert.equal(await refused(proxies.address(from, to)), 0, `${from}→${to} carried bytes across the cut`);
  }
  assert.equal(r3.accepted, acceptedByR3, "a connection across the cut reached r3");
  // Within a side everything still flows, old connections and new.
  const echoed = read(within, 5);
  within.write("still");
  assert.equal((await echoed).toString(), "still");
  await assertEchoes(proxies.address("r1", "r2"));
  await assertEchoes(proxies.address("r2", "r1"));

  proxies.heal();
  for (const [from, to] of [
    ["r1", "r3"],
    ["r3", "r1"],
    ["r2", "r3"],
    ["r3", "r2"],
  ] as const) {
    await assertEchoes(proxies.address(from, to));
  }
  within.destroy();
});

test("a partition replaces the previous one; a replica on no side keeps its links", async (t) => {
  const { proxies } = await cluster(t, 4);
  proxies.partition([["r1"], ["r2", "r3", "r4"]]);
  assert.equal(await refused(proxies.address("r2", "r1")), 0);
  proxies.partition([["r1", "r2"], ["r3"]]);
  await assertEchoes(proxies.address("r2", "r1"));
  assert.equal(await refused(proxies.address("r1", "r3")), 0);
  await assertEchoes(proxies.address("r4", "r3"));
  await assertEchoes(proxies.address("r1", "r4"));
  assert.throws(() => proxies.partition([["r1"], ["r9"]]), /no replica is named r9/);
  assert.throws(() => proxies.partition([["r1"], ["r1", "r2"]]), /r1 is on two sides/);
});

test("a delay holds every byte at least that long each way, and keeps their order and content", async (t) => {
  const { proxies } = await cluster(t, 2);
  proxies.delay(100);
  const payload = randomBytes(4 * 1024 * 1024);
  const started = performance.now();
  const echoed = await roundTrip(proxies.address("r1", "r2"), payload);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 200, `a round trip took ${elapsed} ms with 100 ms each way`);
  assert.ok(echoed.equals(payload), "the bytes came back changed or reordered");

  proxies.delay(0);
  await assertEchoes(proxies.address("r2", "r1"));
  assert.throws(() => proxies.delay(-1), /delay -1/);
});

test("bytes keep their order while the delay changes under them", async (t) => {
  const { proxies } = await cluster(t, 2);
  const socket = dial(proxies.address("r1", "r2"));
  const chunks = Array.from({ length: 200 }, () => randomBytes(16 * 1024));
  const total = Buffer.concat(chunks);
  const echoed = read(socket, total.length);
  for (const [i, chunk] of chunks.entries()) {
    if (i % 20 === 0) proxies.delay([80, 0, 5, 40, 0][(i / 20) % 5]!);
    socket.write(chunk);
    // Lets the proxy read between writes, so that the chunks arrive under different delays.
    if (i % 5 === 0) await sleep(2);
  }
  assert.ok((await echoed).equals(total), "the bytes came back changed or reordered");
  socket.destroy();
});

for (const delay of [0, 20]) {
  test(`a reader that does not read makes the proxy stop reading, not buffer, with a delay of ${delay} ms; all arrives once it reads`, async (t) => {
    const reader = await Target.start("r2", { echo: false });
    const writer = await Target.start("r1");
    const proxies = await LinkProxies.start([writer.peer, reader.peer], HOST);
    t.after(async () => {
      await proxies.close();
      await Promise.all([reader.close(), writer.close()]);
    });
    proxies.delay(delay);
    const payload = randomBytes(96 * 1024 * 1024);
    const socket = dial(proxies.address("r1", "r2"));
    // Written a chunk at a time, each once the one before has gone to the kernel:
    // `handed` is then what the sender got rid of.
    let handed = 0;
    const writing = (async () => {
      for (let offset = 0; offset < payload.length; offset += 64 * 1024) {
        const chunk = payload.subarray(offset, offset + 64 * 1024);
        if (!socket.write(chunk)) await once(socket, "drain");
        handed = offset + chunk.length;
      }
    })();
    // Waits until the sender can hand no more. Without backpressure the proxy
    // would take all 96 MiB; with it, the kernel's buffers on the way (a few MiB
    // each) and a chunk or two in the proxy fill up, and the sender waits.
    for (let still = 0, last = -1; still < 6; last = handed) {
      await sleep(50);
      still = handed === last ? still + 1 : 0;
    }
    assert.ok(handed < payload.length / 2, `${handed} bytes left the sender while nothing was read`);

    const [received] = [...reader.sockets] as [Socket];
    const digest = createHash("sha256");
    let got = 0;
    received.on("data", (chunk: Buffer) => {
      digest.update(chunk);
      got += chunk.length;
      if (got === payload.length) received.emit("everything");
    });
    const everything = once(received, "everything");
    received.resume();
    await everything;
    assert.equal(digest.digest("hex"), createHash("sha256").update(payload).digest("hex"));
    await writing;
    socket.destroy();
  });
}

test("a dial to a target that is down is reset, and goes through again once it is back on its port", async (t) => {
  const { targets, proxies } = await cluster(t, 2);
  const [, r2] = targets as [Target, Target];
  await r2.close();
  assert.equal(await refused(proxies.address("r1", "r2")), 0);
  const back = await Target.start("r2", { port: r2.peer.port });
  t.after(() => back.close());
  await assertEchoes(proxies.address("r1", "r2"));
});

test("close() destroys every connection and lets go of every port", async (t) => {
  const targets = await Promise.all(["r1", "r2", "r3"].map((name) => Target.start(name)));
  t.after(() => Promise.all(targets.map((target) => target.close())));
  const proxies = await LinkProxies.start(
    targets.map((target) => target.peer),
    HOST,
  );
  const addresses = ["r1", "r2", "r3"].flatMap((from) =>
    ["r1", "r2", "r3"].filter((to) => to !== from).map((to) => proxies.address(from, to)),
  );
  const open = dial(proxies.address("r2", "r3"));
  const echoed = read(open, 2);
  open.write("hi");
  await echoed;
  const openClosed = closed(open);

  await proxies.close();
  await openClosed;
  assert.equal(proxies.close(), proxies.close(), "close() twice is one close");
  for (const address of addresses) {
    const port = Number(address.slice(address.lastIndexOf(":") + 1));
    const server = createServer().listen({ host: HOST, port });
    await once(server, "listening");
    server.close();
    await once(server, "close");
  }
});

test("a cut in the same turn as an end passed on: the connection still closes, and close() resolves", async (t) => {
  // In a process of its own: resetting a socket whose end is pending leaves Node a handle that never
  // closes, which held `consensus bench` spinning at exit (test/support/proxy-cut-after-end.ts).
  const script = path.join(import.meta.dirname, "../support/proxy-cut-after-end.js");
  const child = spawnChild([process.execPath, script], { t, timeout: 20_000 });
  const { code, stdout } = await child.result();
  assert.deepEqual({ code, stdout }, { code: 0, stdout: "closed\n" });
});

/** A gRPC server answering every BEACON on a Dispatch stream, counting the requests it got. */
async function beaconServer(name: string): Promise<{ peer: Peer; requests: () => number; close: () => void }> {
  let requests = 0;
  const server = new grpc.Server();
  server.addService(ConsensusService, {
    propose: (_call: unknown, callback: grpc.sendUnaryData<never>) =>
      callback({ code: grpc.status.UNIMPLEMENTED, details: "not here" }),
    dispatch: (call: grpc.ServerDuplexStream<PeerRequest, PeerReply>) => {
      call.on("error", () => {});
      call.on("data", (request: PeerRequest) => {
        requests++;
        call.write({
          type: request.type,
          sender: name,
          success: true,
          message: { $case: "beacon", value: { timestamp: new Date().toISOString() } },
        });
      });
      call.on("end", () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${HOST}:0`, grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );
  return { peer: { name, host: HOST, port }, requests: () => requests, close: () => server.forceShutdown() };
}

function beacon(sender: string): PeerRequest {
  return { type: Type.BEACON, sender, message: { $case: "beacon", value: { timestamp: "" } } };
}

test("a Dispatch stream across the cut gets no reply until the heal", { timeout: 30_000 }, async (t) => {
  const servers = await Promise.all(["r1", "r2"].map((name) => beaconServer(name)));
  const [, r2] = servers as [(typeof servers)[0], (typeof servers)[0]];
  const proxies = await LinkProxies.start(
    servers.map((server) => server.peer),
    HOST,
  );
  // A short reconnect backoff, as a replica would want, so that the heal is seen soon.
  const client = new ConsensusClient(proxies.address("r1", "r2"), grpc.credentials.createInsecure(), {
    "grpc.initial_reconnect_backoff_ms": 50,
    "grpc.max_reconnect_backoff_ms": 200,
  });
  t.after(async () => {
    client.close();
    await proxies.close();
    for (const server of servers) server.close();
  });

  // A stream open before the cut: its first beacon is answered, the one sent after the cut is not.
  const before = client.dispatch({ deadline: Date.now() + 20_000 });
  const replies: PeerReply[] = [];
  before.on("data", (reply: PeerReply) => replies.push(reply));
  const failed = new Promise<grpc.ServiceError>((resolve) => before.on("error", resolve));
  const first = once(before, "data");
  before.write(beacon("r1"));
  await first;
  assert.equal(r2.requests(), 1);

  proxies.partition([["r1"], ["r2"]]);
  before.write(beacon("r1"));
  assert.equal((await failed).code, grpc.status.UNAVAILABLE);
  assert.equal(replies.length, 1, "a reply came across the cut");
  assert.equal(r2.requests(), 1, "a request went across the cut");

  // A stream opened during the cut waits for the link (as a replica's retry would), and is answered once it heals.
  const waitForReady = new grpc.Metadata({ waitForReady: true });
  const during = client.dispatch(waitForReady, { deadline: Date.now() + 20_000 }).on("error", () => {});
  let answered = false;
  const reply = new Promise<PeerReply>((resolve, reject) => {
    during.once("data", (reply: PeerReply) => {
      answered = true;
      resolve(reply);
    });
    during.once("error", reject);
  });
  during.write(beacon("r1"));
  await sleep(500);
  assert.equal(answered, false, "a reply came across the cut");
  assert.equal(r2.requests(), 1, "a request went across the cut");

  proxies.heal();
  const { sender, success, message } = await reply;
  assert.deepEqual({ sender, success, $case: message?.$case }, { sender: "r2", success: true, $case: "beacon" });
  during.end();
});
