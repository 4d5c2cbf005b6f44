// N replicas of a project as child processes on one host, each given the
// others as peers, their output prefixed with their names: the local quorum of
// `consensus cluster`, the cluster a bench starts, and a fixture for tests.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import type { WriteStream } from "node:tty";
import { UserError } from "../core/errors.js";
import { joinHostPort } from "./address.js";
import type { Fsync } from "./fsync.js";
import type { NemesisTarget } from "./nemesis.js";
import { LinkProxies } from "./proxy.js";

const MAX_REPLICAS = 64;
/** How long a restarted replica may take to listen again (it may replay a log from its data folder). */
const RESTART_TIMEOUT = 30_000;
/** A replica drains for at most 5 s (ReplicaServer.close); one still running this long after the signal is stuck. */
const KILL_AFTER = 10_000;
/** Prefix colours (ANSI foreground codes): cyan, yellow, magenta, green, blue and their bright kin; no red. */
const COLOURS = [36, 33, 35, 32, 34, 96, 93, 95, 92, 94];

/** How a replica of the project starts (consensus.json's `start`), run in the project's folder. */
export interface StartCommand {
  /** The program and its arguments; the cluster appends --name --host --port --peers [--data --fsync --metrics --run --trace]. */
  command: readonly string[];
  /** The folder it runs in (the project's root). */
  cwd: string;
}

export interface ClusterOptions {
  start: StartCommand;
  /** How many replicas, r1..rN (1 to 64). */
  replicas: number;
  /** Address they all listen on (default 127.0.0.1). */
  host?: string;
  /** rI listens on firstPort+I-1 (default 3264); 0 picks N free ports. */
  firstPort?: number;
  /** JSON-lines file each replica appends its metrics line to on exit (--metrics). */
  metrics?: string;
  /** Label of those lines (--run). */
  run?: string;
  /** Folder where rI appends a line per Dispatch message to rI.jsonl (--trace). */
  trace?: string;
  /** Folder of the replicas' data folders: rI gets <data>/rI (--data), the same one across restarts. */
  data?: string;
  /** When the replicas sync their durable state (--fsync; default: the replicas' own). */
  fsync?: Fsync;
  /** Where the replicas' stdout lines go, prefixed (default process.stdout). */
  output?: NodeJS.WritableStream;
  /** Where their stderr lines go, prefixed (default process.stderr). */
  errorOutput?: NodeJS.WritableStream;
  /** Milliseconds to wait for every replica's listening line (default 10000). */
  timeout?: number;
  /** Replica-to-replica links through proxies (proxy.ts), so that the nemesis can partition and delay them. */
  links?: boolean;
}

export interface Member {
  name: string;
  host: string;
  port: number;
  /** host:port as a peer dials it ([::1]:3264 for IPv6). */
  address: string;
  /** The replica's process, to signal it alone (a test kills one to see the cluster notice). */
  pid: number;
}

/** How a replica's process ended: its exit code, or the signal that killed it. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** `exited with code 1`, or `was killed by SIGKILL`. */
export function describeExit({ code, signal }: Exit): string {
  return code === null ? `was killed by ${signal}` : `exited with code ${code}`;
}

/** What it takes to (re)start one replica: the same command line each time, so a restart keeps its --data. */
interface Launch {
  member: Omit<Member, "pid">;
  start: StartCommand;
  args: string[];
  out: (line: string) => void;
  err: (line: string) => void;
}

/**
 * The replicas of a cluster, and what the nemesis does to them: kill and
 * restart one, pause and resume one, and (with `links`) partition or slow the
 * links between them.
 */
export class Cluster implements NemesisTarget {
  /** The first replica that exits without stop() or kill() having been called; never resolves otherwise. */
  readonly died: Promise<{ name: string } & Exit>;
  private stopped: Promise<({ name: string } & Exit)[]> | undefined;
  private readonly processes = new Map<string, ReplicaProcess>();
  private readonly launches: ReadonlyMap<string, Launch>;
  private readonly paused = new Set<string>();
  private reportDeath!: (exit: { name: string } & Exit) => void;

  private constructor(
    launches: readonly Launch[],
    replicas: readonly ReplicaProcess[],
    private readonly links: LinkProxies | undefined,
  ) {
    this.launches = new Map(launches.map((launch) => [launch.member.name, launch]));
    for (const replica of replicas) this.processes.set(replica.member.name, replica);
    this.died = new Promise((resolve) => (this.reportDeath = resolve));
    for (const replica of replicas) this.watch(replica);
  }

  /** Each replica as it runs now (a restarted one has a new pid), in name order. */
  get members(): Member[] {
    return this.running().map(({ member, child }) => ({ ...member, pid: child.pid! }));
  }

  /** The processes running now, in name order (a killed replica is gone until it restarts). */
  private running(): ReplicaProcess[] {
    return [...this.launches.keys()].flatMap((name) => this.processes.get(name) ?? []);
  }

