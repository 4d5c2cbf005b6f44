// A deterministic simulation of a cluster, as FoundationDB tests itself: the
// replicas run in one process on a virtual clock, over the in-memory network
// and in-memory disks, while seeded clients load them and a seeded nemesis
// crashes them (the process, or the power: then the disk keeps only what was
// synced), fails their disks, partitions them, cuts links one way and slows them; the clients'
// history is then checked for linearizability. Everything random comes from
// the seed, and nothing waits on the system, so a seed replays a run exactly.
import { checkHistory, type CheckOptions, type CheckResult, TraceRecorder } from "create-consensus/check";
import type { Clock } from "../clock.js";
import { type Fsync, MemoryDisk } from "../disk.js";
import { typeName } from "../envelope.js";
import { type Endpoint, MemoryNetwork, type MemoryPeers } from "../memory.js";
import { ProposeReply, ProposeRequest } from "../pb/client.js";
import type { PeerRequest } from "../pb/envelope.js";
import { Replica, type ReplicaOptions } from "../replica.js";
import {
  type ClientLinks,
  type HistoryEvent,
  KvClient,
  type KvOutcome,
  runClient,
  type Unanswered,
  type Workload,
} from "./client.js";
import { checkFaults, FaultDeck, type Fault, type FaultEvent, type FaultOptions, HurtWatch } from "./faults.js";
import { Random } from "./random.js";
import { type ClockScope, VirtualClock } from "./virtual-clock.js";

/** What a simulation runs as a replica: a Replica, or a stand-in with the same surface. */
export interface SimulatedReplica extends Endpoint {
  propose(request: ProposeRequest): Promise<ProposeReply>;
  /** Recovers from the disk and sets the first timers; the replica joins the network once it resolves. */
  start?(): Promise<unknown>;
  close?(): Promise<void>;
}

/** What the simulation gives each replica it makes: everything a Replica takes, nothing left to a default. */
export interface SimulatedReplicaOptions extends ReplicaOptions {
  peers: MemoryPeers;
  /** The replica's own scope of the virtual clock: its timers die with it. */
  clock: Clock;
  /** Its own seeded stream, a new one for each incarnation. */
  random: () => number;
  /** Its files, which outlive a crash (a power loss keeps what was synced): a restarted replica gets a new handle over them. */
  disk: MemoryDisk;
  onError: (error: unknown, request: PeerRequest) => void;
}

export interface SimulationOptions<R extends SimulatedReplica = Replica> {
  /** Everything random in the run comes from it. */
  seed: number;
  /** How many replicas (named r1, r2…), or their names (default 3). */
  replicas?: number | readonly string[];
  network?: {
    /** Each message between replicas, and between a client and a replica, takes [min, max) virtual ms (default [1, 5]). */
    latency?: readonly [number, number];
    /** The probability that a message between replicas is lost (default 0). */
    loss?: number;
  };
  /** Each replica's disk: syncs take [min, max) virtual ms (default `batch`, [0.1, 2]). */
  disk?: { fsync?: Fsync; syncLatency?: readonly [number, number]; snapshotEvery?: number };
  /** The nemesis: faults on a seeded schedule while a workload runs (default: none). */
  faults?: FaultOptions;
  /** Makes each incarnation of each replica (default: `new Replica(options)`). */
  replica?: (options: SimulatedReplicaOptions) => R;
}

export interface RunOptions extends Workload {
  /** Virtual ms after which the run stops where it is (its open operations count as `info`). Default: none. */
  limit?: number;
  /** Options of the linearizability check (a `timeout` in real ms, a signal). */
  check?: CheckOptions;
}

export interface SimulationResult<R extends SimulatedReplica = SimulatedReplica> {
  seed: number;
  /** JSON lines (SPEC §6); `time` in virtual ns since the start of the simulation. */
  history: string;
  /** The checker's verdict on the history. */
  check: CheckResult;
  /** Each fault's start and end, in order. */
  faults: FaultEvent[];
  /** Each replica by name, its current incarnation. */
  replicas: Map<string, R>;
  /** Virtual ms when the run ended. */
  time: number;
  /** False when `limit` stopped the run before every operation completed. */
  finished: boolean;
  /** What handlers threw that was not a StatusError (peers got INTERNAL): a bug, most likely. */
  errors: string[];
  /** What the disks went through. */
  disks: DiskStats;
  /** The run's messages (the last TRACE_LIMIT of them): assertLinearizable writes `trace.text()` beside the history. */
  trace: TraceRecorder;
}

