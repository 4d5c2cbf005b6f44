// ePaxos over real gRPC on loopback: three replicas, each with its gRPC
// server, its peers' Dispatch streams and a write-ahead log in a folder,
// clients at every replica writing the same keys at once; every write
// commits, every replica ends with the same store, and one restarted from
// its folder has it back. Then as processes (src/main.js): one SIGKILLed
// under load while the other two commit on, over the instances it left
// open (recovery); and all three SIGKILLed at once and restarted, with no
// acknowledged write lost.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { FileDisk } from "../src/disk.js";
import type { ProposeReply } from "../src/pb/client.js";
import { ConsensusClient } from "../src/pb/service.js";
import { GrpcPeers } from "../src/peers.js";
import { Replica } from "../src/replica.js";
import { ReplicaServer } from "../src/server.js";
import { deadline } from "./support/deadline.js";
import { freePortBlock } from "./support/ports.js";
import { poll, within } from "./support/wait.js";

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

// ---------------------------------------------------------------------------
// Replicas as processes, killed with SIGKILL: whatever a test starts is
// killed at the end even when it fails.

const MAIN = fileURLToPath(new URL("../src/main.js", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const children = new Set<ChildProcess>();
const folders = new Set<string>();
after(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** One replica process: its exit, its stderr, and whether it printed its listening line. */
class ReplicaProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  readonly listening: Promise<boolean>;
  stderr = "";

  constructor(name: string, args: string[]) {
    // The flags are the whole configuration: a CONSENSUS_* variable of the environment must not leak in.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("CONSENSUS_")));
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env });
    this.child = child;
    children.add(child);
    child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk));
    this.exited = new Promise((resolve) =>
      child.on("close", () => {
        children.delete(child);
        resolve();
      }),
    );
    this.listening = new Promise((resolve) => {
      createInterface({ input: child.stdout! }).on("line", (line: string) => {
        if (line.startsWith(`${name} listening on `)) resolve(true);
      });
      void this.exited.then(() => resolve(false));
    });
  }
}

/** r1..r3 as processes on a free block of ports, each with its --data folder, and a client of each. */
class Processes {
  private readonly running = new Map<string, ReplicaProcess>();
  private readonly clients: Map<string, ConsensusClient>;

  private constructor(
    private readonly dir: string,
    readonly addresses: Map<string, string>,
  ) {
    // Reconnecting fast after a restart.
    const options = { "grpc.initial_reconnect_backoff_ms": 100, "grpc.max_reconnect_backoff_ms": 500 };
    this.clients = new Map(
      NAMES.map((name) => [
        name,
        new ConsensusClient(addresses.get(name)!, grpc.credentials.createInsecure(), options),
      ]),
    );
  }

  static async start(): Promise<Processes> {
    const dir = await mkdtemp(path.join(tmpdir(), "epaxos-processes-"));
    folders.add(dir);
    const ports = await freePortBlock(NAMES.length);
    const processes = new Processes(dir, new Map(NAMES.map((name, i) => [name, `127.0.0.1:${ports[i]}`])));
    await Promise.all(NAMES.map((name) => processes.start(name)));
    return processes;
  }

  /** Starts (or restarts) `name` over its data folder; resolves once it listens. */
  async start(name: string): Promise<void> {
    const address = this.addresses.get(name)!;
    const peers = [...this.addresses].filter(([other]) => other !== name).map(([other, at]) => `${other}=${at}`);
    const args = ["--name", name, "--host", "127.0.0.1", "--port", address.split(":")[1]!];
    const replica = new ReplicaProcess(name, [
      ...args,
      ...["--peers", peers.join(","), "--data", path.join(this.dir, name)],
    ]);
    this.running.set(name, replica);
    assert.ok(await within(`${name} listening`, 15_000, replica.listening), `${name} exited: ${replica.stderr}`);
  }

  async kill(name: string): Promise<void> {
    const replica = this.running.get(name)!;
    this.running.delete(name);
    replica.child.kill("SIGKILL");
    await within(`${name} gone after SIGKILL`, 5000, replica.exited);
  }

  /** `key = value` (a read when empty) proposed at `name`; rejects on a gRPC error or after `timeout` ms. */
  propose(name: string, key: string, value: string, timeout = 2000): Promise<ProposeReply> {
    const request = { identity: "cluster-test", name: key, value: Buffer.from(value) };
    return new Promise((resolve, reject) =>
      this.clients
        .get(name)!
        .propose(request, new grpc.Metadata(), { deadline: Date.now() + timeout }, (error, reply) =>
          error ? reject(error) : resolve(reply),
        ),
    );
  }

