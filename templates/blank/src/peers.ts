// The other replicas of the cluster, as handlers see them: send a message to
// one, broadcast it to all, or wait for a quorum. Two transports implement
// it: GrpcPeers (one Dispatch stream per peer) and MemoryNetwork (src/memory.ts,
// for tests of the protocol without a network).
import * as grpc from "@grpc/grpc-js";
import { type Clock, systemClock, type Timer } from "./clock.js";
import { envelope, hasReply, type ReplyMessage, type ReplyTo, type RequestMessage, typeName } from "./envelope.js";
import type { PeerReply, PeerRequest } from "./pb/envelope.js";
import { ConsensusClient } from "./pb/service.js";
import { Code } from "./status.js";
import { explainFailure, notUpYet, type Tls } from "./tls.js";

export type { ReplyTo, RequestMessage };

export interface SendOptions {
  /** Milliseconds to wait for the reply before rejecting with DEADLINE_EXCEEDED (default: no limit). */
  timeout?: number;
}

export interface QuorumOptions extends SendOptions {
  /**
   * Replicas needed, this one included (default: a majority of the cluster,
   * floor(n / 2) + 1 of the n = peers + 1 replicas). Raise it for fast quorums.
   */
  size?: number;
}

export interface Peers {
  /** Names of the other replicas (this one is not among them). */
  readonly names: readonly string[];
  /** Sends `message` to `peer` and resolves with its typed reply (void for a request-only type). */
  send<M extends RequestMessage>(peer: string, message: M, options?: SendOptions): Promise<ReplyTo<M>>;
  /** Sends `message` to every peer and resolves, once all have settled, with each outcome by peer. */
  broadcast<M extends RequestMessage>(
    message: M,
    options?: SendOptions,
  ): Promise<Map<string, PromiseSettledResult<ReplyTo<M>>>>;
  /**
   * Sends `message` to every peer and resolves with the replies received as
   * soon as, counting this replica as one vote without sending it anything,
   * `size` replicas (default: a majority) have answered successfully. Rejects
   * with a QuorumError on timeout or as soon as so many peers have failed that
   * the quorum cannot be reached. Replies arriving later are ignored.
   */
  quorum<M extends RequestMessage>(message: M, options?: QuorumOptions): Promise<Map<string, ReplyTo<M>>>;
  /** Rejects what is pending and closes the connections. */
  close(): Promise<void>;
}

/** Why a request to a peer failed: the gRPC status its stream ended with, or the transport's. */
export class PeerError extends Error {
  override readonly name = "PeerError";

  constructor(
    readonly peer: string,
    readonly code: Code,
    /** What went wrong, without the peer's name. */
    readonly details: string,
  ) {
    super(`${peer}: ${details}`);
  }
}

/** A quorum that was not reached: the replies that came, and why the others did not. */
export class QuorumError extends Error {
  override readonly name = "QuorumError";

  constructor(
    message: string,
    readonly replies: ReadonlyMap<string, unknown>,
    readonly failures: ReadonlyMap<string, unknown>,
  ) {
    super(message);
  }
}

/** broadcast and quorum over a transport's `deliver`; replies are checked and unwrapped here. */
export abstract class PeerSet implements Peers {
  abstract readonly names: readonly string[];

  constructor(
    /** This replica's name, the sender of every request. */
    readonly self: string,
    /** What send deadlines and quorum timeouts are measured on: a simulation's virtual clock runs them too. */
    protected readonly clock: Clock = systemClock,
  ) {}

  /** Delivers one request to `peer`, resolving with its PeerReply or rejecting with a PeerError. */
  protected abstract deliver(peer: string, request: PeerRequest): Promise<PeerReply>;

  abstract close(): Promise<void>;

  async send<M extends RequestMessage>(peer: string, message: M, options: SendOptions = {}): Promise<ReplyTo<M>> {
    if (!this.names.includes(peer)) throw new PeerError(peer, Code.NOT_FOUND, `not a peer of ${this.self}`);
    const request = envelope(this.self, message);
    const pending = this.deliver(peer, request);
    const reply = await (options.timeout === undefined
      ? pending
      : deadline(this.clock, pending, options.timeout, peer, request));
    return unwrap(peer, request, reply) as ReplyTo<M>;
  }

  async broadcast<M extends RequestMessage>(
    message: M,
    options?: SendOptions,
  ): Promise<Map<string, PromiseSettledResult<ReplyTo<M>>>> {
    const names = [...this.names];
    const outcomes = await Promise.allSettled(names.map((peer) => this.send(peer, message, options)));
    return new Map(names.map((peer, i) => [peer, outcomes[i]!]));
  }

