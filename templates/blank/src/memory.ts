// An in-memory network of replicas in one process, for testing the protocol
// without sockets (as etcd raft and hashicorp raft test theirs). Messages are
// encoded and decoded on the way, as on the wire, so replicas share no
// objects. Each directed link behaves like one Dispatch stream: requests
// arrive and are handled one at a time in the order they were sent, replies
// come back in that order. Time is the network's Clock: the system's, or a
// simulation's virtual one (src/simulation/). Faults set per link (drop,
// delay, partition) are deterministic; jitter and loss draw from the
// network's `random`, which a simulation seeds.
import { type Clock, systemClock } from "./clock.js";
import { PeerReply, PeerRequest } from "./pb/envelope.js";
import { PeerError, PeerSet } from "./peers.js";
import { Code, StatusError } from "./status.js";

/** What the network delivers to: a Replica, or any stand-in with its dispatch. */
export interface Endpoint {
  readonly name: string;
  dispatch(request: PeerRequest): Promise<PeerReply>;
}

/** Messages of one direction of a link, delivered one at a time in the order they were sent. */
class Lane {
  private tail: Promise<unknown> = Promise.resolve();
  private last = 0;

  constructor(private readonly clock: Clock) {}

  /** Runs `task` once the previous task has run, and no sooner than `delay` ms from now. */
  run<T>(delay: number, task: () => T | Promise<T>): Promise<T> {
    const at = (this.last = Math.max(this.clock.now() + delay, this.last));
    const result = this.tail.then(() => this.until(at)).then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private until(time: number): Promise<void> | undefined {
    const wait = time - this.clock.now();
    return wait > 0 ? new Promise((resolve) => this.clock.setTimeout(resolve, wait)) : undefined;
  }
}

export interface MemoryNetworkOptions {
  /** Time and timers of delays, deadlines and quorum timeouts (default: the system's). */
  clock?: Clock;
  /** A number in [0, 1), drawn for jitter and loss (default: Math.random). */
  random?: () => number;
  /**
   * The replicas that make up the cluster, up or not: each one's peers are
   * the others, as in a replica's --peers (default: those on the network at
   * the time). A protocol counts its majorities on this, so a replica that is
   * down must not shrink it.
   */
  cluster?: readonly string[];
  /** Called as replica `from` sends a reply, before it travels (a simulation times its power losses by it). */
  onReply?: (from: string) => void;
  /** Told of each message as it leaves and as it arrives (a simulation's trace of its messages). */
  observer?: MessageObserver;
}

/** What a network tells of each message it carries. */
export interface MessageObserver {
  /**
   * A request, or the reply to one (`reply`), of envelope type `type` leaves
   * `from` for `to`; what it returns is passed to arrived() when the message
   * arrives, which a lost message never does.
   */
  sent(from: string, to: string, type: number, message: PeerRequest | PeerReply, reply: boolean): number;
  arrived(sent: number): void;
}

/** The outcome of a request, encoded as it would travel back. */
type Outcome = { reply: Uint8Array } | { error: PeerError };

export class MemoryNetwork {
  /** Messages handed to a replica, and messages (requests or replies) lost to a drop, partition, loss or crash. */
  readonly stats = { delivered: 0, dropped: 0 };
  readonly clock: Clock;
  private readonly random: () => number;
  private readonly cluster: readonly string[] | undefined;
  private readonly onReply: ((from: string) => void) | undefined;
  private readonly observer: MessageObserver | undefined;
  private readonly members = new Map<string, Endpoint>();
  /** Per endpoint on the network, what its removal calls: the requests it is handling give up on it. */
  private readonly leaving = new Map<Endpoint, Set<() => void>>();
  private readonly lanes = new Map<string, { requests: Lane; replies: Lane }>();
  private readonly cut = new Set<string>();
  private readonly latency = new Map<string, number>();
  private defaultLatency = 0;
  private jitterMs = 0;
  private lossRate = 0;
  private inFlight = 0;
  private idle: (() => void)[] = [];

  constructor(options: MemoryNetworkOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.cluster = options.cluster;
    this.onReply = options.onReply;
    this.observer = options.observer;
  }

