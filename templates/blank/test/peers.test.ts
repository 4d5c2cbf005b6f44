// Three replicas on 127.0.0.1 that reach each other through GrpcPeers; the
// state of a peer link as it is reported (a peer killed, unreachable, idle,
// gone silent).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { PeerReply, PeerRequest, Type } from "../src/pb/envelope.js";
import { ConsensusService } from "../src/pb/service.js";
import {
  GrpcPeers,
  KEEPALIVE_TIME_MS,
  KEEPALIVE_TIMEOUT_MS,
  type LinkEvent,
  linkLine,
  PeerError,
  QuorumError,
} from "../src/peers.js";
import { Replica } from "../src/replica.js";
import { ReplicaServer } from "../src/server.js";
import { Code, StatusError } from "../src/status.js";
import { freePort } from "./support/ports.js";
import { poll } from "./support/wait.js";

const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;
const names = ["r1", "r2", "r3"];
const MAIN = fileURLToPath(new URL("../src/main.js", import.meta.url));

describe("GrpcPeers between three replicas", { timeout: 60_000 }, () => {
  const peers = new Map(names.map((name) => [name, new GrpcPeers(name, {}, { backoff: 20, maxBackoff: 200 })]));
  const replicas = new Map(names.map((name) => [name, new Replica({ name, peers: peers.get(name) })]));
  const servers = new Map(names.map((name) => [name, new ReplicaServer(replicas.get(name)!)]));
  const ports = new Map<string, number>();

  before(async () => {
    for (const [name, server] of servers) ports.set(name, await server.listen());
    for (const [name, set] of peers) {
      for (const other of names) if (other !== name) set.add(other, `127.0.0.1:${ports.get(other)}`);
    }
  });
  after(async () => {
    await Promise.all([...replicas.values()].map((replica) => replica.close()));
    await Promise.all([...servers.values()].map((server) => server.close()));
  });

  test("send resolves with the typed reply of the peer", async () => {
    const r1 = replicas.get("r1")!;
    assert.deepEqual(r1.peers.names, ["r2", "r3"]);
    const reply = await r1.peers.send("r2", { $case: "beacon", value: { timestamp: "now" } });
    assert.match(reply.timestamp, RFC3339_NANO);
  });

  test("tells its trace of each request sent and each reply received", async () => {
    const events: string[] = [];
    const traced = new GrpcPeers(
      "r1",
      { r2: `127.0.0.1:${ports.get("r2")}` },
      {
        trace: (event, peer, message, reply) =>
          events.push(`${event} ${peer} ${Type[message.type]}${reply ? " reply" : ""} ${message.message?.$case}`),
      },
    );
    try {
      await traced.send("r2", { $case: "beacon", value: { timestamp: "now" } });
      assert.deepEqual(events, ["send r2 BEACON beacon", "receive r2 BEACON reply beacon"]);
    } finally {
      await traced.close();
    }
  });

  test("pipelined sends on one stream each get their own reply", async () => {
    // A peer that echoes each request's timestamp, after a delay that varies.
    const echo = new ReplicaServer({
      propose: () => Promise.reject(new Error("not here")),
      async dispatch(request) {
        const timestamp = request.message?.$case === "beacon" ? request.message.value.timestamp : "";
        await sleep(Number(timestamp) % 3);
        return {
          type: request.type,
          sender: "echo",
          success: true,
          message: { $case: "beacon", value: { timestamp } },
        };
      },
    });
    const set = new GrpcPeers("r1", { echo: `127.0.0.1:${await echo.listen()}` });
    try {
      const sent = Array.from({ length: 100 }, (_, i) => String(i));
      const replies = await Promise.all(
        sent.map((timestamp) => set.send("echo", { $case: "beacon", value: { timestamp } })),
      );
      assert.deepEqual(
        replies.map((reply) => reply.timestamp),
        sent,
      );
    } finally {
      await set.close();
      await echo.close();
    }
  });

  test("broadcast settles with the outcome of every peer", async () => {
    const outcomes = await replicas.get("r3")!.peers.broadcast({ $case: "beacon", value: { timestamp: "" } });
    assert.deepEqual([...outcomes.keys()], ["r1", "r2"]);
    for (const outcome of outcomes.values()) {
      assert.equal(outcome.status, "fulfilled");
      if (outcome.status === "fulfilled") assert.match(outcome.value.timestamp, RFC3339_NANO);
    }
  });

  test("quorum resolves once a majority (self included) has replied, without waiting for a held peer", async () => {
    // r3 holds every request until released: r1 and r2 make the majority without it.
    const r3 = new Replica({ name: "r3" });
    let entered!: () => void;
    const holding = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const held = new ReplicaServer({
      propose: (request) => r3.propose(request),
      async dispatch(request) {
        entered();
        await released;
        return r3.dispatch(request);
      },
    });
    const set = new GrpcPeers("r1", { r2: `127.0.0.1:${ports.get("r2")}`, r3: `127.0.0.1:${await held.listen()}` });
    try {
      // A quorum that waited for every peer would time out here, r3 being held until after it.
      const majority = await set.quorum({ $case: "beacon", value: { timestamp: "" } }, { timeout: 5000 });
      await holding; // r3 got the request, and holds it
      assert.deepEqual([...majority.keys()], ["r2"]);
      const all = set.quorum({ $case: "beacon", value: { timestamp: "" } }, { size: 3 });
      release();
      assert.deepEqual([...(await all).keys()].sort(), ["r2", "r3"]);
    } finally {
      release();
      await set.close();
      await held.close();
    }
  });

  test("a request the peer refuses rejects with its status; the next one reopens the stream", async () => {
    const replica = new Replica({ name: "r5" });
    let refuse = true;
    const server = new ReplicaServer({
      propose: (request) => replica.propose(request),
      async dispatch(request) {
        if (!refuse) return replica.dispatch(request);
        refuse = false;
        throw new StatusError(Code.FAILED_PRECONDITION, "not the leader");
      },
    });
    const set = new GrpcPeers("r1", { r5: `127.0.0.1:${await server.listen()}` }, { backoff: 10 });
    try {
      await assert.rejects(
        set.send("r5", { $case: "beacon", value: { timestamp: "" } }),
        (error: PeerError) => error.code === Code.FAILED_PRECONDITION && error.message === "r5: not the leader",
      );
      const reply = await set.send("r5", { $case: "beacon", value: { timestamp: "" } });
      assert.match(reply.timestamp, RFC3339_NANO);
    } finally {
      await set.close();
      await server.close();
    }
  });

  test("a send to a name that is not a peer rejects", async () => {
    await assert.rejects(
      replicas.get("r1")!.peers.send("r7", { $case: "beacon", value: { timestamp: "" } }),
      (error: PeerError) => error.code === Code.NOT_FOUND,
    );
  });

  test("reconnects after a peer restarts on the same port", async () => {
    const r1 = replicas.get("r1")!;
    await r1.peers.send("r3", { $case: "beacon", value: { timestamp: "" } });
    await servers.get("r3")!.close();
    await assert.rejects(r1.peers.send("r3", { $case: "beacon", value: { timestamp: "" } }), PeerError);
    // While r3 is down a majority is still there: r1, r2.
    await r1.peers.quorum({ $case: "beacon", value: { timestamp: "" } }, { timeout: 10_000 });

    const restarted = new ReplicaServer(replicas.get("r3")!);
    servers.set("r3", restarted);
    assert.equal(await restarted.listen({ port: ports.get("r3") }), ports.get("r3"));
    const reply = await poll("r3 back", 15_000, () =>
      r1.peers.send("r3", { $case: "beacon", value: { timestamp: "" } }),
    );
    assert.match(reply.timestamp, RFC3339_NANO);
  });

  test("quorum rejects once a majority cannot be reached", async () => {
    const lonely = new GrpcPeers("r1", { r2: "127.0.0.1:1", r3: "127.0.0.1:1" }, { backoff: 10, maxBackoff: 50 });
    try {
      await assert.rejects(lonely.quorum({ $case: "beacon", value: { timestamp: "" } }), (error: QuorumError) => {
        assert.ok(error instanceof QuorumError);
        assert.equal(error.failures.size, 2);
        assert.match(error.message, /^no BEACON quorum of 2\/3: 2 of 2 peers failed/);
        return true;
      });
    } finally {
      await lonely.close();
    }
  });

  test("send rejects with DEADLINE_EXCEEDED after its timeout", async () => {
    const stalled = new Replica({ name: "r4" });
    const server = new ReplicaServer({
      propose: (request) => stalled.propose(request),
      dispatch: () => new Promise(() => undefined),
    });
    const port = await server.listen();
    const set = new GrpcPeers("r1", { r4: `127.0.0.1:${port}` });
    try {
      await assert.rejects(
        set.send("r4", { $case: "beacon", value: { timestamp: "" } }, { timeout: 50 }),
        (error: PeerError) => error.code === Code.DEADLINE_EXCEEDED && error.peer === "r4",
      );
    } finally {
      await set.close();
      await server.close(100);
    }
  });

  test("close rejects what is pending and later sends", async () => {
    const set = new GrpcPeers("r1", { r2: `127.0.0.1:${ports.get("r2")}` });
    await set.close();
    await assert.rejects(
      set.send("r2", { $case: "beacon", value: { timestamp: "" } }),
      (error: PeerError) => error.code === Code.CANCELLED,
    );
  });
});

