// Three replicas on 127.0.0.1 that reach each other through GrpcPeers.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { GrpcPeers, PeerError, QuorumError } from "../src/peers.js";
import { Replica } from "../src/replica.js";
import { ReplicaServer } from "../src/server.js";
import { Code, StatusError } from "../src/status.js";

const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;
const names = ["r1", "r2", "r3"];

/** Keeps sending until it succeeds: for when a peer is coming back. */
async function eventually<T>(attempt: () => Promise<T>, deadline = Date.now() + 15_000): Promise<T> {
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

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

  test("quorum resolves once a majority (self included) has replied", async () => {
    const replies = await replicas.get("r1")!.peers.quorum({ $case: "beacon", value: { timestamp: "" } });
    assert.ok(replies.size >= 1, "one peer plus r1 itself make two of three");
    const all = await replicas.get("r1")!.peers.quorum({ $case: "beacon", value: { timestamp: "" } }, { size: 3 });
    assert.equal(all.size, 2);
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
    const reply = await eventually(() => r1.peers.send("r3", { $case: "beacon", value: { timestamp: "" } }));
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