  /** Puts a replica on the network: the others can now reach it, and it them (through `peers(name)`). */
  add(...endpoints: Endpoint[]): this {
    for (const endpoint of endpoints) {
      if (this.members.has(endpoint.name)) throw new Error(`${endpoint.name} is already on the network`);
      this.members.set(endpoint.name, endpoint);
      this.leaving.set(endpoint, new Set());
    }
    return this;
  }

  /**
   * Takes a replica off the network, as if its process had stopped: what it
   * answers to requests it was handling is lost, even if another replica of
   * the same name has been added since.
   */
  remove(name: string): void {
    const endpoint = this.members.get(name);
    this.members.delete(name);
    if (endpoint === undefined) return;
    // Its handlers may never finish (a crashed process's disk syncs nothing more): its links must not wait on them.
    for (const left of this.leaving.get(endpoint) ?? []) left();
    this.leaving.delete(endpoint);
  }

  /**
   * The Peers of replica `name`: every other replica on the network, now or
   * later. Their send deadlines and quorum timeouts run on `clock` (default:
   * the network's), e.g. a simulated replica's own, which dies with it.
   */
  peers(name: string, clock: Clock = this.clock): MemoryPeers {
    return new MemoryPeers(this, name, clock);
  }

  /** Names of the replicas of the cluster, when it was given; else of those on the network. */
  names(): string[] {
    return [...(this.cluster ?? this.members.keys())];
  }

  /** Loses every message from `from` to `to` (one direction), until heal(). */
  drop(from: string, to: string): void {
    this.cut.add(link(from, to));
  }

  /** Loses every message between a replica of `a` and one of `b`, both ways, until heal(). */
  partition(a: readonly string[], b: readonly string[]): void {
    for (const x of a) {
      for (const y of b) {
        this.drop(x, y);
        this.drop(y, x);
      }
    }
  }

  /** Restores every link cut by drop() or partition() (delays stay). */
  heal(): void {
    this.cut.clear();
  }

  /** Delays every message by `ms` one way (links without a delay of their own). */
  delay(ms: number): void;
  /** Delays messages from `from` to `to` by `ms` (one way; replies from `to` follow the link `to` → `from`). */
  delay(from: string, to: string, ms: number): void;
  delay(...args: [number] | [string, string, number]): void {
    if (args.length === 1) this.defaultLatency = nonNegative(args[0]);
    else this.latency.set(link(args[0], args[1]), nonNegative(args[2]));
  }

  /**
   * Delays each message by a further random amount in [0, `ms`), drawn from
   * the network's `random`: messages on different links overtake each other,
   * while each link keeps its order.
   */
  jitter(ms: number): void {
    this.jitterMs = nonNegative(ms);
  }

  /** Loses each message (request or reply) with probability `p`, as drop() does, until set back to 0. */
  loss(p: number): void {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`loss ${p} is not a probability between 0 and 1`);
    this.lossRate = p;
  }