/** What onLink reports, and a way to wait for the next report. */
function linkEvents() {
  const events: (LinkEvent & { peer: string; at: number })[] = [];
  let wake: (() => void) | undefined;
  return {
    events,
    onLink: (peer: string, event: LinkEvent) => {
      events.push({ ...event, peer, at: Date.now() });
      wake?.();
    },
    /** Resolves once there are `count` events. */
    async until(count: number): Promise<void> {
      while (events.length < count) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

/** Starts src/main.js as a replica on `port`; resolves once it prints its listening line. */
async function replicaProcess(name: string, port: number) {
  const child = spawn(process.execPath, [MAIN, "--name", name, "--port", String(port)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
  assert.equal(line, `${name} listening on 127.0.0.1:${port}`);
  return child;
}

/**
 * A TCP proxy to `target` that can stop forwarding (what a cut cable or a
 * frozen host looks like) and counts the HTTP/2 PING frames that cross it.
 */
/** r1's GrpcPeers reaching a real replica r2 through a proxy() tunnel, its link events recorded. */
async function proxiedPeer() {
  const server = new ReplicaServer(new Replica({ name: "r2" }));
  const tunnel = await proxy(await server.listen());
  const link = linkEvents();
  const set = new GrpcPeers("r1", { r2: `127.0.0.1:${tunnel.port}` }, { onLink: link.onLink });
  /** Closes the peers, then the server (cancelling what is left after `timeout` ms), then the tunnel. */
  const close = async (timeout?: number) => {
    await set.close();
    await server.close(timeout);
    await tunnel.close();
  };
  return { tunnel, link, set, close };
}

async function proxy(target: number) {
  let forwarding = true;
  const pings = { sent: 0, acked: 0 };
  let wake: (() => void) | undefined;
  /** Counts the PING frames (type 6) that start a chunk: idle keepalive pings travel alone. */
  const count = (chunk: Buffer, key: "sent" | "acked") => {
    for (let at = 0; at + 9 <= chunk.length; at += 9 + chunk.readUIntBE(at, 3)) {
      if (chunk[at + 3] === 6 && (chunk[at + 4]! & 1) === (key === "acked" ? 1 : 0)) pings[key]++;
    }
    wake?.();
  };
  const server = net.createServer((socket) => {
    const upstream = net.connect(target, "127.0.0.1");
    socket.on("data", (chunk: Buffer) => forwarding && (count(chunk, "sent"), upstream.write(chunk)));
    upstream.on("data", (chunk: Buffer) => forwarding && (count(chunk, "acked"), socket.write(chunk)));
    socket.on("error", () => upstream.destroy());
    upstream.on("error", () => socket.destroy());
    socket.on("close", () => upstream.destroy());
    upstream.on("close", () => socket.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as net.AddressInfo).port,
    pings,
    stop: () => (forwarding = false),
    /** Resolves once `acked` pings have been answered. */
    async acked(count: number): Promise<void> {
      while (pings.acked < count) await new Promise<void>((resolve) => (wake = resolve));
    },
    close: () => new Promise<void>((resolve) => (server.close(() => resolve()), server.unref())),
  };
}

describe("peer links", { timeout: 60_000 }, () => {
  test("a peer killed and restarted is reported exactly once lost, then once connected; one stopping says so", async () => {
    const port = await freePort();
    let child = await replicaProcess("r9", port);
    const link = linkEvents();
    const set = new GrpcPeers("r1", { r9: `127.0.0.1:${port}` }, { backoff: 20, maxBackoff: 200, onLink: link.onLink });
    try {
      await link.until(1);
      child.kill("SIGKILL");
      await link.until(2);
      // Reconnect attempts while it is down report nothing more.
      await assert.rejects(set.send("r9", { $case: "beacon", value: { timestamp: "" } }), PeerError);
      await assert.rejects(set.send("r9", { $case: "beacon", value: { timestamp: "" } }), PeerError);
      child = await replicaProcess("r9", port);
      await link.until(3);
      const reply = await set.send("r9", { $case: "beacon", value: { timestamp: "" } });
      assert.match(reply.timestamp, RFC3339_NANO);
      const address = `127.0.0.1:${port}`;
      assert.deepEqual(
        link.events.map(({ peer, state, address }) => [peer, state, address]),
        [
          ["r9", "connected", address],
          ["r9", "lost", address],
          ["r9", "connected", address],
        ],
      );
      const lost = link.events[1]!;
      assert.ok(
        lost.state === "lost" && /^(the connection dropped|connection refused) \(/.test(lost.reason),
        JSON.stringify(lost),
      );
      // A peer that stops on SIGTERM ends its streams after answering them: that is the reason given.
      child.kill("SIGTERM");
      await link.until(4);
      assert.deepEqual(link.events[3], {
        peer: "r9",
        state: "lost",
        address,
        reason: "ended the stream before replying (as a replica does when it stops)",
        at: link.events[3]!.at,
      });
    } finally {
      await set.close();
      child.kill("SIGKILL");
    }
  });

  test("a peer that is never reachable is reported waiting once, with why, and never lost", async () => {
    const link = linkEvents();
    const set = new GrpcPeers("r1", { r2: "127.0.0.1:1" }, { backoff: 5, maxBackoff: 20, onLink: link.onLink });
    try {
      for (let i = 0; i < 5; i++) {
        await assert.rejects(set.send("r2", { $case: "beacon", value: { timestamp: "" } }), PeerError);
      }
      assert.deepEqual(
        link.events.map(({ state }) => state),
        ["waiting"],
      );
      const [waiting] = link.events;
      assert.ok(
        waiting?.state === "waiting" && waiting.reason.startsWith("connection refused ("),
        JSON.stringify(waiting),
      );
    } finally {
      await set.close();
    }
  });

  test("a peer that starts after the link is opened is reported waiting, then connected; failing after that, lost", async () => {
    const port = await freePort();
    const link = linkEvents();
    const set = new GrpcPeers("r1", { r9: `127.0.0.1:${port}` }, { backoff: 20, maxBackoff: 200, onLink: link.onLink });
    let child: ChildProcess | undefined;
    try {
      await link.until(1);
      child = await replicaProcess("r9", port);
      await link.until(2);
      child.kill("SIGKILL");
      await link.until(3);
      assert.deepEqual(
        link.events.map(({ state }) => state),
        ["waiting", "connected", "lost"],
      );
    } finally {
      await set.close();
      child?.kill("SIGKILL");
    }
  });

  test("an idle link stays up through its keepalive pings (the server takes one every 2 s)", async () => {
    const { tunnel, link, set, close } = await proxiedPeer();
    try {
      // On a starved machine the first attempt may fail before the link is up: what is tested starts once it is.
      while (link.events.at(-1)?.state !== "connected") await link.until(link.events.length + 1);
      const up = link.events.length;
      await tunnel.acked(tunnel.pings.acked + 4);
      assert.equal(link.events.length, up, JSON.stringify(link.events));
      const reply = await set.send("r2", { $case: "beacon", value: { timestamp: "" } });
      assert.match(reply.timestamp, RFC3339_NANO);
    } finally {
      await close();
    }
  });

  test("a peer that stops answering is reported lost within keepalive time + timeout", async () => {
    const { tunnel, link, close } = await proxiedPeer();
    try {
      await link.until(1);
      tunnel.stop();
      const stopped = Date.now();
      await link.until(2);
      const lost = link.events[1]!;
      assert.equal(lost.state, "lost");
      // Until the next ping, then its time to answer; 2 s more for a loaded machine.
      const bound = KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS + 2000;
      assert.ok(lost.at - stopped <= bound, `noticed after ${lost.at - stopped} ms`);
      assert.ok(lost.state === "lost" && lost.reason.startsWith("the connection dropped"), JSON.stringify(lost));
    } finally {
      // The stopped tunnel holds the server's graceful close: do not wait for it.
      await close(100);
    }
  });

  test("the reopen backoff doubles from backoff after each failure, up to maxBackoff", async () => {
    const refusing = await refusingPeer();
    // 0.5 draws a factor of exactly 1: the waits are the backoff itself.
    const set = new GrpcPeers(
      "r1",
      { r2: `127.0.0.1:${refusing.port}` },
      { backoff: 100, maxBackoff: 800, random: () => 0.5 },
    );
    try {
      await refusing.opens(8);
      const gaps = refusing.opened.slice(1).map((at, i) => at - refusing.opened[i]!);
      const waits = [100, 200, 400, 800, 800, 800, 800];
      // Each gap is its wait plus the time a refusal takes: at least the wait, and short of the next doubling,
      // so a wait that did not double, or went on doubling past the cap, shows.
      const shown = `gaps ${gaps.map(Math.round).join(", ")} ms for waits ${waits.join(", ")}`;
      for (const [i, gap] of gaps.entries()) assert.ok(gap >= waits[i]! - 1 && gap < 2 * waits[i]!, shown);
    } finally {
      await set.close();
      refusing.close();
    }
  });

  test("the reopen backoff is spread by the random source over ±20% of the wait", async () => {
    const refusing = await refusingPeer();
    const draws = [0, 0.999];
    let draw = 0;
    const random = () => draws[draw++ % 2]!;
    const set = new GrpcPeers("r1", { r2: `127.0.0.1:${refusing.port}` }, { backoff: 500, maxBackoff: 500, random });
    try {
      await refusing.opens(5);
      const gaps = refusing.opened.slice(1).map((at, i) => at - refusing.opened[i]!);
      // Draws 0 and 0.999 alternate: waits of 400 ms and 600 ms (500 ms ±20%), plus the time a refusal takes.
      for (const [i, gap] of gaps.entries()) {
        assert.ok(gap >= (i % 2 === 0 ? 399 : 599), `waits ${gaps.map(Math.round).join(", ")} ms`);
      }
      assert.ok(gaps[0]! + 100 < gaps[1]! && gaps[2]! + 100 < gaps[3]!, `waits ${gaps.map(Math.round).join(", ")} ms`);
    } finally {
      await set.close();
      refusing.close();
    }
  });
});

/** A peer that refuses every Dispatch stream, and notes when each one came (performance.now()). */
async function refusingPeer() {
  const opened: number[] = [];
  let wake: (() => void) | undefined;
  const server = new grpc.Server();
  server.addService(ConsensusService, {
    propose: (_call: unknown, callback: grpc.sendUnaryData<never>) => callback({ code: Code.UNAVAILABLE }),
    dispatch: (call: grpc.ServerDuplexStream<PeerRequest, PeerReply>) => {
      opened.push(performance.now());
      wake?.();
      call.emit("error", { code: Code.UNAVAILABLE, details: "refused" });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    port,
    opened,
    /** Resolves once `count` streams have been opened. */
    async opens(count: number): Promise<void> {
      while (opened.length < count) await new Promise<void>((resolve) => (wake = resolve));
    },
    close: () => server.forceShutdown(),
  };
}

test("the line a replica prints for each link event names the state, the peer and the address; a reason when it tells more", () => {
  const address = "10.0.0.2:3264";
  assert.deepEqual(
    [
      linkLine("r1", "r2", { state: "connected", address }),
      linkLine("r1", "r2", { state: "lost", address, reason: "connection refused (connect ECONNREFUSED)" }),
      linkLine("r1", "r2", { state: "waiting", address, reason: "connection refused (connect ECONNREFUSED)" }),
      linkLine("r1", "r2", { state: "waiting", address, reason: "its host name does not resolve (ENOTFOUND r2)" }),
      linkLine("r1", "r2", {
        state: "waiting",
        address,
        reason: "its certificate has expired (certificate has expired)",
      }),
    ],
    [
      "r1: connected to r2 (10.0.0.2:3264)",
      "r1: lost r2 (10.0.0.2:3264): connection refused (connect ECONNREFUSED)",
      "r1: waiting for r2 (10.0.0.2:3264)",
      "r1: waiting for r2 (10.0.0.2:3264)",
      "r1: waiting for r2 (10.0.0.2:3264): its certificate has expired (certificate has expired)",
    ],
  );
});
