// ePaxos over real gRPC on loopback: three replicas, each with its gRPC
// server, its peers' Dispatch streams and a write-ahead log in a folder,
// clients at every replica writing the same keys at once; every write
// commits, every replica ends with the same store, and one restarted from
// its folder has it back. Then as processes (src/main.js): one SIGKILLed
// under load while the other two commit on, over the instances it left
// open (recovery); all three SIGKILLed at once and restarted, with no
// acknowledged write lost; and one cut off from the other two by proxies on
// its peer links, which commit on while it acknowledges nothing, until the
// links heal and all three agree.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
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

/**
 * A TCP proxy on loopback per ordered pair of replicas, through which `from` dials `to`, so that a
 * test can cut a replica off from the others, both ways, and heal it. A cut link destroys the
 * connections it carries and each one dialled until the heal, as a firewall that rejects would: the
 * replicas' streams fail at once rather than once a keepalive ping goes unanswered.
 */
class Links {
  private constructor(private readonly links: { from: string; to: string; link: Link }[]) {}

  static async start(addresses: ReadonlyMap<string, string>): Promise<Links> {
    const pairs = NAMES.flatMap((from) => NAMES.filter((to) => to !== from).map((to) => ({ from, to })));
    return new Links(
      await Promise.all(pairs.map(async ({ from, to }) => ({ from, to, link: await Link.start(addresses.get(to)!) }))),
    );
  }

  /** host:port that `from` dials to reach `to`. */
  address(from: string, to: string): string {
    return this.links.find((link) => link.from === from && link.to === to)!.link.address;
  }

  /** Cuts every link to and from `name`. */
  isolate(name: string): void {
    for (const { from, to, link } of this.links) if (from === name || to === name) link.setCut(true);
  }

  heal(): void {
    for (const { link } of this.links) link.setCut(false);
  }

  close(): Promise<unknown> {
    return Promise.all(this.links.map(({ link }) => link.close()));
  }
}

