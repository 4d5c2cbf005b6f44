// A Replica served over gRPC: Propose as a unary call, Dispatch as a
// bidirectional stream whose requests are handed to the replica in order as
// they arrive, each getting exactly one reply, in request order, however the
// peer pipelines.
import * as grpc from "@grpc/grpc-js";
import { coalesceReplies } from "./coalesce.js";
import { hostPort } from "./config.js";
import { typeName } from "./envelope.js";
import { Health } from "./health.js";
import type { PeerReply, PeerRequest } from "./pb/envelope.js";
import { type ConsensusServer, ConsensusService } from "./pb/service.js";
import type { Replica } from "./replica.js";
import { Code, StatusError, toStatusError } from "./status.js";

/** Requests unanswered on one stream beyond which it stops reading from the peer (HTTP/2 flow control does the rest). */
export const HIGH_WATER = 256;

/** What the server serves: a Replica, or a stand-in with its two methods (tests wrap one) and maybe a name. */
export type Served = Pick<Replica, "dispatch" | "propose"> & Partial<Pick<Replica, "name">>;

/**
 * The grpc-js implementation of the Consensus service for `replica`.
 * `streams`, when given, holds the open Dispatch streams (for draining);
 * `refusal`, when it returns an error, answers every call with it instead.
 */
export function consensusService(
  replica: Served,
  streams?: Set<DispatchStream>,
  refusal?: () => StatusError | undefined,
): ConsensusServer {
  return {
    propose(call, callback) {
      const refused = refusal?.();
      if (refused) return callback({ code: refused.code, details: refused.message });
      replica.propose(call.request).then(
        (reply) => callback(null, reply),
        (error: unknown) => {
          const status = toStatusError(error, "Propose");
          callback({ code: status.code, details: status.message });
        },
      );
    },
    dispatch(call) {
      const refused = refusal?.();
      if (refused) {
        call.emit("error", { code: refused.code, details: refused.message });
        return;
      }
      const stream = new DispatchStream(call, replica, () => streams?.delete(stream));
      streams?.add(stream);
    },
  };
}

/** How a request's handler ended: its reply, or the status that ends the stream. */
type Outcome = { reply: PeerReply; error?: undefined } | { error: StatusError };

/**
 * One peer's Dispatch stream. Each request is handed to the replica as it
 * arrives, without waiting for the replies before it: a handler that waits
 * for its disk's sync then does not hold back the next one, whose append
 * can share that sync (group commit). The handlers start in request order
 * (so what they append before their first await is in that order), and
 * their replies are written in request order.
 */
export class DispatchStream {
  /** The outcomes of the requests not answered yet, oldest first. */
  private readonly unanswered: Promise<Outcome>[] = [];
  private writing = false;
  private paused = false;
  private ending = false;
  private done = false;
  private wake: (() => void) | undefined;
  private readonly ended: Promise<void>;
  private settle!: () => void;

  constructor(
    private readonly call: grpc.ServerDuplexStream<PeerRequest, PeerReply>,
    private readonly replica: Served,
    private readonly onDone: () => void,
  ) {
    this.ended = new Promise((resolve) => (this.settle = resolve));
    // Headers at once tell the peer its stream was taken (GrpcPeers reports the link connected).
    call.sendMetadata(new grpc.Metadata());
    call.on("data", (request: PeerRequest) => this.receive(request));
    call.on("end", () => this.drain());
    // The peer hung up (cancelled, reset, gone): stop, and write nothing more.
    call.on("error", () => this.finish());
    call.on("cancelled", () => this.finish());
    call.on("close", () => this.finish());
  }

  /** Answers what has arrived, then ends the stream with OK; resolves once it has ended. */
  drain(): Promise<void> {
    this.ending = true;
    if (!this.writing) this.end();
    return this.ended;
  }

  private receive(request: PeerRequest): void {
    if (this.done || this.ending) return;
    this.unanswered.push(this.handle(request));
    if (!this.paused && this.unanswered.length >= HIGH_WATER) {
      this.paused = true;
      this.call.pause();
    }
    if (!this.writing) void this.write();
  }