  async quorum<M extends RequestMessage>(message: M, options: QuorumOptions = {}): Promise<Map<string, ReplyTo<M>>> {
    const names = [...this.names];
    const cluster = names.length + 1;
    const size = options.size ?? Math.floor(cluster / 2) + 1;
    if (!Number.isInteger(size) || size < 1 || size > cluster) {
      throw new RangeError(`quorum size ${size} is not between 1 and ${cluster} (the cluster)`);
    }
    const needed = size - 1; // this replica votes for itself
    const replies = new Map<string, ReplyTo<M>>();
    if (needed === 0) return replies;
    const failures = new Map<string, unknown>();
    const what = `${typeName(envelope(this.self, message).type)} quorum of ${size}/${cluster}`;
    return new Promise((resolve, reject) => {
      let done = false;
      const timer =
        options.timeout === undefined
          ? undefined
          : this.clock.setTimeout(() => fail(`timed out after ${options.timeout} ms`), options.timeout);
      const fail = (why: string): void => {
        if (done) return;
        done = true;
        timer?.cancel();
        const reasons = [...failures].map(([peer, error]) =>
          error instanceof Error ? error.message : `${peer}: ${error}`,
        );
        const detail = reasons.length > 0 ? ` (${reasons.join("; ")})` : "";
        reject(new QuorumError(`no ${what}: ${why}, ${replies.size + 1} of ${size} votes${detail}`, replies, failures));
      };
      for (const peer of names) {
        this.send(peer, message).then(
          (reply) => {
            if (done) return;
            replies.set(peer, reply);
            if (replies.size < needed) return;
            done = true;
            timer?.cancel();
            resolve(replies);
          },
          (error: unknown) => {
            failures.set(peer, error);
            if (names.length - failures.size < needed) fail(`${failures.size} of ${names.length} peers failed`);
          },
        );
      }
    });
  }
}