  /**
   * Spawns the replicas and resolves once every one has printed its listening
   * line. If one exits first, or `timeout` passes, stops the others and
   * rejects naming it.
   */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const { start, replicas: count, host = "127.0.0.1", firstPort = 3264, metrics, run, data, fsync, trace } = options;
    const { timeout = 10_000 } = options;
    const { output = process.stdout, errorOutput = process.stderr } = options;
    if (!Number.isInteger(count) || count < 1 || count > MAX_REPLICAS) {
      throw new UserError(`${count} replicas: a cluster has an integer number of replicas from 1 to ${MAX_REPLICAS}`);
    }
    if (host.trim() === "") throw new UserError(`host ${JSON.stringify(host)} is not an address`);
    if (!Number.isInteger(firstPort) || firstPort < 0 || firstPort > 65535) {
      throw new UserError(`first port ${firstPort} is not a port (an integer from 0 to 65535)`);
    }
    if (firstPort > 0 && firstPort + count - 1 > 65535) {
      throw new UserError(
        `${count} replicas from port ${firstPort} need ports up to ${firstPort + count - 1}, past 65535`,
      );
    }

    if (trace !== undefined) await mkdir(trace, { recursive: true });
    const ports =
      firstPort === 0 ? await freePorts(host, count) : Array.from({ length: count }, (_, i) => firstPort + i);
    const members = ports.map((port, i) => ({
      name: `r${i + 1}`,
      host,
      port,
      address: joinHostPort(host, port),
    }));
    // Replica-to-replica traffic through proxies the nemesis can cut; clients still dial replicas directly.
    const links = options.links ? await LinkProxies.start(members, host) : undefined;
    const width = members.at(-1)!.name.length;
    const launches = members.map((member, i): Launch => {
      const peers = members
        .filter((other) => other !== member)
        .map((other) => `${other.name}=${links ? links.address(member.name, other.name) : other.address}`);
      const args = ["--name", member.name, "--host", host, "--port", String(member.port), "--peers", peers.join(",")];
      if (metrics !== undefined) args.push("--metrics", metrics);
      if (run !== undefined) args.push("--run", run);
      if (data !== undefined) args.push("--data", path.resolve(data, member.name));
      if (fsync !== undefined) args.push("--fsync", fsync);
      if (trace !== undefined) args.push("--trace", path.resolve(trace, `${member.name}.jsonl`));
      const label = member.name.padEnd(width);
      return { member, start, args, out: prefixer(output, label, i), err: prefixer(errorOutput, label, i) };
    });
    const replicas = launches.map((launch) => new ReplicaProcess(launch));
    try {
      await listening(replicas, timeout);
    } catch (error) {
      await stopAll(replicas, "SIGTERM");
      await links?.close();
      throw error;
    }
    return new Cluster(launches, replicas, links);
  }

  /**
   * Sends `signal` to every replica still running and resolves with how each
   * exited (a replica that drains dumps its metrics first), in member order.
   * Later calls return the first call's outcome.
   */
  stop(signal: NodeJS.Signals = "SIGTERM"): Promise<({ name: string } & Exit)[]> {
    this.stopped ??= (async () => {
      try {
        return await stopAll(this.running(), signal);
      } finally {
        await this.links?.close();
      }
    })();
    return this.stopped;
  }

  async kill(name: string): Promise<void> {
    const replica = this.replica(name);
    this.processes.delete(name);
    this.paused.delete(name);
    replica.kill("SIGKILL");
    await replica.exited;
  }

  /** Starts a killed replica again with its command line (and so its data folder); resolves once it listens. */
  async restart(name: string): Promise<void> {
    if (this.stopped !== undefined) return;
    const replica = new ReplicaProcess(this.launches.get(name)!);
    this.processes.set(name, replica);
    this.watch(replica);
    await listening([replica], RESTART_TIMEOUT);
  }

  pause(name: string): void {
    this.replica(name).kill("SIGSTOP");
    this.paused.add(name);
  }

  resume(name: string): void {
    this.paused.delete(name);
    this.processes.get(name)?.kill("SIGCONT");
  }

  partition(sides: string[][]): void {
    this.linkProxies().partition(sides);
  }

  heal(): void {
    this.linkProxies().heal();
  }

  delay(ms: number): void {
    this.linkProxies().delay(ms);
  }

  /** Reports `replica`'s exit as a death unless the cluster was stopping it or the nemesis killed it. */
  private watch(replica: ReplicaProcess): void {
    const { name } = replica.member;
    void replica.exited.then((exit) => {
      if (this.stopped === undefined && this.processes.get(name) === replica) this.reportDeath({ name, ...exit });
    });
  }

  private replica(name: string): ReplicaProcess {
    const replica = this.processes.get(name);
    if (replica === undefined) throw new Error(`no running replica ${name}`);
    return replica;
  }

  private linkProxies(): LinkProxies {
    if (this.links === undefined) throw new Error("this cluster's links run through no proxies (start it with links)");
    return this.links;
  }
}

