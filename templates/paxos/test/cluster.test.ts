// The Multi-Paxos over real gRPC, as processes: `npm run cluster` with a
// redirecting follower and a committing leader, a leader killed and replaced,
// kill -9 of each replica in turn under load with no acknowledged write lost,
// all three killed at once and back from their logs, a restarted replica that
// every majority then needs, one restarted with an older copy of its data
// folder, and a write-ahead log that refuses corruption and a cut but drops a
// torn last record.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import type { ProposeReply } from "../src/pb/client.js";
import { ConsensusClient } from "../src/pb/service.js";
import { freePortBlock } from "./support/ports.js";
import { poll, within } from "./support/wait.js";

/** The project's folder (this file runs as dist/test/cluster.test.js) and its replica. */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = fileURLToPath(new URL("../src/main.js", import.meta.url));
const HOST = "127.0.0.1";
/** The replicas' default election timeout (src/paxos/paxos.ts): a follower runs after [t, 2t). */
const ELECTION = 500;
/** A wait in election timeouts, for the diagnostics. */
const timeouts = (ms: number) => `${(ms / ELECTION).toFixed(1)} election timeouts`;
const NAMES = ["r1", "r2", "r3"] as const;

// ---------------------------------------------------------------------------
// Cleanup: whatever a test starts is killed even when it fails or times out
// (a timed-out test's finally may never run).

const children = new Set<ChildProcess>();
/** Process groups (npm run cluster) and the replicas they reported, to kill if still running. */
const groups = new Set<number>();
const orphans = new Set<number>();

/** Temporary folders, removed at the end whatever happened. */
const folders = new Set<string>();

function killEverything(): void {
  for (const child of children) child.kill("SIGKILL");
  for (const group of groups) signal(-group, "SIGKILL");
  for (const pid of orphans) signal(pid, "SIGKILL");
}
after(() => {
  killEverything();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});
process.on("exit", killEverything);

async function temporaryFolder(prefix: string): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), prefix));
  folders.add(folder);
  return folder;
}

/** process.kill that ignores a process already gone. */
function signal(pid: number, name: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Clients.

/** One gRPC client per replica, reconnecting fast after a replica restarts. */
class Clients {
  private readonly clients = new Map<string, ConsensusClient>();

  constructor(private readonly addresses: ReadonlyMap<string, string>) {}

  propose(at: string, identity: string, key: string, value: string, timeout = 1500): Promise<ProposeReply> {
    let client = this.clients.get(at);
    if (client === undefined) {
      const address = this.addresses.get(at);
      if (address === undefined) return Promise.reject(new Error(`no replica named ${JSON.stringify(at)}`));
      client = new ConsensusClient(address, grpc.credentials.createInsecure(), {
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 500,
      });
      this.clients.set(at, client);
    }
    const request = { identity, name: key, value: Buffer.from(value) };
    return new Promise((resolve, reject) =>
      client.propose(request, new grpc.Metadata(), { deadline: Date.now() + timeout }, (error, reply) =>
        error ? reject(error) : resolve(reply),
      ),
    );
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
  }
}

/** Proposes at `at`, following redirects (a few hops); the reply is the last replica's, `at` that replica. */
async function ask(
  clients: Clients,
  at: string,
  identity: string,
  key: string,
  value: string,
  timeout?: number,
): Promise<{ reply: ProposeReply; at: string }> {
  for (let hop = 0; ; hop++) {
    const reply = await clients.propose(at, identity, key, value, timeout);
    if (reply.success || reply.redirect === "" || hop === 3) return { reply, at };
    at = reply.redirect;
  }
}

/** Commits `key = value` (a read when empty) through whichever of `names` leads, retrying until `bound` ms. */
function commit(clients: Clients, names: readonly string[], key: string, value: string, bound = 10_000) {
  let next = 0;
  return poll(`${value === "" ? "read of" : "write of"} ${key}`, bound, async () => {
    const at = names[next++ % names.length]!;
    const answer = await ask(clients, at, "tester", key, value);
    if (!answer.reply.success) throw new Error(`${answer.at}: ${answer.reply.error || "redirect"}`);
    return answer;
  });
}

/** The replica of `names` that commits a read, i.e. the leader. */
async function leaderOf(clients: Clients, names: readonly string[], bound = 10_000): Promise<string> {
  return (await commit(clients, names, "probe", "", bound)).at;
}

// ---------------------------------------------------------------------------
// Replicas as processes.

/** One replica process: its exit, its stderr so far, and whether it printed its listening line. */
class ReplicaProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly listening: Promise<boolean>;
  stderr = "";

  constructor(args: string[]) {
    // The flags are the whole configuration: a CONSENSUS_* variable of the environment must not leak in.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("CONSENSUS_")));
    this.child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env });
    const child = this.child;
    children.add(child);
    child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk));
    this.exited = new Promise((resolve) =>
      child.on("close", (code, signal) => {
        children.delete(child);
        resolve({ code, signal });
      }),
    );
    const name = args[args.indexOf("--name") + 1];
    this.listening = new Promise((resolve) => {
      createInterface({ input: child.stdout! }).on("line", (line: string) => {
        if (line.startsWith(`${name} listening on `)) resolve(true);
      });
      void this.exited.then(() => resolve(false));
    });
  }
}