  /** Kills what still runs and removes the folders. */
  async stop(): Promise<void> {
    for (const client of this.clients.values()) client.close();
    await Promise.all([...this.running.keys()].map((name) => this.kill(name)));
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A client per replica named, one write at a time until stopped, taking
 * turns between two keys all of them write (so their commands interfere)
 * and two of its own. Per own key: the last value acknowledged and the
 * values tried since (a write that failed or timed out may still commit).
 */
function writers(processes: Processes, names: readonly string[]) {
  let running = true;
  let acks = 0;
  const keys = new Map<string, { acked: string | undefined; tried: Set<string> }>();
  const loops = names.map(async (name) => {
    for (let i = 0; running; i++) {
      const own = i % 2 === 0;
      const key = own ? `${name}-k${i % 4}` : `shared${i % 4}`;
      const value = `${name}-${i}`;
      let entry = keys.get(key);
      if (own && entry === undefined) keys.set(key, (entry = { acked: undefined, tried: new Set() }));
      entry?.tried.add(value);
      const reply = await processes.propose(name, key, value).catch(() => undefined);
      if (reply?.success !== true) continue;
      acks++;
      if (entry === undefined) continue;
      entry.acked = value;
      entry.tried.clear();
    }
  });
  return {
    keys,
    acks: () => acks,
    /** Waits for `count` more acknowledged writes. */
    progress: (what: string, count: number) => {
      const from = acks;
      return poll(`${count} writes acknowledged ${what}`, 30_000, async () =>
        acks >= from + count ? true : undefined,
      );
    },
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Reads each own key of the writers at `name`, until the reads succeed: each must hold its last acknowledged value, or one tried after it. */
async function assertNoLoss(processes: Processes, name: string, keys: ReturnType<typeof writers>["keys"]) {
  for (const [key, { acked, tried }] of keys) {
    const reply = await poll(`a read of ${key} at ${name}`, 30_000, async () => {
      const reply = await processes.propose(name, key, "");
      return reply.success ? reply : undefined;
    });
    const value = reply.value.toString();
    assert.ok(
      value === acked || tried.has(value),
      `${name} read ${key} = ${JSON.stringify(value)}; acknowledged last: ${acked}, tried since: ${[...tried].join(", ")}`,
    );
  }
}

test(
  "a replica SIGKILLed under load: the other two commit on, after the instances it left open, and agree",
  { timeout: 120_000 },
  async (t) => {
    const processes = await Processes.start();
    try {
      const load = writers(processes, NAMES);
      await load.progress("before the kill", 60);
      // r1 dies with writes of its own in flight: the next writes to their keys at r2 and r3 depend on them.
      await processes.kill("r1");
      const killed = performance.now();
      await load.progress("with r1 down", 60);
      t.diagnostic(`60 writes at r2 and r3 acknowledged ${Math.round(performance.now() - killed)} ms after the kill`);
      await load.stop();
      for (const name of ["r2", "r3"]) await assertNoLoss(processes, name, load.keys);
      const keys = ["shared1", "shared3", ...load.keys.keys()];
      const store = (name: string) => Promise.all(keys.map((key) => processes.propose(name, key, "")));
      const [at2, at3] = await Promise.all([store("r2"), store("r3")]);
      assert.deepEqual(
        at2.map((reply) => reply.value.toString()),
        at3.map((reply) => reply.value.toString()),
      );
    } finally {
      await processes.stop();
    }
  },
);

test("all three SIGKILLed at once and restarted: no acknowledged write is lost", { timeout: 120_000 }, async (t) => {
  const processes = await Processes.start();
  try {
    const load = writers(processes, NAMES);
    await load.progress("before the kill", 90);
    // Killed with writes in flight: those may or may not have committed, the acknowledged ones have.
    await Promise.all(NAMES.map((name) => processes.kill(name)));
    await load.stop();
    await Promise.all(NAMES.map((name) => processes.start(name)));
    t.diagnostic(`${load.acks()} writes acknowledged before the kill`);
    for (const name of NAMES) await assertNoLoss(processes, name, load.keys);
  } finally {
    await processes.stop();
  }
});
