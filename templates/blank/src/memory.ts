// An in-memory network of replicas in one process, for testing the protocol
// without sockets (as etcd raft and hashicorp raft test theirs). Messages are
// encoded and decoded on the way, as on the wire, so replicas share no
// objects. Each directed link behaves like one Dispatch stream: requests
// arrive and are handled one at a time in the order they were sent, replies
// come back in that order. Faults are set per link and are deterministic:
// no randomness, and with no delay everything runs on the microtask queue.
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

  /** Runs `task` once the previous task has run, and no sooner than `delay` ms from now. */
  run<T>(delay: number, task: () => T | Promise<T>): Promise<T> {
    const at = (this.last = Math.max(performance.now() + delay, this.last));
    const result = this.tail.then(() => until(at)).then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** The outcome of a request, encoded as it would travel back. */
type Outcome = { reply: Uint8Array } | { error: PeerError };

export class MemoryNetwork {
  /** Messages handed to a replica, and messages (requests or replies) lost to a drop or partition. */
  readonly stats = { delivered: 0, dropped: 0 };
  private readonly members = new Map<string, Endpoint>();
  private readonly lanes = new Map<string, { requests: Lane; replies: Lane }>();
  private readonly cut = new Set<string>();
  private readonly latency = new Map<string, number>();
  private defaultLatency = 0;
  private inFlight = 0;
  private idle: (() => void)[] = [];

  /** Puts a replica on the network: the others can now reach it, and it them (through `peers(name)`). */
  add(...endpoints: Endpoint[]): this {
    for (const endpoint of endpoints) {
      if (this.members.has(endpoint.name)) throw new Error(`${endpoint.name} is already on the network`);
      this.members.set(endpoint.name, endpoint);
    }
    return this;
  }

  /** Takes a replica off the network, as if its process had stopped. */
  remove(name: string): void {
    this.members.delete(name);
  }

  /** The Peers of replica `name`: every other replica on the network, now or later. */
  peers(name: string): MemoryPeers {
    return new MemoryPeers(this, name);
  }

  /** Names of the replicas on the network. */
  names(): string[] {
    return [...this.members.keys()];
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

  /** Resolves once no message is in flight (at once if none is). */
  settled(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  /**
   * Carries `request` from `from` to `to` and its reply back. Rejects with a
   * PeerError: UNAVAILABLE when the request or its reply is dropped (at once,
   * as a refused connection would, rather than hanging), or the status the
   * replica ended the exchange with.
   */
  async deliver(from: string, to: string, request: PeerRequest): Promise<PeerReply> {
    this.endpoint(to);
    this.pass(from, to);
    const copy = PeerRequest.decode(PeerRequest.encode(request).finish());
    const key = link(from, to);
    let lanes = this.lanes.get(key);
    if (lanes === undefined) this.lanes.set(key, (lanes = { requests: new Lane(), replies: new Lane() }));
    const { requests, replies } = lanes;
    this.inFlight++;
    try {
      // The reply is sent back from inside the request's turn, so replies leave in request order.
      const { back } = await requests.run(this.latencyOf(from, to), async () => {
        const outcome = await this.handle(from, to, copy);
        return { back: replies.run(this.latencyOf(to, from), () => (this.pass(to, from), outcome)) };
      });
      const outcome = await back;
      if ("error" in outcome) throw outcome.error;
      return PeerReply.decode(outcome.reply);
    } finally {
      if (--this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  /** Hands the request to `to`, as it arrives. */
  private async handle(from: string, to: string, request: PeerRequest): Promise<Outcome> {
    const endpoint = this.endpoint(to);
    this.pass(from, to);
    this.stats.delivered++;
    try {
      return { reply: PeerReply.encode(await endpoint.dispatch(request)).finish() };
    } catch (error) {
      const status = error instanceof StatusError ? error : new StatusError(Code.INTERNAL, String(error));
      return { error: new PeerError(to, status.code, status.message) };
    }
  }

  private endpoint(name: string): Endpoint {
    const endpoint = this.members.get(name);
    if (endpoint === undefined) throw new PeerError(name, Code.UNAVAILABLE, "is not on the network");
    return endpoint;
  }

  /** Throws the PeerError of a message that the link from `from` to `to` drops. */
  private pass(from: string, to: string): void {
    if (this.cut.has(link(from, to))) {
      this.stats.dropped++;
      throw new PeerError(to, Code.UNAVAILABLE, `unreachable: the network dropped a message ${from} → ${to}`);
    }
  }

  private latencyOf(from: string, to: string): number {
    return this.latency.get(link(from, to)) ?? this.defaultLatency;
  }
}

/** The Peers of one replica on a MemoryNetwork. */
export class MemoryPeers extends PeerSet {
  private closed = false;

  constructor(
    private readonly network: MemoryNetwork,
    self: string,
  ) {
    super(self);
  }

  get names(): readonly string[] {
    return this.network.names().filter((name) => name !== this.self);
  }

  protected deliver(peer: string, request: PeerRequest): Promise<PeerReply> {
    if (this.closed) return Promise.reject(new PeerError(peer, Code.CANCELLED, "peers are closed"));
    return this.network.deliver(this.self, peer, request);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const link = (from: string, to: string): string => `${from}\u0000${to}`;

function nonNegative(ms: number): number {
  if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`delay ${ms} ms is not a finite number >= 0`);
  return ms;
}

function until(time: number): Promise<void> | undefined {
  const wait = time - performance.now();
  return wait > 0 ? new Promise((resolve) => setTimeout(resolve, Math.ceil(wait))) : undefined;
}
