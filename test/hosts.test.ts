// Several hosts: three network namespaces on a bridge, a paxos replica in each
// started by the project's own `npm start`, talking by address across them. A
// write commits; the leader is cut off by the network (its link down, its
// process left running), its peers' keepalive reports it lost and the majority
// elects a leader that commits; after the heal the links come back, a write
// through the old leader commits and what was written without it reads back
// through it. Then peers named by host name: one replica moves to another host
// (its name now resolving there) and the others find it there and commit
// through it. Needs root and `ip`: skipped otherwise, with the reason.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, test, type TestContext } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { decodeValue, encodeValue } from "../src/workbench/load/kv.js";
import { proposeFollowing, Replicas } from "../src/workbench/load/redirects.js";
import { type Host, Hosts, hostsUnavailable } from "./support/netns.js";
import { environment } from "./support/project.js";
import { builtReplicaProject } from "./support/replica-project.js";

const PORT = 3264;
const NAMES = ["r1", "r2", "r3"];
/** Bound on each wait for a line or a commit: what must come sooner is asserted from when it came. */
const WAIT = 30_000;
/** How long the leader stays cut off at the least. */
const CUT_MS = 12_000;
/** What a loaded machine may add to the time the peer links take to notice a change. */
const MARGIN_MS = 4000;
/**
 * The reason of a link lost to keepalive: grpc-js drops a connection whose ping goes unanswered, with
 * "Connection dropped", which explainFailure (the project's src/tls.ts) puts in words.
 */
const KEEPALIVE_REASON =
  "the connection dropped (the peer closed it, or stopped answering keepalive pings) (Connection dropped)";
/** The domain of the replicas' host names, when they are named (a reserved one, RFC 2606). */
const DOMAIN = "consensus.test";

/** The constants of the project's src/peers.ts that the waits here are bounded by. */
interface PeerTimes {
  MAX_BACKOFF_MS: number;
  KEEPALIVE_TIME_MS: number;
  KEEPALIVE_TIMEOUT_MS: number;
  RESOLVE_INTERVAL_MS: number;
}

/** Those constants, from the build of the project in `dir`. */
async function peerTimes(dir: string): Promise<PeerTimes> {
  return (await import(pathToFileURL(path.join(dir, "dist/src/peers.js")).href)) as PeerTimes;
}