export interface DiskStats {
  /** Power losses, from the nemesis, powerLoss() or a failed sync. */
  powerLosses: number;
  /** Those that found data written and not yet synced, which they cut at a seeded point. */
  unsynced: number;
  /** Replicas stopped by their disk failing (eio, full). */
  failures: number;
}

/** The operations of one client outside a workload; each call runs the simulation until it completes. */
export interface SimulationClient {
  /** The process its next operation is recorded as. */
  readonly process: number;
  write(key: string, value: number): Promise<KvOutcome>;
  read(key: string): Promise<KvOutcome>;
}

/** One run of a replica's process: between its start and its crash. */
interface Incarnation<R> {
  replica: R;
  scope: ClockScope;
  peers: MemoryPeers;
  /** Aborted when the process crashes: what waits on its answers stops waiting. */
  crashed: AbortController;
}

interface Node<R> {
  /** The disk handle of its running incarnation, or the one its next incarnation gets. */
  disk: MemoryDisk;
  /** The running incarnation, if it is up. */
  process: Incarnation<R> | undefined;
  incarnations: number;
  /** What took it down: a crash or power loss ends with its restart; a disk fault ends with repairDisk(). */
  down: "crash" | "power" | "disk" | undefined;
  /** The disk fault armed on it, until repairDisk(). */
  diskFault: "eio" | "full" | undefined;
  /** Set while a power loss waits for its moment: called when the replica sends with unsynced data. */
  exposed: (() => void) | undefined;
  /** How fast its clock runs (1 but during a clock fault), in every incarnation. */
  rate: number;
}

const DEFAULT_LATENCY = [1, 5] as const;
const DEFAULT_INTERVAL = [100, 400] as const;
const DEFAULT_DURATION = [50, 300] as const;
/**
 * Virtual ms a drawn power loss waits at most for its worst moment: its
 * replica sending (a reply, an answer) while its disk holds unsynced data,
 * when what was just promised may not be durable.
 */
const POWER_WAIT = 100;

/** A simulated cluster; `R` is what `replica` makes (a Replica unless a stand-in is given), as `replicas` holds it. */
export class Simulation<R extends SimulatedReplica = Replica> {
  readonly seed: number;
  readonly clock = new VirtualClock();
  readonly network: MemoryNetwork;
  /** The replicas' names, in order. */
  readonly names: readonly string[];
  /** Each fault's start and end so far. */
  readonly faults: FaultEvent[] = [];
  /** What handlers threw that was not a StatusError. */
  readonly errors: string[] = [];
  readonly disks: DiskStats = { powerLosses: 0, unsynced: 0, failures: 0 };
  /** Every message so far, between replicas and between clients and replicas. */
  readonly trace = new TraceRecorder(() => this.clock.now() * 1e6);
  private readonly nodes = new Map<string, Node<R>>();
  private readonly lines: string[] = [];
  private readonly latency: readonly [number, number];
  private readonly loss: number;
  private readonly make: (options: SimulatedReplicaOptions) => R;
  /** Latencies between clients and replicas. */
  private readonly clientLinks: Random;
  /** How clients reach the replicas. */
  private readonly links: ClientLinks;
  private processes = 0;
  private started = false;
  /** Active network faults, which heal() ends. */
  private readonly hurt: Fault[] = [];
  /** Set once no new fault is to start; `wake` cuts the nemesis's current wait short. */
  private quiet = false;
  private wake: (() => void) | undefined;
  /**
   * Whether the nemesis has done what the workload waits for, with `everyKind`:
   * each kind once, and an operation hurt (see assertHurt).
   */
  private dealt: boolean;
  /** Whether an operation failed or ended indeterminate while a fault was on, so far. */
  private readonly hurtWatch = new HurtWatch();
  /** Whether the workload has issued all it is to issue (run() sets it). */
  private enough = (): boolean => true;

