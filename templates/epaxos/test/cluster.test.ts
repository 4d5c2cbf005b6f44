// ePaxos over real gRPC on loopback: three replicas, each with its gRPC
// server, its peers' Dispatch streams and a write-ahead log in a folder,
// clients at every replica writing the same keys at once; every write
// commits, every replica ends with the same store, and one restarted from
// its folder has it back. No faults: the simulation covers those.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { FileDisk } from "../src/disk.js";
import type { ProposeReply } from "../src/pb/client.js";
import { ConsensusClient } from "../src/pb/service.js";
import { GrpcPeers } from "../src/peers.js";
import { Replica } from "../src/replica.js";
import { ReplicaServer } from "../src/server.js";
import { deadline } from "./support/deadline.js";
import { freePortBlock } from "./support/ports.js";
import { poll } from "./support/wait.js";

const NAMES = ["r1", "r2", "r3"];

/** One replica as main.ts runs it: its server listening, its peers dialled, its log under `folder`. */
async function startReplica(name: string, addresses: Map<string, string>, folder: string) {
  const peers = new Map([...addresses].filter(([peer]) => peer !== name));
  const replica = new Replica({
    name,
    peers: new GrpcPeers(name, peers),
    disk: new FileDisk(path.join(folder, name), "batch"),
  });
  const server = new ReplicaServer(replica);
  server.starting();
  await server.listen({ port: Number(addresses.get(name)!.split(":")[1]) });
  await replica.start();
  server.ready();
  return {
    replica,
    close: async () => {
      await server.close();
      await replica.close();
    },
  };
}

function propose(client: ConsensusClient, key: string, value: string): Promise<ProposeReply> {
  const request = { identity: "cluster-test", name: key, value: Buffer.from(value) };
  return new Promise((resolve, reject) =>
    client.propose(request, new grpc.Metadata(), deadline(), (error, reply) =>
      error ? reject(error) : resolve(reply),
    ),
  );
}

test("three replicas on gRPC commit writes proposed at every one at once, and agree", { timeout: 60_000 }, async () => {
  const folder = await mkdtemp(path.join(tmpdir(), "epaxos-cluster-"));
  const ports = await freePortBlock(NAMES.length);
  const addresses = new Map(NAMES.map((name, i) => [name, `127.0.0.1:${ports[i]}`]));
  const replicas = await Promise.all(NAMES.map((name) => startReplica(name, addresses, folder)));
  const clients = NAMES.map((name) => new ConsensusClient(addresses.get(name)!, grpc.credentials.createInsecure()));
  try {
    // Each client writes 20 values on two keys, all clients at once: the writes conflict.
    const written = await Promise.all(
      clients.map(async (client, c) => {
        const replies = [];
        for (let i = 0; i < 20; i++) replies.push(await propose(client, `k${i % 2}`, `${c}-${i}`));
        return replies;
      }),
    );
    for (const [c, replies] of written.entries()) {
      for (const [i, reply] of replies.entries()) {
        assert.equal(reply.success, true, reply.error);
        assert.equal(reply.value.toString(), `${c}-${i}`, "a write answers with the value written");
        assert.equal(reply.leader, c, "the replica asked leads the command");
      }
    }
    const paths = replicas.map(({ replica }) => ({
      fast: replica.metrics.counters.get("path.fast") ?? 0,
      slow: replica.metrics.counters.get("path.slow") ?? 0,
    }));
    assert.equal(
      paths.reduce((sum, { fast, slow }) => sum + fast + slow, 0),
      60,
    );
    // Once every Commit has landed, every replica holds the same store, and a read anywhere returns it.
    const stores = () =>
      replicas.map(({ replica }) => ["k0", "k1"].map((key) => replica.state.epaxos.get(key).toString()));
    const agreed = await poll("the replicas' stores to agree", 10_000, async () =>
      new Set(stores().map((store) => store.join())).size === 1 ? stores()[0] : undefined,
    );
    for (const client of clients) {
      assert.deepEqual(
        (await Promise.all(["k0", "k1"].map((key) => propose(client, key, "")))).map((reply) => reply.value.toString()),
        agreed,
      );
    }
    // A replica restarted from its folder executes its logged instances again: the same store.
    await replicas[1]!.close();
    replicas[1] = await startReplica("r2", addresses, folder);
    assert.deepEqual(
      ["k0", "k1"].map((key) => replicas[1]!.replica.state.epaxos.get(key).toString()),
      agreed,
    );
  } finally {
    for (const client of clients) client.close();
    await Promise.all(replicas.map(({ close }) => close()));
    await rm(folder, { recursive: true, force: true });
  }
});