// Whatever the tests made goes, even when one fails or times out (a timed-out test's finally may not run).
const made: Hosts[] = [];
let project: string | undefined;
const groups = new Set<number>();
function killGroups(): void {
  for (const group of groups) {
    try {
      process.kill(-group, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
process.on("exit", killGroups);
after(async () => {
  killGroups();
  for (const hosts of made) await hosts.destroy();
  if (project !== undefined) await rm(path.dirname(project), { recursive: true, force: true });
});

/** The lines a stream printed so far, when each came, and a wait for one that matches. */
class Lines {
  readonly lines: string[] = [];
  /** performance.now() at each line's arrival. */
  readonly at: number[] = [];
  private readonly waiters = new Set<{ pattern: RegExp; resolve: (index: number) => void }>();
  private ended = false;

  constructor(
    stream: NodeJS.ReadableStream,
    private readonly what: string,
  ) {
    createInterface({ input: stream })
      .on("line", (line) => {
        this.at.push(performance.now());
        const index = this.lines.push(line) - 1;
        for (const waiter of this.waiters) {
          if (!waiter.pattern.test(line)) continue;
          this.waiters.delete(waiter);
          waiter.resolve(index);
        }
      })
      .on("close", () => (this.ended = true));
  }

  /** Milliseconds from `start` (a performance.now()) to the arrival of line `index`. */
  since(start: number, index: number): number {
    return this.at[index]! - start;
  }

  /** How many lines came so far: a mark to wait from. */
  get mark(): number {
    return this.lines.length;
  }

  /** The index of the first line from `from` on that matches `pattern`; rejects after `ms` ms with what was printed. */
  async waitFor(pattern: RegExp, ms = WAIT, from = 0): Promise<number> {
    const seen = this.lines.findIndex((line, index) => index >= from && pattern.test(line));
    if (seen >= 0) return seen;
    const waiter = { pattern, resolve: (_index: number) => {} };
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<number>((resolve, reject) => {
        waiter.resolve = resolve;
        this.waiters.add(waiter);
        timer = setTimeout(() => {
          const said = this.lines.slice(-20).join("\n");
          const state = this.ended ? " (the stream has ended)" : "";
          reject(
            new Error(`${this.what}: no line matching ${pattern} within ${ms} ms${state}; its last lines:\n${said}`),
          );
        }, ms);
      });
    } finally {
      this.waiters.delete(waiter);
      clearTimeout(timer);
    }
  }
}

/** One replica process in its namespace. */
interface ReplicaProcess {
  name: string;
  host: Host;
  /** What its peers dial: its --advertise. */
  address: string;
  child: ChildProcess;
  /** performance.now() when it printed its listening line. */
  listening: number;
  stdout: Lines;
  stderr: Lines;
}

/**
 * `name` started in `host` by the project's `npm start`, advertised as `advertise` (by default its address
 * there), its data in a folder of its name; resolved once it prints its listening line.
 */
async function startReplica(
  hosts: Hosts,
  name: string,
  host: Host,
  peers: string,
  dir: string,
  advertise?: string,
): Promise<ReplicaProcess> {
  const args = ["--name", name, "--host", host.address, "--port", String(PORT), "--peers", peers];
  if (advertise !== undefined) args.push("--advertise", advertise);
  args.push("--data", path.join(path.dirname(dir), `data-${name}`));
  const child = hosts.spawn(host, ["npm", "start", "--", ...args], {
    cwd: dir,
    env: environment({}),
    stdio: ["ignore", "pipe", "pipe"],
  });
  groups.add(child.pid!);
  const replica = {
    name,
    host,
    address: advertise ?? `${host.address}:${PORT}`,
    child,
    stdout: new Lines(child.stdout!, `${name}'s stdout`),
    stderr: new Lines(child.stderr!, `${name}'s stderr`),
  };
  const as = advertise === undefined ? "" : ` \\(advertised as ${literal(advertise)}\\)`;
  const listening = new RegExp(`^${name} listening on ${literal(host.address)}:${PORT}${as}$`);
  const index = await replica.stdout.waitFor(listening).catch((error: Error) => {
    throw new Error(`${error.message}\n${name}'s stderr:\n${replica.stderr.lines.join("\n")}`);
  });
  return { ...replica, listening: replica.stdout.at[index]! };
}

/** Stops `replica` as a supervisor does (SIGTERM to what `npm start` started); resolves once it has exited. */
async function stopReplica(replica: ReplicaProcess): Promise<void> {
  const exited = new Promise((resolve) => replica.child.once("exit", resolve));
  process.kill(-replica.child.pid!, "SIGTERM");
  await exited;
  groups.delete(replica.child.pid!);
}

/** Waits until every link between `replicas` is up (one that failed while its peer was starting reopens by itself). */
async function allConnected(replicas: ReplicaProcess[]): Promise<void> {
  for (const replica of replicas) {
    for (const peer of replicas.filter((other) => other !== replica)) {
      const lost = replica.stderr.lines.findLastIndex((line) => lostLine(replica, peer).test(line));
      await replica.stderr.waitFor(connectedLine(replica, peer), WAIT, lost + 1);
    }
  }
}

/**
 * Proposes `key` = `value` (a read when undefined) at `at`, following redirects, until one commits
 * (elections, a leader that cannot reach a majority: each attempt has a deadline); resolves with the
 * replica that committed it and the value it answered.
 */
async function commit(
  members: Map<string, string>,
  at: string,
  key: string,
  value: number | undefined,
  ms = WAIT,
): Promise<{ replica: string; value: number | string | null }> {
  const deadline = performance.now() + ms;
  const request = {
    identity: "hosts-test",
    name: key,
    value: value === undefined ? Buffer.alloc(0) : encodeValue(value),
  };
  for (let last = ""; ; await delay(100)) {
    const replicas = new Replicas(members);
    try {
      const ended = await proposeFollowing(replicas, 0, request, at, 2000, () => {});
      if ("reply" in ended && ended.reply.success)
        return { replica: ended.replica, value: decodeValue(ended.reply.value) };
      last = `${ended.replica}: ${"error" in ended ? ended.error : ended.reply.error || "declined"}`;
    } finally {
      replicas.close();
    }
    if (performance.now() >= deadline)
      throw new Error(`${key} at ${at}: not committed within ${ms} ms (last: ${last})`);
  }
}

/** `text` as a regular expression that matches it literally. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The line `replica` prints when its link to `peer` comes up. */
function connectedLine(replica: ReplicaProcess, peer: ReplicaProcess): RegExp {
  return new RegExp(`^${replica.name}: connected to ${peer.name} \\(${literal(peer.address)}\\)$`);
}

/** The line `replica` prints when its link to `peer` fails, with the reason. */
function lostLine(replica: ReplicaProcess, peer: ReplicaProcess): RegExp {
  return new RegExp(`^${replica.name}: lost ${peer.name} \\(${literal(peer.address)}\\): \\S`);
}

/**
 * Skips `t` (saying why) where network namespaces cannot be made; otherwise builds the paxos
 * project once and makes `count` hosts, removed after the file. Undefined when skipped.
 */
async function setUp(t: TestContext, count: number): Promise<{ hosts: Hosts; project: string } | undefined> {
  const unavailable = hostsUnavailable();
  if (unavailable !== undefined) {
    t.skip(unavailable);
    return undefined;
  }
  project ??= await builtReplicaProject("paxos");
  const hosts = await Hosts.create(count);
  made.push(hosts);
  return { hosts, project };
}

/** Milliseconds in seconds, for a diagnostic. */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

test(
  "several hosts: paxos replicas in network namespaces, the leader cut off and back",
  { timeout: 300_000 },
  async (t) => {
    const setup = await setUp(t, NAMES.length);
    if (setup === undefined) return;
    const { hosts, project } = setup;
    const { KEEPALIVE_TIME_MS, KEEPALIVE_TIMEOUT_MS } = await peerTimes(project);
    const members = new Map(NAMES.map((name, i) => [name, `${hosts.hosts[i]!.address}:${PORT}`]));
    // One list for all, each replica's own entry in it (as a compose file or a StatefulSet shares one).
    const peers = [...members].map(([name, address]) => `${name}=${address}`).join(",");
    const replicas = await Promise.all(
      NAMES.map((name, i) => startReplica(hosts, name, hosts.hosts[i]!, peers, project)),
    );
    const byName = new Map(replicas.map((replica) => [replica.name, replica]));

    // (1) A leader is elected across the namespaces; every replica answers, the followers by redirecting to it.
    const leader = (await commit(members, "r1", "before", 1)).replica;
    for (const name of NAMES) {
      const read = await commit(members, name, "before", undefined);
      assert.deepEqual(read, { replica: leader, value: 1 }, `a read at ${name}`);
    }
    // Every link is up before the cut, so what the cut does to each one shows.
    await allConnected(replicas);
    const old = byName.get(leader)!;
    const majority = replicas.filter((replica) => replica !== old);

    // (2) The leader's link goes down; its process runs on. Its peers' keepalive notices, and they elect one of them.
    const marks = new Map(replicas.map((replica) => [replica, replica.stderr.mark]));
    const cut = performance.now();
    await hosts.linkDown(old.host);
    // Both sides notice, each link once: the majority loses the leader, and the leader each of them. No packet
    // crosses the cut, so only keepalive can tell, and it does in seconds: a ping is due within its interval,
    // and unanswered for its timeout.
    const across = [
      ...majority.map((replica) => [replica, old] as const),
      ...majority.map((peer) => [old, peer] as const),
    ];
    const noticed = KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS + MARGIN_MS;
    for (const [replica, peer] of across) {
      const index = await replica.stderr.waitFor(lostLine(replica, peer), WAIT, marks.get(replica));
      const after = replica.stderr.since(cut, index);
      t.diagnostic(`${replica.name} reported ${peer.name} lost ${seconds(after)} s after the cut`);
      assert.equal(
        replica.stderr.lines[index],
        `${replica.name}: lost ${peer.name} (${peer.address}): ${KEEPALIVE_REASON}`,
      );
      assert.ok(
        after <= noticed,
        `${replica.name} reported ${peer.name} lost ${Math.round(after)} ms after the cut, not within ${noticed} ms`,
      );
    }
    // A redirect to the cut-off leader ends an attempt instead of being followed: a connect to it would
    // hang on after the test until the kernel gives up (grpc-js leaves a connecting socket open when its
    // channel closes).
    const reachable = new Map([...members].filter(([name]) => name !== leader));
    const during = await commit(reachable, majority[0]!.name, "during", 2);
    // The cut lasts long enough for several attempts to reconnect to fail (each takes the ARP timeout, ~3 s, to
    // fail here), so that a link reported lost once per attempt would show below; what is asserted waits on lines.
    await delay(Math.max(0, cut + CUT_MS - performance.now()));

    // (3) Healed: every link across the cut comes back, a write through the old leader commits, and the value
    // written without it reads back through it.
    const healed = new Map(replicas.map((replica) => [replica, replica.stderr.mark]));
    const heal = performance.now();
    await hosts.linkUp(old.host);
    for (const [replica, peer] of across) {
      const index = await replica.stderr.waitFor(connectedLine(replica, peer), WAIT, healed.get(replica));
      t.diagnostic(
        `${replica.name} connected to ${peer.name} ${seconds(replica.stderr.since(heal, index))} s after the heal`,
      );
    }
    // Once per change: the attempts to reconnect while the cut lasted printed nothing more.
    for (const [replica, peer] of across) {
      const printed = replica.stderr.lines.slice(marks.get(replica), healed.get(replica));
      const lost = printed.filter((line) => lostLine(replica, peer).test(line));
      assert.equal(lost.length, 1, `${replica.name}'s stderr while cut off:\n${printed.join("\n")}`);
    }
    const written = await commit(members, leader, "after", 3);
    assert.equal(written.replica, during.replica, "the leader elected during the partition keeps the lead");
    assert.deepEqual(await commit(members, leader, "during", undefined), { replica: during.replica, value: 2 });
  },
);

test(
  "several hosts: peers named by host name, one moved to another host and found there",
  { timeout: 120_000 },
  async (t) => {
    // One host more than replicas: where r3 moves, as a rescheduled pod comes back on another node.
    const setup = await setUp(t, NAMES.length + 1);
    if (setup === undefined) return;
    const { hosts, project } = setup;
    const { MAX_BACKOFF_MS, RESOLVE_INTERVAL_MS } = await peerTimes(project);
    const spare = hosts.hosts[NAMES.length]!;
    const at = new Map(NAMES.map((name, i) => [name, hosts.hosts[i]!]));
    const hostName = (name: string) => `${name}.${DOMAIN}`;
    const writeHostsFile = () => hosts.hostsFile(new Map(NAMES.map((name) => [hostName(name), at.get(name)!.address])));
    // What the test dials: it resolves no names, and a redirect names a replica, which this maps to an address.
    const members = () => new Map(NAMES.map((name) => [name, `${at.get(name)!.address}:${PORT}`]));
    await writeHostsFile();
    const peers = NAMES.map((name) => `${name}=${hostName(name)}:${PORT}`).join(",");
    const start = (name: string) =>
      startReplica(hosts, name, at.get(name)!, peers, project, `${hostName(name)}:${PORT}`);
    const [r1, r2, r3] = await Promise.all(NAMES.map(start));
    await commit(members(), "r1", "before", 1);
    await allConnected([r1!, r2!, r3!]);

    // (1) r3 stops, and the others lose it; they go on dialling r3's name, which still resolves to its old host.
    const stopped = new Map([r1!, r2!].map((replica) => [replica, replica.stderr.mark]));
    await stopReplica(r3!);
    for (const [replica, mark] of stopped) await replica.stderr.waitFor(lostLine(replica, r3!), WAIT, mark);

    // (2) It starts again on the spare host, with its data, and its name resolves there now.
    at.set("r3", spare);
    await writeHostsFile();
    const moving = new Map([r1!, r2!].map((replica) => [replica, replica.stderr.mark]));
    const moved = await start("r3");
    // A link reopens within its backoff's cap (+20% jitter), and dials the name's new address once it is resolved
    // again, which grpc-js would otherwise put off for 30 s.
    const found = 1.2 * MAX_BACKOFF_MS + RESOLVE_INTERVAL_MS + MARGIN_MS;
    for (const [replica, mark] of moving) {
      const index = await replica.stderr.waitFor(connectedLine(replica, moved), WAIT, mark);
      const after = replica.stderr.since(moved.listening, index);
      t.diagnostic(`${replica.name} connected to r3 on its new host ${seconds(after)} s after it listened`);
      assert.ok(
        after <= found,
        `${replica.name} connected to r3 ${Math.round(after)} ms after it listened, not within ${found} ms`,
      );
    }

    // (3) With r2 stopped, a commit needs r3 at its new address: r1 and r3 are the majority.
    await stopReplica(r2!);
    const reachable = new Map([...members()].filter(([name]) => name !== "r2"));
    const written = await commit(reachable, "r3", "moved", 2);
    assert.ok(written.replica === "r1" || written.replica === "r3", `committed at ${written.replica}`);
    assert.deepEqual(await commit(reachable, "r3", "before", undefined), { replica: written.replica, value: 1 });
  },
);

test("where ip cannot make a namespace (a container without the capability), hosts are unavailable, with what ip said", () => {
  // An `ip` in front of the real one that fails to add a namespace as such a container's does.
  const bin = mkdtempSync(path.join(os.tmpdir(), "fake-ip-"));
  try {
    const said = "mount --make-shared /run/netns failed: Operation not permitted";
    const script = `#!/bin/sh\n[ "$1" = "-V" ] && exit 0\n[ "$1 $2" = "netns add" ] && echo "${said}" >&2\nexit 1\n`;
    writeFileSync(path.join(bin, "ip"), script);
    chmodSync(path.join(bin, "ip"), 0o755);
    const netns = fileURLToPath(new URL("./support/netns.js", import.meta.url));
    const code = "const { hostsUnavailable } = await import(process.argv[1]); console.log(hostsUnavailable());";
    const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}` };
    const why = execFileSync(process.execPath, ["--input-type=module", "-e", code, netns], { env, encoding: "utf8" });
    const expected =
      process.platform !== "linux"
        ? "network namespaces need Linux"
        : process.getuid?.() !== 0
          ? "network namespaces need root"
          : `network namespaces cannot be made here (ip netns add: ${said})`;
    assert.equal(why.trim(), expected);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});