  constructor(private readonly options: SimulationOptions<R>) {
    const { seed } = options;
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed ${seed} is not an integer`);
    this.seed = seed;
    this.dealt = options.faults?.everyKind !== true;
    const replicas = options.replicas ?? 3;
    this.names = typeof replicas === "number" ? Array.from({ length: replicas }, (_, i) => `r${i + 1}`) : [...replicas];
    if (this.names.length === 0) throw new RangeError("a simulation needs at least one replica");
    if (new Set(this.names).size !== this.names.length) throw new RangeError("two replicas have the same name");
    if (options.faults !== undefined) checkFaults(options.faults, this.names.length);
    const [min, max] = (this.latency = options.network?.latency ?? DEFAULT_LATENCY);
    if (!(min >= 0 && max >= min && Number.isFinite(max))) {
      throw new RangeError(`latency [${min}, ${max}] is not a range of ms [min, max]`);
    }
    this.loss = options.network?.loss ?? 0;
    this.network = new MemoryNetwork({
      clock: this.clock,
      random: new Random(seed, "network").next,
      cluster: this.names,
      onReply: (from) => this.sent(from),
      observer: {
        sent: (from, to, type, message, reply) => this.trace.sent(from, to, typeName(type), message, reply),
        arrived: (sent) => this.trace.arrived(sent),
      },
    });
    this.network.delay(min);
    this.network.jitter(max - min);
    this.network.loss(this.loss);
    this.clientLinks = new Random(seed, "client links");
    // Without `replica`, R is its default, Replica.
    this.make = options.replica ?? ((replicaOptions) => new Replica(replicaOptions) as unknown as R);
    for (const name of this.names) {
      const disk = new MemoryDisk(name, {
        ...options.disk,
        clock: this.clock,
        random: new Random(seed, `disk ${name}`).next,
      });
      this.nodes.set(name, {
        disk,
        process: undefined,
        incarnations: 0,
        down: undefined,
        diskFault: undefined,
        exposed: undefined,
        rate: 1,
      });
    }
    this.links = {
      names: this.names,
      propose: (name, request, timeout, process) => this.propose(name, request, timeout, process),
      record: (event) => this.record(event),
      process: () => this.processes++,
    };
  }

  /** The history so far: JSON lines (SPEC §6). */
  get history(): string {
    return this.lines.map((line) => line + "\n").join("");
  }

  /** The replicas that are up, by name: each one's current incarnation. */
  get replicas(): Map<string, R> {
    const replicas = new Map<string, R>();
    for (const [name, node] of this.nodes) if (node.process) replicas.set(name, node.process.replica);
    return replicas;
  }

  /** Names of the replicas that are up. */
  up(): string[] {
    return this.names.filter((name) => this.nodes.get(name)!.process !== undefined);
  }

  /** Starts every replica (each joins the network once its start() resolves). */
  async start(): Promise<void> {
    if (this.started) throw new Error("the simulation has already started");
    this.started = true;
    await this.clock.settle(Promise.all(this.names.map((name) => this.boot(name))));
  }

  /**
   * Crashes the process of replica `name`: it leaves the network, its timers
   * are cancelled, its peers closed and its disk handle disabled, and
   * whatever its code still answers (to a client or a peer) is lost. Its
   * disk keeps everything written, as the page cache outlives a process.
   */
  crash(name: string): void {
    this.stop(name, "crash", false);
  }

  /**
   * Cuts the power of replica `name`: a crash, after which its disk keeps
   * what was synced and, of each file's unsynced tail, a seeded prefix of
   * its appends, the last one possibly torn (see MemoryDisk.powerLoss).
   */
  powerLoss(name: string): void {
    this.stop(name, "power", true);
  }

  /** Restarts a crashed replica: a new incarnation over the same disk, on the network once its start() resolves. */
  async restart(name: string): Promise<void> {
    await this.clock.settle(this.reboot(name));
  }

  /**
   * Makes the disk of replica `name` fail, until repairDisk(): with `eio`
   * its next sync fails, with `full` its next append (written in part). The
   * replica then stops: a process crash, and for `eio` a power loss too, as
   * Linux may drop the dirty pages of a file whose writeback failed.
   */
  failDisk(name: string, kind: "eio" | "full"): void {
    const node = this.node(name);
    if (node.process === undefined) throw new Error(`${name} is not up`);
    if (kind === "eio") node.disk.failSyncs();
    else node.disk.fill();
    node.diskFault = kind;
    this.event("start", { fault: kind, value: name });
  }

  /** Ends failDisk(): restarts the replica if its disk stopped it. */
  async repairDisk(name: string): Promise<void> {
    await this.clock.settle(this.repair(name));
  }

  /** Cuts every link between a replica of `a` and one of `b`, until heal(). */
  partition(a: readonly string[], b: readonly string[]): void {
    this.hurt.push(this.event("start", { fault: "partition", value: [[...a], [...b]] }));
    this.network.partition(a, b);
  }

  /**
   * Loses every message from `from` to `to`, until heal(): requests that way,
   * and the replies to `to`'s requests. The other direction still works, so
   * `to` may hear of `from` through a third replica, or not at all.
   */
  dropLink(from: string, to: string): void {
    this.hurt.push(this.event("start", { fault: "drop", value: [from, to] }));
    this.network.drop(from, to);
  }

  /** Loses each message between replicas with probability `p`, until heal(). */
  lossBurst(p: number): void {
    this.network.loss(p);
    this.hurt.push(this.event("start", { fault: "loss", value: p }));
  }

  /** Adds `ms` to each message between replicas, until heal(). */
  delaySpike(ms: number): void {
    this.network.delay(this.latency[0] + ms);
    this.hurt.push(this.event("start", { fault: "delay", value: ms }));
  }

  /** Runs replica `name`'s clock `rate` times as fast as the others', a restarted incarnation's too, until heal(). */
  driftClock(name: string, rate: number): void {
    const node = this.node(name);
    node.process?.scope.drift(rate);
    node.rate = rate;
    this.hurt.push(this.event("start", { fault: "clock", value: [name, rate] }));
  }

  /** Ends every partition, dropped link, loss burst, delay spike and clock drift: the network and clocks are as configured again. */
  heal(): void {
    for (const node of this.nodes.values()) {
      if (node.rate === 1) continue;
      node.rate = 1;
      node.process?.scope.drift(1);
    }
    this.network.heal();
    this.network.loss(this.loss);
    this.network.delay(this.latency[0]);
    for (const fault of this.hurt.splice(0)) this.event("stop", fault);
  }

  /** Runs the simulation for `ms` virtual ms. */
  advance(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }

  /** Runs the simulation until `done()` holds; false if `limit` (virtual ms) came first. */
  until(done: () => boolean, limit?: number): Promise<boolean> {
    return this.clock.until(done, limit);
  }

  /** A kv client whose operations are recorded in the history; each call runs the simulation until it completes. */
  client(options: { timeout?: number; replica?: string } = {}): SimulationClient {
    const home = options.replica === undefined ? 0 : this.names.indexOf(options.replica);
    if (home < 0) throw new Error(`${options.replica} is not a replica of the simulation`);
    const client = new KvClient(this.links, home, options.timeout ?? 1000);
    return {
      get process() {
        return client.process;
      },
      write: (key, value) => this.clock.settle(client.write(key, value)),
      read: (key) => this.clock.settle(client.read(key)),
    };
  }

  /**
   * Starts the replicas (if not yet), runs the workload while the nemesis
   * injects faults, stops the faults once the last operation is issued (and,
   * with `everyKind`, each kind has been injected once and an operation was
   * hurt), and checks the history once every operation has completed.
   */
  async run(options: RunOptions = {}): Promise<SimulationResult<R>> {
    const workload: Required<Workload> = {
      clients: options.clients ?? 5,
      keys: options.keys ?? 3,
      reads: options.reads ?? 0.5,
      operations: options.operations ?? 100,
      timeout: options.timeout ?? 1000,
    };
    if (!this.started) await this.start();
    let issued = 0;
    this.enough = () => issued >= workload.operations && (this.dealt || workload.operations <= 0);
    const next = (): boolean => {
      if (this.enough()) return false;
      issued++;
      if (this.enough()) this.calm();
      return true;
    };
    if (this.enough()) this.calm();
    const clients = Array.from({ length: workload.clients }, (_, index) =>
      runClient(
        new KvClient(this.links, index, workload.timeout),
        index,
        workload,
        new Random(this.seed, `client ${index}`),
        next,
        (ms) => this.sleep(ms),
      ),
    );
    const nemesis = this.options.faults === undefined ? undefined : this.nemesis(this.options.faults);
    let finished: boolean;
    try {
      finished = await this.clock.until(done(Promise.all([...clients, nemesis])), options.limit);
    } catch (error) {
      throw new Error(`seed ${this.seed}: ${(error as Error).message}`, { cause: error });
    }
    const history = this.history;
    return {
      disks: { ...this.disks },
      seed: this.seed,
      history,
      check: await checkHistory(history, options.check),
      faults: [...this.faults],
      replicas: this.replicas,
      time: this.clock.now(),
      finished,
      errors: [...this.errors],
      trace: this.trace,
    };
  }

  /** Closes every replica that is up (their State, their peers). */
  async close(): Promise<void> {
    await this.clock.settle(Promise.all([...this.replicas.values()].map((replica) => replica.close?.())));
  }

  /**
   * Carries a client's request to replica `name` and its answer back, each
   * way with the network's latency; the answer is an error when the replica
   * is down, crashes before it answers, throws, or takes more than `timeout`.
   */
  private propose(
    name: string,
    request: ProposeRequest,
    timeout: number,
    client: number,
  ): Promise<ProposeReply | Unanswered> {
    const sent = this.trace.sent(client, name, "PROPOSE", request, false);
    return new Promise((resolve) => {
      let crashed: (() => void) | undefined;
      let signal: AbortSignal | undefined;
      const finish = (answer: ProposeReply | Unanswered): void => {
        timer.cancel();
        if (crashed) signal?.removeEventListener("abort", crashed);
        resolve(answer);
      };
      const timer = this.clock.setTimeout(
        () => finish({ unanswered: `no answer from ${name} in ${timeout} ms` }),
        timeout,
      );
      this.clock.setTimeout(() => {
        const process = this.nodes.get(name)!.process;
        if (process === undefined) return finish({ unanswered: `${name} is down` });
        this.trace.arrived(sent);
        signal = process.crashed.signal;
        crashed = () => finish({ unanswered: `${name} crashed before answering` });
        signal.addEventListener("abort", crashed);
        const copy = ProposeRequest.decode(ProposeRequest.encode(request).finish());
        const answer = (reply: ProposeReply | Unanswered): void => {
          if (signal!.aborted) return; // a crashed process sends nothing
          signal!.removeEventListener("abort", crashed!);
          const back = this.trace.sent(name, client, "PROPOSE", reply, true);
          this.clock.setTimeout(() => {
            this.trace.arrived(back);
            finish(reply);
          }, this.clientLatency());
          this.sent(name);
        };
        Promise.resolve()
          .then(() => process.replica.propose(copy))
          .then(
            (reply) => answer(ProposeReply.decode(ProposeReply.encode(reply).finish())),
            (error: unknown) =>
              answer({ unanswered: `${name} failed: ${error instanceof Error ? error.message : error}` }),
          );
      }, this.clientLatency());
    });
  }

  private clientLatency(): number {
    return this.clientLinks.between(this.latency[0], this.latency[1]);
  }

  /** Starts an incarnation of `name` over its disk; it joins the network once started. */
  private async boot(name: string): Promise<void> {
    const node = this.node(name);
    if (node.process !== undefined) throw new Error(`${name} is already up`);
    const scope = this.clock.scope();
    if (node.rate !== 1) scope.drift(node.rate);
    const peers = this.network.peers(name, scope);
    const random = new Random(this.seed, `replica ${name} #${node.incarnations++}`);
    const replica = this.make({
      name,
      peers,
      clock: scope,
      random: random.next,
      disk: node.disk,
      onError: (error, request) => {
        // A process that crashed (or stopped on its disk) reports nothing, whatever its code goes on to throw.
        if (node.process?.replica !== replica) return;
        this.errors.push(`${this.clock.now()} ms: ${name}: ${typeName(request.type)} from ${request.sender}: ${error}`);
      },
    });
    if (replica.name !== name) throw new Error(`the replica made for ${name} is named ${replica.name}`);
    await replica.start?.();
    node.process = { replica, scope, peers, crashed: new AbortController() };
    this.network.add(replica);
    const disk = node.disk;
    disk.onFailure(() => this.diskFailed(name, disk));
  }