/** One link's listener, forwarding each connection to `target`'s port while it is not cut. */
class Link {
  private cut = false;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    private readonly target: number,
  ) {
    server.on("connection", (socket) => this.forward(socket));
  }

  static async start(target: string): Promise<Link> {
    const server = net.createServer().listen(0, "127.0.0.1");
    await once(server, "listening");
    // A test that fails before its stop() still ends: its connections close as after() kills the replicas.
    server.unref();
    return new Link(server, Number(target.split(":")[1]));
  }

  get address(): string {
    return `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  setCut(cut: boolean): void {
    this.cut = cut;
    if (cut) for (const socket of this.sockets) socket.destroy();
  }

  close(): Promise<unknown> {
    this.setCut(true);
    return new Promise((resolve) => this.server.close(resolve));
  }

  private forward(socket: net.Socket): void {
    if (this.cut) return void socket.destroy();
    const upstream = net.connect(this.target, "127.0.0.1");
    for (const [from, to] of [
      [socket, upstream],
      [upstream, socket],
    ] as const) {
      this.sockets.add(from);
      from.pipe(to);
      // Either side closing (a replica killed, a dial refused, a cut) closes the other.
      from.on("error", () => to.destroy());
      from.on("close", () => {
        this.sockets.delete(from);
        to.destroy();
      });
    }
  }
}

/**
 * r1..r3 as processes on a free block of ports, each with its --data folder, and a client of each;
 * with `links`, each dials its peers through them.
 */
class Processes {
  private readonly running = new Map<string, ReplicaProcess>();
  private readonly clients: Map<string, ConsensusClient>;

  private constructor(
    private readonly dir: string,
    readonly addresses: Map<string, string>,
    readonly links: Links | undefined,
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

  static async start(options: { links?: boolean } = {}): Promise<Processes> {
    const dir = await mkdtemp(path.join(tmpdir(), "epaxos-processes-"));
    folders.add(dir);
    const ports = await freePortBlock(NAMES.length);
    const addresses = new Map(NAMES.map((name, i) => [name, `127.0.0.1:${ports[i]}`]));
    const links = options.links ? await Links.start(addresses) : undefined;
    const processes = new Processes(dir, addresses, links);
    await Promise.all(NAMES.map((name) => processes.start(name)));
    return processes;
  }

  /** Starts (or restarts) `name` over its data folder; resolves once it listens. */
  async start(name: string): Promise<void> {
    const address = this.addresses.get(name)!;
    const peers = [...this.addresses]
      .filter(([other]) => other !== name)
      .map(([other, at]) => `${other}=${this.links?.address(name, other) ?? at}`);
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

  /** Kills what still runs, closes the links and removes the folders. */
  async stop(): Promise<void> {
    for (const client of this.clients.values()) client.close();
    await Promise.all([...this.running.keys()].map((name) => this.kill(name)));
    await this.links?.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A client per replica named, one write at a time until stopped, taking
 * turns between two keys all of them write (so their commands interfere)
 * and two of its own. Per own key: the last value acknowledged and the
 * values tried since (a write that failed or timed out may still commit).
 * Per replica: how many of its writes were acknowledged and how many failed,
 * and when the last acknowledged one was sent.
 */
function writers(processes: Processes, names: readonly string[]) {
  let running = true;
  const replicas = new Map(names.map((name) => [name, { acked: 0, failed: 0, lastSent: -Infinity }]));
  const acks = (at: readonly string[]) => at.reduce((sum, name) => sum + replicas.get(name)!.acked, 0);
  const keys = new Map<string, { acked: string | undefined; tried: Set<string> }>();
  const loops = names.map(async (name) => {
    const replica = replicas.get(name)!;
    for (let i = 0; running; i++) {
      const own = i % 2 === 0;
      const key = own ? `${name}-k${i % 4}` : `shared${i % 4}`;
      const value = `${name}-${i}`;
      let entry = keys.get(key);
      if (own && entry === undefined) keys.set(key, (entry = { acked: undefined, tried: new Set() }));
      entry?.tried.add(value);
      const sent = performance.now();
      const reply = await processes.propose(name, key, value).catch(() => undefined);
      if (reply?.success !== true) {
        replica.failed++;
        continue;
      }
      replica.acked++;
      replica.lastSent = sent;
      if (entry === undefined) continue;
      entry.acked = value;
      entry.tried.clear();
    }
  });
  return {
    keys,
    replica: (name: string) => replicas.get(name)!,
    acks: () => acks(names),
    /** Waits for `count` more acknowledged writes at the replicas `at`. */
    progress: (what: string, count: number, at = names) => {
      const from = acks(at);
      return poll(`${count} writes acknowledged ${what}`, 30_000, async () =>
        acks(at) >= from + count ? true : undefined,
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
    const load = writers(processes, NAMES);
    try {
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
      // Also after a failure: writers left running would keep the run from ending.
      await load.stop();
      await processes.stop();
    }
  },
);

test("all three SIGKILLed at once and restarted: no acknowledged write is lost", { timeout: 120_000 }, async (t) => {
  const processes = await Processes.start();
  const load = writers(processes, NAMES);
  try {
    await load.progress("before the kill", 90);
    // Killed with writes in flight: those may or may not have committed, the acknowledged ones have.
    await Promise.all(NAMES.map((name) => processes.kill(name)));
    await load.stop();
    await Promise.all(NAMES.map((name) => processes.start(name)));
    t.diagnostic(`${load.acks()} writes acknowledged before the kill`);
    for (const name of NAMES) await assertNoLoss(processes, name, load.keys);
  } finally {
    await load.stop();
    await processes.stop();
  }
});

test(
  "a replica cut off from the other two: they commit on, it acknowledges nothing sent meanwhile, and once healed all three agree",
  { timeout: 120_000 },
  async (t) => {
    const processes = await Processes.start({ links: true });
    const links = processes.links!;
    const load = writers(processes, NAMES);
    try {
      await load.progress("before the cut", 30);
      // Cut with writes in flight: r1 or r2 may hold a PreAccept of r3's and no Commit, and recover that instance.
      links.isolate("r3");
      const cut = performance.now();
      const r3 = load.replica("r3");
      const failed = r3.failed;
      await load.progress("at r1 and r2 with r3 cut off", 60, ["r1", "r2"]);
      t.diagnostic(`60 writes at r1 and r2 acknowledged ${Math.round(performance.now() - cut)} ms after the cut`);
      // The first failure may be of the write in flight at the cut; the second was sent after it.
      await poll("two writes at r3 failed after the cut", 30_000, async () =>
        r3.failed >= failed + 2 ? true : undefined,
      );
      // One write at a time: a write sent after the cut and acknowledged would be the last acknowledged.
      assert.ok(r3.lastSent < cut, "r3 acknowledged a write sent while it was cut off");
      t.diagnostic(`${r3.failed - failed} writes at r3 failed while it was cut off`);
      links.heal();
      const healed = performance.now();
      await load.progress("at r3 after the heal", 10, ["r3"]);
      t.diagnostic(`10 writes at r3 acknowledged ${Math.round(performance.now() - healed)} ms after the heal`);
      await load.stop();
      for (const name of NAMES) await assertNoLoss(processes, name, load.keys);
      // r3's writes that failed at the client committed at every replica or at none: all three read the same.
      const keys = ["shared1", "shared3", ...load.keys.keys()];
      const store = async (name: string) =>
        (await Promise.all(keys.map((key) => processes.propose(name, key, "")))).map((reply) => {
          assert.ok(reply.success, reply.error);
          return reply.value.toString();
        });
      await poll("the three replicas to read the same values", 30_000, async () => {
        const [at1, ...others] = await Promise.all(NAMES.map(store));
        return others.every((at) => at.join() === at1!.join()) ? true : undefined;
      });
    } finally {
      // Stopped here too when a wait fails: writing on to closed clients would keep the run going.
      await load.stop();
      await processes.stop();
    }
  },
);