  /** Resolves once no message is in flight (at once if none is). */
  settled(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  /**
   * Carries `request` from `from` to `to` and its reply back. Rejects with a
   * PeerError: UNAVAILABLE when the request or its reply is dropped or lost
   * (a lost request at once, as a refused connection would, rather than
   * hanging), or the status the replica ended the exchange with.
   */
  async deliver(from: string, to: string, request: PeerRequest): Promise<PeerReply> {
    const sent = this.observer?.sent(from, to, request.type, request, false);
    this.endpoint(to);
    this.pass(from, to);
    this.survive(from, to);
    const copy = PeerRequest.decode(PeerRequest.encode(request).finish());
    const key = link(from, to);
    let lanes = this.lanes.get(key);
    if (lanes === undefined) {
      this.lanes.set(key, (lanes = { requests: new Lane(this.clock), replies: new Lane(this.clock) }));
    }
    const { requests, replies } = lanes;
    this.inFlight++;
    try {
      // The reply is sent back from inside the request's turn, so replies leave in request order.
      const { back } = await requests.run(this.latencyOf(from, to), async () => {
        const { outcome, reply } = await this.handle(from, to, copy, sent);
        const back = this.observer?.sent(to, from, request.type, reply, true);
        const lost = this.lost();
        return {
          back: replies.run(this.latencyOf(to, from), () => {
            if (lost) this.lose(to, `unreachable: the network lost a message ${to} → ${from}`);
            this.pass(to, from, to);
            if (back !== undefined) this.observer!.arrived(back);
            return outcome;
          }),
        };
      });
      const outcome = await back;
      if ("error" in outcome) throw outcome.error;
      return PeerReply.decode(outcome.reply);
    } finally {
      if (--this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  /**
   * Hands the request to `to`, as it arrives; what it answers is lost if it
   * leaves the network meanwhile. `reply` is the answer as the observer sees
   * it: an error's is unsuccessful and carries no message.
   */
  private async handle(
    from: string,
    to: string,
    request: PeerRequest,
    sent: number | undefined,
  ): Promise<{ outcome: Outcome; reply: PeerReply }> {
    const endpoint = this.endpoint(to);
    this.pass(from, to);
    if (sent !== undefined) this.observer!.arrived(sent);
    this.stats.delivered++;
    let outcome: Outcome;
    let reply: PeerReply;
    const leaving = this.leaving.get(endpoint);
    let left: (() => void) | undefined;
    try {
      reply = await new Promise<PeerReply>((resolve, reject) => {
        left = () => reject(new StatusError(Code.UNAVAILABLE, "left the network before replying"));
        leaving?.add(left);
        endpoint.dispatch(request).then(resolve, reject);
      });
      outcome = { reply: PeerReply.encode(reply).finish() };
    } catch (error) {
      const status = error instanceof StatusError ? error : new StatusError(Code.INTERNAL, String(error));
      outcome = { error: new PeerError(to, status.code, status.message) };
      reply = { type: request.type, sender: to, success: false, message: undefined };
    } finally {
      leaving?.delete(left!);
    }
    // A crashed process sends nothing, whatever its code went on to compute.
    if (this.members.get(to) !== endpoint) this.lose(to, "left the network before replying");
    this.onReply?.(to);
    return { outcome, reply };
  }

  private endpoint(name: string): Endpoint {
    const endpoint = this.members.get(name);
    if (endpoint === undefined) throw new PeerError(name, Code.UNAVAILABLE, "is not on the network");
    return endpoint;
  }

  /** Throws the PeerError of a message that the link from `from` to `to` drops (`peer`: the one the sender waits on). */
  private pass(from: string, to: string, peer = to): void {
    if (this.cut.has(link(from, to))) this.lose(peer, `unreachable: the network dropped a message ${from} → ${to}`);
  }

  /** Throws the PeerError of a message from `from` to `to` that loss() loses. */
  private survive(from: string, to: string): void {
    if (this.lost()) this.lose(to, `unreachable: the network lost a message ${from} → ${to}`);
  }

  /** Whether loss() loses the next message (no draw when there is no loss, so runs without it need no `random`). */
  private lost(): boolean {
    return this.lossRate > 0 && this.random() < this.lossRate;
  }

  /** Counts a lost message, and throws the error its sender gets from `peer`. */
  private lose(peer: string, message: string): never {
    this.stats.dropped++;
    throw new PeerError(peer, Code.UNAVAILABLE, message);
  }

  private latencyOf(from: string, to: string): number {
    const latency = this.latency.get(link(from, to)) ?? this.defaultLatency;
    return this.jitterMs > 0 ? latency + this.random() * this.jitterMs : latency;
  }
}

/** The Peers of one replica on a MemoryNetwork. */
export class MemoryPeers extends PeerSet {
  private closed = false;
  /** How to reject each request awaiting its reply, by the peer it went to. */
  private readonly pending = new Map<(error: PeerError) => void, string>();

  constructor(
    private readonly network: MemoryNetwork,
    self: string,
    clock: Clock,
  ) {
    super(self, clock);
  }

  get names(): readonly string[] {
    return this.network.names().filter((name) => name !== this.self);
  }

  protected deliver(peer: string, request: PeerRequest): Promise<PeerReply> {
    if (this.closed) return Promise.reject(new PeerError(peer, Code.CANCELLED, "peers are closed"));
    return new Promise((resolve, reject) => {
      this.pending.set(reject, peer);
      this.network
        .deliver(this.self, peer, request)
        .then(resolve, reject)
        .finally(() => this.pending.delete(reject));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [reject, peer] of this.pending) reject(new PeerError(peer, Code.CANCELLED, "peers are closed"));
    this.pending.clear();
  }
}

const link = (from: string, to: string): string => `${from}\u0000${to}`;

function nonNegative(ms: number): number {
  if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`delay ${ms} ms is not a finite number >= 0`);
  return ms;
}