  /** Restarts a crashed replica, and records the end of its crash or power loss once it is back. */
  private async reboot(name: string): Promise<void> {
    const node = this.node(name);
    const down = node.down;
    await this.boot(name);
    node.down = undefined;
    if (down === "crash" || down === "power") this.event("stop", { fault: down, value: name });
  }

  /**
   * Takes replica `name` down (see crash and powerLoss; a crash or power
   * loss is logged, a disk's failure was as it was armed); its disk handle
   * is replaced by the next incarnation's.
   */
  private stop(name: string, how: "crash" | "power" | "disk", power: boolean): void {
    const node = this.node(name);
    const process = node.process;
    if (process === undefined) throw new Error(`${name} is not up`);
    if (how !== "disk") this.event("start", { fault: how, value: name });
    node.process = undefined;
    node.down = how;
    this.network.remove(name);
    process.scope.cancel();
    void process.peers.close();
    if (power) {
      this.disks.powerLosses++;
      if (node.disk.unsynced > 0) this.disks.unsynced++;
    }
    node.disk = power ? node.disk.powerLoss() : node.disk.reopen();
    process.crashed.abort();
  }

  /** The disk handle of replica `name`'s running incarnation failed: it stops (see failDisk). */
  private diskFailed(name: string, disk: MemoryDisk): void {
    const node = this.node(name);
    if (node.process === undefined || node.disk !== disk) return;
    this.disks.failures++;
    this.stop(name, "disk", node.diskFault === "eio");
  }