/** r1..r3 on a free block of ports, each with its own --data folder; a killed one restarts with the same. */
class Replicas {
  readonly addresses: Map<string, string>;
  readonly clients: Clients;
  private readonly running = new Map<string, ReplicaProcess>();

  private constructor(
    private readonly dir: string,
    ports: number[],
  ) {
    this.addresses = new Map(NAMES.map((name, i) => [name, `${HOST}:${ports[i]}`]));
    this.clients = new Clients(this.addresses);
  }

  static async start(): Promise<Replicas> {
    const dir = await temporaryFolder("paxos-cluster-");
    const replicas = new Replicas(dir, await freePortBlock(NAMES.length));
    try {
      await Promise.all(NAMES.map((name) => replicas.start(name)));
    } catch (error) {
      await replicas.stop();
      throw error;
    }
    return replicas;
  }

  /** `name`'s data folder. */
  folder(name: string): string {
    return path.join(this.dir, name);
  }

  /** `name`'s process, if it was started and not killed. */
  process(name: string): ReplicaProcess | undefined {
    return this.running.get(name);
  }

  /** The replicas running now. */
  get up(): string[] {
    return NAMES.filter((name) => this.running.has(name));
  }

  /** Starts (or restarts) `name` with its data folder; resolves once it listens. */
  async start(name: string): Promise<void> {
    const address = this.addresses.get(name)!;
    const port = address.slice(address.lastIndexOf(":") + 1);
    const peers = [...this.addresses].filter(([other]) => other !== name).map(([other, at]) => `${other}=${at}`);
    const args = ["--name", name, "--host", HOST, "--port", port, "--peers", peers.join(",")];
    const replica = new ReplicaProcess([...args, "--data", path.join(this.dir, name)]);
    this.running.set(name, replica);
    // A restart may replay a long log; 15 s is far more than three replicas of a test need.
    const listened = await within(`${name} listening`, 15_000, replica.listening);
    assert.ok(listened, `${name} exited before listening: ${replica.stderr}`);
  }

  /** SIGKILLs `name` and waits for it to be gone. */
  async kill(name: string): Promise<void> {
    const replica = this.running.get(name);
    assert.ok(replica, `${name} is not running`);
    this.running.delete(name);
    replica.child.kill("SIGKILL");
    await within(`${name} gone after SIGKILL`, 5000, replica.exited);
  }