/** Resolves once each replica has printed its listening line; rejects naming one that exits first, or those late after `timeout` ms. */
async function listening(replicas: readonly ReplicaProcess[], timeout: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(replicas.map((replica) => replica.listening)),
      ...replicas.map((replica) =>
        replica.exited.then((exit) => {
          const detail = replica.lastError === undefined ? "" : `: ${replica.lastError}`;
          throw new UserError(`${replica.member.name} ${describeExit(exit)}${detail}`);
        }),
      ),
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          const late = replicas.filter((replica) => !replica.listened);
          const detail = late.flatMap((replica) => replica.lastError ?? []).join("; ");
          const names = late.map((replica) => replica.member.name).join(", ");
          reject(
            new UserError(`${names} did not print a listening line within ${timeout} ms${detail && `: ${detail}`}`),
          );
        }, timeout);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Replicas still running, killed if this process exits without stopping them (an uncaught error, process.exit). */
const running = new Set<ReplicaProcess>();
process.on("exit", () => {
  for (const replica of running) replica.kill("SIGKILL");
});

/** One replica's process: its lines written prefixed, its listening line and its exit awaited. */
class ReplicaProcess {
  readonly child: ChildProcess;
  readonly listening: Promise<void>;
  readonly exited: Promise<Exit>;
  listened = false;
  /** The last stderr line worth quoting in an error, if any. */
  lastError: string | undefined;

  readonly member: Omit<Member, "pid">;

  constructor({ member, start, args, out, err }: Launch) {
    this.member = member;
    // The options are the whole configuration: a CONSENSUS_* variable meant for `npm start` must not leak in.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("CONSENSUS_")));
    // A process group of its own: Ctrl-C at a terminal reaches only the process that started the
    // cluster, which stops the replicas itself (after a bench has stopped loading them).
    // "node" is the Node.js running the tool, so that replicas run on the line the command was started with.
    const [program, ...rest] = start.command;
    this.child = spawn(program === "node" ? process.execPath : program!, [...rest, ...args], {
      cwd: start.cwd,
      stdio: ["ignore", "pipe", "pipe"],
      env,
      detached: true,
    });
    running.add(this);
    this.child.on("exit", () => running.delete(this));
    const child = this.child;
    this.exited = new Promise((resolve) => {
      // 'close' comes after the last line of both pipes (and after 'error' when the spawn failed).
      child.on("close", (code, signal) => resolve({ code, signal }));
      child.on("error", (error) => (this.lastError = error.message));
    });
    this.listening = new Promise((resolve) => {
      createInterface({ input: child.stdout!, crlfDelay: Infinity }).on("line", (line: string) => {
        out(line);
        if (!this.listened && line.startsWith(`${member.name} listening on `)) {
          this.listened = true;
          resolve();
        }
      });
    });
    createInterface({ input: child.stderr!, crlfDelay: Infinity }).on("line", (line: string) => {
      err(line);
      // Worth quoting: main's `error: …`, or an uncaught exception's `Error: …`, not the
      // stack frames and the `Node.js v20…` that node prints after it.
      if (/^\S/.test(line) && !line.startsWith("Node.js v")) this.lastError = line;
    });
  }

  /** Signals the replica's process group: a `start` that wraps the replica (npm start, sh -c) must not leave it running. */
  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(-this.child.pid!, signal);
    } catch {
      this.child.kill(signal); // the group is gone already, or never was (no pid: the spawn failed)
    }
  }
}

async function stopAll(replicas: readonly ReplicaProcess[], signal: NodeJS.Signals) {
  for (const replica of replicas) {
    replica.kill(signal);
    // A paused replica handles the signal once continued; a running one ignores this.
    replica.kill("SIGCONT");
  }
  const timer = setTimeout(() => {
    for (const replica of replicas) replica.kill("SIGKILL");
  }, KILL_AFTER);
  try {
    return await Promise.all(replicas.map(async ({ member, exited }) => ({ name: member.name, ...(await exited) })));
  } finally {
    clearTimeout(timer);
  }
}

/** Writes each line to `stream` after `label |`, coloured when the stream is a terminal that takes colours. */
function prefixer(stream: NodeJS.WritableStream, label: string, index: number): (line: string) => void {
  // Only a tty.WriteStream has hasColors; it says no under NO_COLOR or TERM=dumb.
  const colour = (stream as Partial<WriteStream>).hasColors?.() === true;
  const prefix = colour ? `\x1b[${COLOURS[index % COLOURS.length]}m${label} |\x1b[39m` : `${label} |`;
  return (line) => void stream.write(`${prefix} ${line}\n`);
}

/** `count` ports free on `host` a moment ago (held together, so they differ), for replicas to bind next. */
async function freePorts(host: string, count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen({ host, port: 0 }, resolve);
          }),
      ),
    );
    return servers.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}