  /** Ends a disk fault; restarts the replica it stopped. */
  private async repair(name: string): Promise<void> {
    const node = this.node(name);
    const kind = node.diskFault;
    if (kind === undefined) throw new Error(`${name}'s disk has no fault`);
    node.disk.repair();
    node.diskFault = undefined;
    if (node.down === "disk") await this.boot(name);
    node.down = undefined;
    this.event("stop", { fault: kind, value: name });
  }

  /** Replica `name` sent a message (a reply, an answer): a power loss waiting for it strikes if its disk has unsynced data. */
  private sent(name: string): void {
    const node = this.nodes.get(name);
    if (node?.exposed !== undefined && node.disk.unsynced > 0) node.exposed();
  }

  /** Waits until replica `name` sends with unsynced data on its disk, or POWER_WAIT ms, or calm(). */
  private async worstMoment(name: string): Promise<void> {
    const node = this.node(name);
    const waited = this.pause(POWER_WAIT);
    node.exposed = this.wake;
    await waited;
    node.exposed = undefined;
  }

  /** Faults one at a time, each after a pause and for a while drawn from the seed, until calm(). */
  private async nemesis(options: FaultOptions): Promise<void> {
    const random = new Random(this.seed, "faults");
    const deck = new FaultDeck(random, options.kinds, this.names);
    const interval = options.interval ?? DEFAULT_INTERVAL;
    const duration = options.duration ?? DEFAULT_DURATION;
    const draw = ([min, max]: readonly [number, number]) => random.int(Math.round(min), Math.round(max));
    for (;;) {
      await this.pause(draw(interval));
      if (this.quiet) return;
      const fault = deck.next();
      const length = draw(duration);
      if (fault.fault === "power") {
        await this.worstMoment(fault.value);
        if (this.quiet) return;
      }
      if (fault.fault === "crash") this.crash(fault.value);
      else if (fault.fault === "power") this.powerLoss(fault.value);
      else if (fault.fault === "eio" || fault.fault === "full") this.failDisk(fault.value, fault.fault);
      else if (fault.fault === "partition") this.partition(fault.value[0]!, fault.value[1]!);
      else if (fault.fault === "drop") this.dropLink(...fault.value);
      else if (fault.fault === "loss") this.lossBurst(fault.value);
      else if (fault.fault === "clock") this.driftClock(...fault.value);
      else this.delaySpike(fault.value);
      await this.pause(length);
      if (fault.fault === "crash" || fault.fault === "power") await this.reboot(fault.value);
      else if (fault.fault === "eio" || fault.fault === "full") await this.repair(fault.value);
      else this.heal();
      if (!this.dealt && deck.everyKind && this.hurtWatch.hurt) {
        this.dealt = true;
        if (this.enough()) return this.calm();
      }
    }
  }