function deadline(
  clock: Clock,
  pending: Promise<PeerReply>,
  ms: number,
  peer: string,
  request: PeerRequest,
): Promise<PeerReply> {
  let timer: Timer | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(
      () => reject(new PeerError(peer, Code.DEADLINE_EXCEEDED, `no reply to ${typeName(request.type)} in ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([pending, expired]).finally(() => timer?.cancel());
}

/** The value of a successful reply to `request`, or undefined for a request-only type. */
function unwrap(peer: string, request: PeerRequest, reply: PeerReply): ReplyMessage["value"] | undefined {
  const type = typeName(request.type);
  const $case = request.message!.$case;
  if (reply.type !== request.type) {
    throw new PeerError(peer, Code.INTERNAL, `answered ${type} with a reply of type ${typeName(reply.type)}`);
  }
  if (!reply.success) throw new PeerError(peer, Code.UNKNOWN, `answered ${type} with success=false`);
  if (reply.message === undefined) {
    if (hasReply($case)) throw new PeerError(peer, Code.INTERNAL, `answered ${type} without its reply message`);
    return undefined;
  }
  if (reply.message.$case !== $case) {
    throw new PeerError(peer, Code.INTERNAL, `answered ${type} with a ${reply.message.$case} message`);
  }
  return reply.message.value;
}

/** Milliseconds to wait before reopening a failed stream the first time, by default. */
export const BACKOFF_MS = 100;
/** The cap of that wait as it doubles, by default. */
export const MAX_BACKOFF_MS = 5000;

/** Milliseconds between keepalive pings on a peer's connection, idle or not. */
export const KEEPALIVE_TIME_MS = 2000;
/** Milliseconds a keepalive ping has to be answered before the connection is dropped. */
export const KEEPALIVE_TIMEOUT_MS = 2000;
/**
 * The least time between two resolutions of a peer's host name. grpc-js resolves it again when a
 * connection fails, but by default not within 30 s of the last time: a peer whose name moved to
 * another address (a rescheduled pod) would be dialled at its old one that long. Once a second
 * keeps up with the reconnect backoff (100 ms to 5 s), for one lookup a second at most while a peer
 * is down.
 */
export const RESOLVE_INTERVAL_MS = 1000;

/**
 * A change of a peer link: the peer took this replica's Dispatch stream (connected), the link
 * failed after that (lost), or it failed before it ever connected (waiting: a peer that has never
 * been reached is not lost, and at a cluster's start most peers are not listening yet).
 */
export type LinkEvent =
  { state: "connected"; address: string } | { state: "waiting" | "lost"; address: string; reason: string };

/**
 * The line a replica prints for a link event: `r1: connected to r2 (addr)`, `r1: lost r2 (addr): reason`,
 * or `r1: waiting for r2 (addr)`, with the reason only when it is more than the peer not being up yet.
 */
export function linkLine(self: string, peer: string, event: LinkEvent): string {
  const where = `${peer} (${event.address})`;
  if (event.state === "connected") return `${self}: connected to ${where}`;
  if (event.state === "lost") return `${self}: lost ${where}: ${event.reason}`;
  return `${self}: waiting for ${where}${notUpYet(event.reason) ? "" : `: ${event.reason}`}`;
}

export interface GrpcPeersOptions {
  /** Milliseconds to wait before reopening a failed stream; doubled after each failure (default 100). */
  backoff?: number;
  /** The cap of that wait (default 5000). */
  maxBackoff?: number;
  /** A number in [0, 1) that spreads each wait over ±20% of it, so peers do not retry in step (default Math.random). */
  random?: () => number;
  /** TLS: the credentials to dial with, and the files that failures are explained by (default plaintext). */
  tls?: Tls;
  /** Called once per change of a link: connected, or waiting or lost with the reason. */
  onLink?: (peer: string, event: LinkEvent) => void;
  /** Options of each peer's channel (reconnect backoff of the channel defaults to the two above). */
  channelOptions?: grpc.ChannelOptions;
  /** Told of each request sent and each reply received (--trace). */
  trace?: DispatchTrace;
}

/** Told of each Dispatch message a replica sends or receives to or from `peer`, as it does: a request, or a reply. */
export type DispatchTrace = (
  event: "send" | "receive",
  peer: string,
  message: PeerRequest | PeerReply,
  reply: boolean,
) => void;

/**
 * Peers over gRPC: one Dispatch stream per peer, opened at once and kept
 * open, so a link's state is known before anything is sent. Replies come in
 * request order, so each one answers the oldest pending request. When a
 * stream fails, its pending requests are rejected and it is reopened after a
 * backoff (doubling up to a cap, with jitter, reset once the peer takes a
 * stream or replies); requests sent meanwhile wait for it, in order.
 * Keepalive pings (every 2 s, 2 s to answer) notice a peer that is gone
 * without closing its connection. A peer's host name is resolved when its
 * link is first dialled and again when its connection fails, at most once a
 * second, so a peer that comes back at another address is found there.
 */
export class GrpcPeers extends PeerSet {
  private readonly links = new Map<string, Link>();
  private readonly options: LinkOptions;
  private readonly trace: DispatchTrace | undefined;
  private cachedNames: string[] | undefined;

  /** `addresses`: host:port of each peer by name. */
  constructor(
    self: string,
    addresses: ReadonlyMap<string, string> | Record<string, string>,
    options: GrpcPeersOptions = {},
  ) {
    super(self);
    this.trace = options.trace;
    const backoff = options.backoff ?? BACKOFF_MS;
    const maxBackoff = Math.max(backoff, options.maxBackoff ?? MAX_BACKOFF_MS);
    this.options = {
      backoff,
      maxBackoff,
      random: options.random ?? Math.random,
      tls: options.tls,
      onLink: options.onLink,
      channelOptions: {
        "grpc.initial_reconnect_backoff_ms": backoff,
        "grpc.max_reconnect_backoff_ms": maxBackoff,
        // A peer's reply may carry a protocol's state (a Paxos promise with every entry it accepted):
        // gRPC's default 4 MB cap on what a client receives would make such a reply fail for good.
        "grpc.max_receive_message_length": -1,
        "grpc.keepalive_time_ms": KEEPALIVE_TIME_MS,
        "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
        "grpc.keepalive_permit_without_calls": 1,
        "grpc.dns_min_time_between_resolutions_ms": RESOLVE_INTERVAL_MS,
        ...options.channelOptions,
      },
    };
    for (const [name, address] of addresses instanceof Map ? addresses : Object.entries(addresses)) {
      this.add(name, address);
    }
  }

  get names(): readonly string[] {
    return (this.cachedNames ??= [...this.links.keys()]);
  }

  /** Adds a peer (or moves it to a new address: its pending requests are rejected). */
  add(name: string, address: string): void {
    if (name === this.self) throw new Error(`peer ${name} is this replica`);
    this.links.get(name)?.close();
    this.links.set(name, new Link(name, address, this.options));
    this.cachedNames = undefined;
  }

  /** Removes a peer: its pending requests are rejected. */
  remove(name: string): void {
    this.links.get(name)?.close();
    this.links.delete(name);
    this.cachedNames = undefined;
  }

  protected deliver(peer: string, request: PeerRequest): Promise<PeerReply> {
    const trace = this.trace;
    if (trace === undefined) return this.links.get(peer)!.send(request);
    trace("send", peer, request, false);
    return this.links
      .get(peer)!
      .send(request)
      .then((reply) => {
        trace("receive", peer, reply, true);
        return reply;
      });
  }

  async close(): Promise<void> {
    for (const link of this.links.values()) link.close();
  }
}

interface LinkOptions extends Required<Pick<GrpcPeersOptions, "backoff" | "maxBackoff" | "random" | "channelOptions">> {
  tls: Tls | undefined;
  onLink: GrpcPeersOptions["onLink"];
}

interface Pending {
  resolve(reply: PeerReply): void;
  reject(error: PeerError): void;
}

/** The connection to one peer: its client, its current stream and the FIFO of requests awaiting a reply. */
class Link {
  private readonly client: ConsensusClient;
  private stream: grpc.ClientDuplexStream<PeerRequest, PeerReply> | undefined;
  /** Requests written on the current stream, oldest first. */
  private pending: Pending[] = [];
  /** Requests held back until the stream reopens, oldest first. */
  private waiting: { request: PeerRequest; pending: Pending }[] = [];
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** What was last reported of the link (undefined: nothing yet). */
  private reported: LinkEvent["state"] | undefined;

  constructor(
    private readonly peer: string,
    private readonly address: string,
    private readonly options: LinkOptions,
  ) {
    const credentials = options.tls?.client ?? grpc.credentials.createInsecure();
    this.client = new ConsensusClient(address, credentials, options.channelOptions);
    this.open();
  }

  send(request: PeerRequest): Promise<PeerReply> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new PeerError(this.peer, Code.CANCELLED, "peers are closed"));
      const pending = { resolve, reject };
      if (this.stream === undefined) this.waiting.push({ request, pending });
      else this.write(this.stream, request, pending);
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    const error = new PeerError(this.peer, Code.CANCELLED, "peers are closed");
    this.fail(this.stream, error);
    for (const { pending } of this.waiting.splice(0)) pending.reject(error);
    this.client.close();
  }

  private write(stream: grpc.ClientDuplexStream<PeerRequest, PeerReply>, request: PeerRequest, pending: Pending): void {
    this.pending.push(pending);
    stream.write(request);
  }

  private open(): void {
    this.timer = undefined;
    const stream = (this.stream = this.client.dispatch());
    // The peer's server answers a stream it takes with its headers at once (src/server.ts).
    stream.on("metadata", () => {
      if (stream !== this.stream) return;
      this.failures = 0;
      this.report({ state: "connected", address: this.address });
    });
    stream.on("data", (reply: PeerReply) => {
      this.failures = 0;
      const pending = this.pending.shift();
      if (pending) pending.resolve(reply);
      else this.fail(stream, new PeerError(this.peer, Code.INTERNAL, "sent a reply to no request"));
    });
    stream.on("error", (error: grpc.ServiceError) => {
      this.fail(stream, new PeerError(this.peer, error.code ?? Code.UNKNOWN, error.details || error.message));
    });
    stream.on("end", () => {
      this.fail(
        stream,
        new PeerError(
          this.peer,
          Code.UNAVAILABLE,
          "ended the stream before replying (as a replica does when it stops)",
        ),
      );
    });
    for (const { request, pending } of this.waiting.splice(0)) this.write(stream, request, pending);
  }

  /** Ends `stream` if it is still the current one: rejects its pending requests and reopens it after the backoff. */
  private fail(stream: grpc.ClientDuplexStream<PeerRequest, PeerReply> | undefined, error: PeerError): void {
    if (stream === undefined || stream !== this.stream) return;
    this.stream = undefined;
    const pending = this.pending.splice(0);
    stream.cancel();
    if (!this.closed) {
      // UNAVAILABLE is the transport's code (and a peer's that is starting or stopping); others are a handler's.
      if (error.code === Code.UNAVAILABLE) {
        const reason = explainFailure(error.details, this.options.tls?.files);
        const state = this.reported === undefined || this.reported === "waiting" ? "waiting" : "lost";
        this.report({ state, address: this.address, reason });
      }
      const { backoff, maxBackoff, random } = this.options;
      const wait = Math.min(maxBackoff, backoff * 2 ** this.failures++) * (0.8 + 0.4 * random());
      this.timer = setTimeout(() => this.open(), wait);
    }
    for (const [i, request] of pending.entries()) {
      // Only the oldest request was being answered; the others were cut short.
      request.reject(
        i === 0
          ? error
          : new PeerError(this.peer, Code.UNAVAILABLE, `stream failed before replying (${error.message})`),
      );
    }
  }

  /** Tells onLink of a change of state; a state already reported is not reported again. */
  private report(event: LinkEvent): void {
    if (this.reported === event.state) return;
    this.reported = event.state;
    this.options.onLink?.(this.peer, event);
  }
}