  /** Starts the handler of `request`; its failure is an outcome, never a rejection nobody waits for yet. */
  private handle(request: PeerRequest): Promise<Outcome> {
    const failed = (error: unknown): Outcome => ({ error: toStatusError(error, `${typeName(request.type)} handler`) });
    try {
      return this.replica.dispatch(request).then((reply) => ({ reply }), failed);
    } catch (error) {
      return Promise.resolve(failed(error));
    }
  }

  /** Writes the replies in request order as their handlers finish. */
  private async write(): Promise<void> {
    this.writing = true;
    for (let next = this.unanswered[0]; next !== undefined; next = this.unanswered[0]) {
      const outcome = await next;
      if (this.done) return;
      this.unanswered.shift();
      if (this.paused && this.unanswered.length < HIGH_WATER / 2) {
        this.paused = false;
        this.call.resume();
      }
      if (outcome.error) return this.end(outcome.error);
      if (!this.call.write(outcome.reply)) await this.writable();
      if (this.done) return;
    }
    this.writing = false;
    if (this.ending) this.end();
  }

  /** Resolves when the call can take more writes, or is gone. */
  private writable(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.call.once("drain", resolve);
    });
  }

  /** Ends the stream once: with OK, or with the status of `error`. */
  private end(error?: StatusError): void {
    if (this.done) return;
    this.finish();
    if (this.call.cancelled || this.call.destroyed || this.call.writableEnded) return;
    // grpc-js sends the status once the replies written before it are sent.
    if (error) this.call.emit("error", { code: error.code, details: error.message });
    else this.call.end();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.unanswered.length = 0;
    this.wake?.();
    this.onDone();
    this.settle();
  }
}

export interface ListenOptions {
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port to bind; 0 picks a free one (default 0). */
  port?: number;
  /** TLS (src/tls.ts; default plaintext). */
  credentials?: grpc.ServerCredentials;
}

/**
 * A gRPC server for one Replica, with the health service and a graceful
 * close; Dispatch replies are coalesced (src/coalesce.ts).
 */
export class ReplicaServer {
  /** The health service: SERVING, except between starting() and ready() and from close() on. */
  readonly health = new Health("SERVING");
  private readonly server: grpc.Server;
  private readonly streams = new Set<DispatchStream>();
  /** What Propose and Dispatch are answered while the replica is not serving. */
  private refusal: StatusError | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly replica: Served,
    options: grpc.ServerOptions = {},
  ) {
    this.server = new grpc.Server({ ...options, interceptors: [coalesceReplies, ...(options.interceptors ?? [])] });
    this.server.addService(
      ConsensusService,
      consensusService(replica, this.streams, () => this.refusal),
    );
    this.health.addTo(this.server);
  }

  /** Until ready(): the health service says NOT_SERVING and Propose and Dispatch are answered UNAVAILABLE. */
  starting(): void {
    this.health.set("NOT_SERVING");
    this.refusal = new StatusError(Code.UNAVAILABLE, `${this.replica.name ?? "the replica"} is starting`);
  }

  /** The replica is ready: SERVING, and Propose and Dispatch are answered. */
  ready(): void {
    this.health.set("SERVING");
    this.refusal = undefined;
  }

  /** Binds and serves; resolves with the port (the real one when asked for 0). */
  listen({ host = "127.0.0.1", port = 0, credentials }: ListenOptions = {}): Promise<number> {
    return new Promise((resolve, reject) =>
      this.server.bindAsync(
        hostPort(host, port),
        credentials ?? grpc.ServerCredentials.createInsecure(),
        (error, bound) => (error ? reject(error) : resolve(bound)),
      ),
    );
  }

  /**
   * Says NOT_SERVING and refuses new calls (UNAVAILABLE, "… is stopping"),
   * lets each Dispatch stream answer what it has received and end, then
   * shuts down once the calls in progress are answered; after `timeout` ms
   * whatever is left is cancelled. The listener stays open until the streams
   * have ended, so health checks see NOT_SERVING during the drain.
   */
  close(timeout = 5000): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.health.set("NOT_SERVING");
      this.refusal = new StatusError(Code.UNAVAILABLE, `${this.replica.name ?? "the replica"} is stopping`);
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, timeout);
      void Promise.all([...this.streams].map((stream) => stream.drain())).then(() => {
        this.health.endWatches();
        this.server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    });
    return this.closing;
  }
}