  /** Starts no more faults, and cuts short the one under way. */
  private calm(): void {
    this.quiet = true;
    this.wake?.();
  }

  /** Waits `ms` virtual ms, or less if calm() comes first. */
  private pause(ms: number): Promise<void> {
    if (this.quiet) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(resolve, ms);
      this.wake = () => {
        timer.cancel();
        resolve();
      };
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }

  /** Records a fault's start or end in the fault log and the history; returns the fault. */
  private event(f: "start" | "stop", fault: Fault): Fault {
    this.faults.push({ ...fault, time: this.clock.now(), f } as FaultEvent);
    this.record({ process: "nemesis", type: "info", f, fault: fault.fault, value: fault.value });
    return fault;
  }

  private record(event: HistoryEvent): void {
    const now = this.clock.now();
    this.hurtWatch.observe(event, now);
    this.lines.push(JSON.stringify({ ...event, time: Math.round(now * 1e6) }));
  }

  private node(name: string): Node<R> {
    const node = this.nodes.get(name);
    if (node === undefined) throw new Error(`${name} is not a replica of the simulation`);
    return node;
  }
}

/** A predicate that holds once `promise` has settled; its rejection is rethrown by the next check. */
function done(promise: Promise<unknown>): () => boolean {
  let settled = false;
  let failure: { error: unknown } | undefined;
  promise.then(
    () => void (settled = true),
    (error: unknown) => {
      settled = true;
      failure = { error };
    },
  );
  return () => {
    if (failure) throw failure.error;
    return settled;
  };
}