  /** SIGTERMs every replica (SIGKILL if one still runs 10 s later), closes the clients, removes the data. */
  async stop(): Promise<void> {
    this.clients.close();
    const all = [...this.running.values()];
    this.running.clear();
    for (const replica of all) replica.child.kill("SIGTERM");
    try {
      await within("replicas stopping", 10_000, Promise.all(all.map((replica) => replica.exited)));
    } catch {
      for (const replica of all) replica.child.kill("SIGKILL");
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Runs `body` with a fresh three-replica cluster, stopped afterwards whatever happens. */
async function withReplicas(body: (replicas: Replicas) => Promise<void>): Promise<void> {
  const replicas = await Replicas.start();
  try {
    await body(replicas);
  } finally {
    await replicas.stop();
  }
}

// ---------------------------------------------------------------------------

test(
  "npm run cluster: a follower redirects to the leader, a write at the leader commits and a read returns it",
  { timeout: 60_000 },
  async () => {
    const dir = await temporaryFolder("paxos-npm-cluster-");
    const [port] = await freePortBlock(NAMES.length);
    // The npm that runs this test when there is one (npm test), else the one on the PATH.
    const execPath = process.env.npm_execpath;
    const npm = execPath?.endsWith("npm-cli.js") ? [process.execPath, execPath] : ["npm"];
    const args = ["run", "cluster", "--", "--replicas", "3", "--port", String(port), "--data", dir];
    // Its own process group (npm, sh, consensus), signalled as a whole at the end.
    const child = spawn(npm[0]!, [...npm.slice(1), ...args], { cwd: ROOT, detached: true, stdio: "pipe" });
    groups.add(child.pid!);
    const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
    let output = "";
    child.stderr.on("data", (chunk: Buffer) => (output += chunk));
    const listening = new Map<string, string>();
    const pids = new Map<string, number>();
    const started = new Promise<void>((resolve) => {
      createInterface({ input: child.stdout }).on("line", (line: string) => {
        output += `${line}\n`;
        const listen = /^(r\d) +\| (r\d) listening on (\S+)$/.exec(line);
        if (listen && listen[1] === listen[2]) listening.set(listen[1]!, listen[3]!);
        const stops = /^Ctrl-C stops all \(pids (.*)\)$/.exec(line);
        if (stops) {
          for (const pair of stops[1]!.split(" ")) {
            const [name, pid] = pair.split("=");
            pids.set(name!, Number(pid));
            orphans.add(Number(pid));
          }
          resolve();
        }
      });
    });
    const clients = new Clients(listening);
    try {
      await within(
        "the cluster's pids line",
        20_000,
        Promise.race([started, closed.then(() => assert.fail(`npm run cluster exited:\n${output}`))]),
      );
      assert.deepEqual(
        [...listening].sort(),
        NAMES.map((name, i) => [name, `${HOST}:${port! + i}`]),
        output,
      );
      assert.deepEqual([...pids.keys()].sort(), [...NAMES], output);

      const leader = await leaderOf(clients, NAMES);
      for (const follower of NAMES.filter((name) => name !== leader)) {
        for (const value of ["at a follower", ""]) {
          const reply = await clients.propose(follower, "c1", "x", value, 5000);
          assert.equal(reply.success, false, `${follower} took a command while ${leader} leads`);
          assert.equal(reply.redirect, leader, `${follower}'s redirect`);
        }
      }

      const write = await clients.propose(leader, "c1", "k", "v1", 5000);
      assert.equal(write.success, true, write.error);
      assert.equal(write.name, "k");
      assert.equal(write.value.toString(), "v1");
      const read = await clients.propose(leader, "c2", "k", "", 5000);
      assert.equal(read.success, true, read.error);
      assert.equal(read.value.toString(), "v1");
      assert.ok(read.seq > write.seq, `the read's seq ${read.seq} follows the write's ${write.seq}`);
      // A redirected command was not taken.
      const other = await clients.propose(leader, "c2", "x", "", 5000);
      assert.equal(other.success, true, other.error);
      assert.equal(other.value.length, 0, `x = ${other.value.toString()}`);
    } finally {
      clients.close();
      // Ctrl-C's equivalent for the whole group; consensus stops its replicas (each in a group of its own).
      signal(-child.pid!, "SIGTERM");
      try {
        await within("npm run cluster stopping", 15_000, closed);
      } catch {
        signal(-child.pid!, "SIGKILL");
      }
      groups.delete(child.pid!);
      // The replicas must not outlive the cluster.
      await poll("the replicas gone", 12_000, async () =>
        [...pids.values()].some((pid) => signal(pid, 0)) ? undefined : true,
      ).finally(() => {
        for (const pid of pids.values()) {
          signal(pid, "SIGKILL");
          orphans.delete(pid);
        }
      });
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test("the leader is SIGKILLed and a new one commits", { timeout: 60_000 }, (t) =>
  withReplicas(async (replicas) => {
    const { clients } = replicas;
    const leader = await leaderOf(clients, NAMES);
    await commit(clients, [leader], "before", "v-before");

    const killed = performance.now();
    await replicas.kill(leader);
    const survivors = replicas.up;
    // A few election timeouts on an idle machine; the bound is far above that, so that only a
    // cluster that never elects fails on a loaded one.
    const { at } = await commit(clients, survivors, "after", "v-after", 30_000);
    const took = performance.now() - killed;
    assert.notEqual(at, leader);
    t.diagnostic(`${leader} killed; ${at} committed ${Math.round(took)} ms (${timeouts(took)}) later`);

    // The new leader knows what the old one committed.
    const { reply } = await commit(clients, [at], "before", "");
    assert.equal(reply.value.toString(), "v-before");
  }),
);

/** A client that writes its own keys one command at a time, remembering what was acknowledged and what was tried. */
class Writer {
  static readonly KEYS = 4;
  acks = 0;
  /** Per key (n mod KEYS): the number of the last acknowledged write, and of the last one tried. */
  readonly acked = new Map<number, number>();
  readonly tried = new Map<number, number>();
  readonly anomalies: string[] = [];
  private n = 0;
  private target = 0;
  private stopped = false;
  private done: Promise<void> | undefined;

  constructor(
    readonly id: string,
    private readonly replicas: Replicas,
  ) {}

  key(k: number): string {
    return `${this.id}-k${k}`;
  }

  start(): void {
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // Each attempt a new value: a write that timed out may still take effect, but never after a later one.
      const n = this.n++;
      const k = n % Writer.KEYS;
      const value = `${this.id}-${n}`;
      this.tried.set(k, n);
      const at = NAMES[this.target % NAMES.length]!;
      try {
        const { reply, at: answered } = await ask(this.replicas.clients, at, this.id, this.key(k), value);
        if (reply.success) {
          if (reply.value.toString() !== value) {
            this.anomalies.push(`${value} acknowledged with value ${JSON.stringify(reply.value.toString())}`);
          }
          this.acked.set(k, n);
          this.acks++;
          this.target = NAMES.indexOf(answered as (typeof NAMES)[number]);
          continue;
        }
      } catch {
        // a killed replica, or a deadline during an election: try another
      }
      this.target++;
      await delay(20);
    }
  }
}

/** Reads every key the writers wrote, at the leader: what is not their last acknowledged value or a later one of theirs. */
async function losses(clients: Clients, writers: readonly Writer[]): Promise<string[]> {
  const leader = await leaderOf(clients, NAMES);
  const found: string[] = [];
  for (const writer of writers) {
    found.push(...writer.anomalies);
    for (const [k, last] of writer.tried) {
      const key = writer.key(k);
      const { reply } = await commit(clients, [leader, ...NAMES], key, "");
      const value = reply.value.toString();
      const acked = writer.acked.get(k);
      const n = value === "" ? undefined : Number(/^c\d-(\d+)$/.exec(value)?.[1]);
      // A write tried after the last acknowledged one may have taken effect too (its answer was lost).
      const fine = n === undefined ? acked === undefined : n % Writer.KEYS === k && n >= (acked ?? 0) && n <= last;
      if (!fine) found.push(`${key} = ${JSON.stringify(value)}, last acknowledged ${writer.id}-${acked}`);
    }
  }
  return found;
}

/** Three writers, and a wait for `count` more acknowledgements among them. */
function writersOf(replicas: Replicas) {
  const writers = ["c1", "c2", "c3"].map((id) => new Writer(id, replicas));
  const acks = () => writers.reduce((sum, writer) => sum + writer.acks, 0);
  /** Waits for `count` more acknowledged writes: the cluster makes progress as it is now. */
  const progress = (what: string, count = 20) => {
    const from = acks();
    return poll(`${count} writes acknowledged ${what}`, 15_000, async () =>
      acks() >= from + count ? true : undefined,
    );
  };
  return { writers, acks, progress };
}

test(
  "no acknowledged write is lost across a kill -9 of each replica in turn, the leader included",
  { timeout: 180_000 },
  (t) =>
    withReplicas(async (replicas) => {
      const { clients } = replicas;
      const { writers, acks, progress } = writersOf(replicas);
      for (const writer of writers) writer.start();
      const roles: string[] = [];
      try {
        for (const round of [0, 1, 2]) {
          await progress(`before round ${round + 1}`);
          const leader = await leaderOf(clients, NAMES);
          // The leader first, then a follower, then the last one (whatever it is by then).
          const left = NAMES.filter((name) => !roles.some((role) => role.startsWith(name)));
          const victim = round === 0 ? leader : (left.find((name) => name !== leader) ?? left[0]!);
          roles.push(`${victim} (${victim === leader ? "leader" : "follower"})`);
          await replicas.kill(victim);
          // The two left must commit; from round 2 on that needs a replica restarted earlier.
          await progress(`while ${victim} is down`);
          await replicas.start(victim);
          await progress(`after ${victim} restarted`);
        }
      } finally {
        await Promise.all(writers.map((writer) => writer.stop()));
      }
      t.diagnostic(`killed ${roles.join(", ")}; ${acks()} writes acknowledged`);
      assert.deepEqual(await losses(clients, writers), [], `killed ${roles.join(", ")}`);
    }),
);

test(
  "all three killed at once: a leader is back, elected over the write-ahead logs, and no acknowledged write is lost",
  { timeout: 120_000 },
  (t) =>
    withReplicas(async (replicas) => {
      const { clients } = replicas;
      const { writers, acks, progress } = writersOf(replicas);
      for (const writer of writers) writer.start();
      try {
        await progress("before the kill", 300);
      } finally {
        await Promise.all(writers.map((writer) => writer.stop()));
      }
      // One at a time, a restarted replica learns from the others' memory; with all three killed,
      // what was acknowledged survives only in the write-ahead logs.
      for (const name of NAMES) await replicas.kill(name);
      await Promise.all(NAMES.map((name) => replicas.start(name)));
      const restarted = performance.now();
      // Replaying the logs and electing take a few election timeouts on an idle machine; the bound
      // only tells a cluster that never leads again from a slow one.
      const leader = await leaderOf(clients, NAMES, 60_000);
      const took = performance.now() - restarted;
      t.diagnostic(
        `${acks()} writes acknowledged; ${leader} led ${Math.round(took)} ms (${timeouts(took)}) after the restart`,
      );
      assert.deepEqual(await losses(clients, writers), []);
    }),
);

test(
  "a replica restarted from its data folder is what every majority needs, serves the writes it missed, and keeps what it accepted",
  { timeout: 120_000 },
  (t) =>
    withReplicas(async (replicas) => {
      const { clients } = replicas;
      const writes = async (prefix: string, names: readonly string[]) => {
        for (let i = 0; i < 10; i++) await commit(clients, names, `${prefix}${i}`, `${prefix}-value-${i}`, 15_000);
      };
      const leader = await leaderOf(clients, NAMES);
      const [x, y] = NAMES.filter((name) => name !== leader) as [string, string];

      // x misses the a-writes, then comes back from its data folder.
      await replicas.kill(x);
      await writes("a", replicas.up);
      await replicas.start(x);
      // With y down every majority needs x: the b-writes commit only once x takes part again.
      await replicas.kill(y);
      await writes("b", replicas.up);
      // The b-writes were accepted by the first leader and x alone. With that leader down and x
      // restarted once more, they live only in x's data folder; the a-writes in y's (and x's, if it
      // caught up and accepted them again).
      await replicas.kill(leader);
      await replicas.kill(x);
      await Promise.all([replicas.start(x), replicas.start(y)]);
      const now = await leaderOf(clients, [x, y], 15_000);
      t.diagnostic(`first leader ${leader}, restarted ${x}, leader of ${x} and ${y}: ${now}`);
      for (const prefix of ["a", "b"]) {
        for (let i = 0; i < 10; i++) {
          const { reply } = await commit(clients, [now], `${prefix}${i}`, "");
          assert.equal(reply.value.toString(), `${prefix}-value-${i}`, `${prefix}${i} read at ${now}`);
        }
      }
    }),
);

test(
  "a replica restarted with an older copy of its data folder stops with one line before it votes, and no acknowledged write is lost",
  { timeout: 120_000 },
  () =>
    withReplicas(async (replicas) => {
      const { clients } = replicas;
      const leader = await leaderOf(clients, NAMES);
      const [x, y] = NAMES.filter((name) => name !== leader) as [string, string];
      await commit(clients, [leader], "k", "1");
      // A copy of x's folder, taken while x is down. A replica makes its folder at its first write:
      // if x has written nothing yet, its copy is an empty folder, older still.
      await replicas.kill(x);
      const copy = `${replicas.folder(x)}-copy`;
      if (existsSync(replicas.folder(x))) await cp(replicas.folder(x), copy, { recursive: true });
      else await mkdir(copy);
      await replicas.start(x);
      // With y down every majority needs x: x acknowledges these writes.
      await replicas.kill(y);
      for (const value of ["2", "3"]) await commit(clients, [leader], "k", value, 15_000);
      await replicas.start(y);
      // x comes back on the copy: its log is sound, but older than what it acknowledged.
      await replicas.kill(x);
      await rm(replicas.folder(x), { recursive: true });
      await cp(copy, replicas.folder(x), { recursive: true });
      await replicas.start(x);
      const restored = replicas.process(x)!;
      // The next Accept tells x what it acknowledged: it stops rather than vote on forgotten slots.
      await commit(clients, [leader], "k", "4", 15_000);
      assert.deepEqual(await within(`${x} stopping`, 15_000, restored.exited), { code: 1, signal: null });
      assert.match(
        restored.stderr,
        new RegExp(
          `^error: ${x} stops: its data is older than what it acknowledged to its peers: ` +
            "it acknowledged (ballot \\d+, but its data holds a promise of only \\d+|" +
            "slot \\d+ at ballot \\d+, but its data has nothing there); it stops rather than vote on what it forgot. " +
            "Restore its newest data folder\\n$",
          "m",
        ),
      );
      assert.equal(restored.stderr.match(/^error: /gm)?.length, 1, restored.stderr);
      const { reply } = await commit(clients, [leader], "k", "");
      assert.equal(reply.value.toString(), "4");
    }),
);

/** The [offset, length] of each record of a write-ahead log (templates/blank/src/wal.ts: a 12-byte header, then the record). */
function frames(wal: Buffer): [number, number][] {
  const found: [number, number][] = [];
  for (let offset = 0; offset + 12 <= wal.length; offset += 12 + wal.readUInt32LE(offset)) {
    found.push([offset, wal.readUInt32LE(offset)]);
  }
  return found;
}

test(
  "a corrupt write-ahead log, or one cut short below its mark, refuses to start; a torn last record is dropped with a notice",
  { timeout: 60_000 },
  async () => {
    const dir = await temporaryFolder("paxos-wal-");
    const data = path.join(dir, "r1");
    const wal = path.join(data, "wal");
    const [port] = await freePortBlock(1);
    const address = new Map([["r1", `${HOST}:${port}`]]);
    const args = ["--name", "r1", "--host", HOST, "--port", String(port), "--data", data];
    try {
      // A replica alone is its own majority: it leads and logs its promise and each slot it accepts.
      const clients = new Clients(address);
      let replica = new ReplicaProcess(args);
      try {
        assert.ok(await within("r1 listening", 15_000, replica.listening), replica.stderr);
        for (const i of [1, 2, 3]) await commit(clients, ["r1"], `k${i}`, `v${i}`);
      } finally {
        clients.close();
        // A crash: the log is not marked at its end (see src/wal.ts), so its last record may be torn.
        replica.child.kill("SIGKILL");
        assert.deepEqual(await within("r1 killed", 10_000, replica.exited), { code: null, signal: "SIGKILL" });
      }
      const good = await readFile(wal);
      const records = frames(good);
      assert.ok(records.length >= 4, `${records.length} records`);
      assert.equal(records.at(-1)![0] + 12 + records.at(-1)![1], good.length, "the log ends with a whole record");

      // A damaged byte in a record that others follow: refused, in one line.
      const [middle, length] = records[1]!;
      const damaged = Buffer.from(good);
      damaged[middle + 12 + Math.floor(length / 2)] ^= 0xff;
      await writeFile(wal, damaged);
      replica = new ReplicaProcess(args);
      assert.equal(await within("r1 refusing", 15_000, replica.listening), false, "r1 started on a corrupt log");
      assert.deepEqual(await replica.exited, { code: 1, signal: null });
      const escaped = wal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      assert.match(
        replica.stderr,
        new RegExp(`^error: r1 cannot start: ${escaped}: corrupt at offset ${middle}: [^\\n]*\\n$`),
      );

      // The last record cut short, as by a crash mid-append: dropped with a notice, and r1 starts on the rest.
      await writeFile(wal, good);
      const [last] = records.at(-1)!;
      await truncate(wal, good.length - 3);
      const restarted = new Clients(address);
      replica = new ReplicaProcess(args);
      try {
        assert.ok(await within("r1 listening", 15_000, replica.listening), replica.stderr);
        assert.match(replica.stderr, new RegExp(`^r1: ${escaped}: dropped a torn last record at offset ${last} `, "m"));
        assert.equal((await readFile(wal)).length, last, "the torn record is cut off the file");
        const { reply } = await commit(restarted, ["r1"], "k1", "");
        assert.equal(reply.value.toString(), "v1");
      } finally {
        restarted.close();
        replica.child.kill("SIGTERM");
        await within("r1 stopping", 10_000, replica.exited);
      }

      // Stopped cleanly, the log is marked at its end: cut in the middle, it cannot pass for a torn write.
      const marked = await readFile(wal);
      await truncate(wal, Math.floor(marked.length / 2));
      replica = new ReplicaProcess(args);
      assert.equal(await within("r1 refusing", 15_000, replica.listening), false, "r1 started on a cut log");
      assert.deepEqual(await replica.exited, { code: 1, signal: null });
      assert.match(
        replica.stderr,
        new RegExp(
          `^error: r1 cannot start: ${escaped}: cut short: it has ${Math.floor(marked.length / 2)} bytes, ` +
            `but wal.end says it had ${marked.length} on disk, [^\\n]*\\n$`,
        ),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
