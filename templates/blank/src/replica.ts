// The replica: the protocol's core, which never touches the network. Dispatch
// hands each peer request to its handler in src/handlers/ and turns the
// result into the one reply that request gets; Propose hands clients to the
// State (src/state.ts). src/server.ts serves a Replica over gRPC;
// src/memory.ts connects replicas in memory for tests, and src/simulation/
// runs them on a virtual clock.
import { type Clock, systemClock } from "./clock.js";
import type { Context, Runtime } from "./context.js";
import type { Disk } from "./disk.js";
import { isKnownType, typeName } from "./envelope.js";
import { beacon } from "./handlers/beacon.js";
import { Metrics } from "./metrics.js";
import type { ProposeReply, ProposeRequest } from "./pb/client.js";
import { type PeerReply, type PeerRequest, Type } from "./pb/envelope.js";
import { GrpcPeers, type Peers } from "./peers.js";
import { State } from "./state.js";
import { Code, StatusError, toStatusError } from "./status.js";

export interface ReplicaOptions {
  /** This replica's name: the sender of its requests and replies. */
  name: string;
  /** The other replicas (default: none). */
  peers?: Peers;
  /** Time and timers (default: the system's). */
  clock?: Clock;
  /** A number in [0, 1) (default: Math.random). */
  random?: () => number;
  /** Where durable state goes (default: none). */
  disk?: Disk;
  metrics?: Metrics;
  /** Called with what a handler threw that was not a StatusError (peers get INTERNAL). */
  onError?: (error: unknown, request: PeerRequest) => void;
  /**
   * Called once when the replica stops (see stop()): a failed disk
   * (Disk.onFailure), or the protocol finding that going on is unsafe; its
   * process must end (src/main.ts prints the error's message and exits 1; a
   * simulation crashes a replica whose disk failed).
   */
  onStop?: (error: Error) => void;
}

export class Replica implements Runtime {
  readonly name: string;
  readonly peers: Peers;
  readonly clock: Clock;
  readonly random: () => number;
  readonly disk: Disk | undefined;
  readonly metrics: Metrics;
  readonly state: State;
  private readonly onError: ((error: unknown, request: PeerRequest) => void) | undefined;
  private readonly onStop: ((error: Error) => void) | undefined;
  /** Why the replica stopped: it refuses every request from then on. */
  private stopped: Error | undefined;

  constructor(options: ReplicaOptions) {
    this.name = options.name;
    this.peers = options.peers ?? new GrpcPeers(options.name, {});
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.disk = options.disk;
    this.metrics = options.metrics ?? new Metrics();
    this.onError = options.onError;
    this.onStop = options.onStop;
    this.state = new State(this);
    // Going on as if what failed were durable could break what this replica promised.
    this.disk?.onFailure((error) =>
      this.stop(new Error(`its disk failed, so what it wrote may not be durable: ${error.message}`, { cause: error })),
    );
  }

  /**
   * Stops the replica for good, for `error`'s reason (one line): it refuses
   * every request from then on, and onStop hears of it. Only the first call
   * counts.
   */
  readonly stop = (error: Error): void => {
    if (this.stopped) return;
    this.stopped = error;
    this.onStop?.(error);
  };

  /** Gets the replica ready to serve: its State recovers from the disk and sets its timers (see State.start). */
  start(): Promise<string[]> {
    return this.state.start();
  }

  /**
   * Handles one request from a peer and resolves with its reply, or rejects
   * with the StatusError that ends the peer's stream: UNIMPLEMENTED for a type
   * this replica does not know or a handler that is still a stub,
   * INVALID_ARGUMENT for a request with no message or a message of another
   * type, INTERNAL for a handler that threw (or the StatusError it threw);
   * UNAVAILABLE once the replica has stopped (see stop()).
   */
  async dispatch(request: PeerRequest): Promise<PeerReply> {
    this.metrics.messages++;
    this.refuseIfStopped();
    const { message } = request;
    if (!isKnownType(request.type)) {
      throw new StatusError(Code.UNIMPLEMENTED, `type ${request.type} is not known to this replica`);
    }
    if (message === undefined) {
      throw new StatusError(Code.INVALID_ARGUMENT, `${typeName(request.type)} request carries no message`);
    }
    const context: Context = {
      name: this.name,
      sender: request.sender,
      peers: this.peers,
      clock: this.clock,
      random: this.random,
      disk: this.disk,
      metrics: this.metrics,
      stop: this.stop,
      state: this.state,
    };
    try {
      // One case per oneof member: expect() checks the request's type before
      // the handler runs (arguments are evaluated left to right), reply() puts
      // the handler's result in the reply. A member without a case fails tsc.
      const $case = message.$case;
      switch ($case) {
        case "beacon":
          return this.reply(this.expect(request, Type.BEACON), {
            $case: "beacon",
            value: await beacon(message.value, context),
          });
        default: {
          const unknown: never = $case;
          throw new StatusError(Code.INVALID_ARGUMENT, `unknown message ${unknown}`);
        }
      }
    } catch (error) {
      if (!(error instanceof StatusError)) this.onError?.(error, request);
      throw toStatusError(error, `${typeName(request.type)} handler`);
    }
  }

  /** Handles a client's proposal: counts its client, and lets the State answer (unless the replica stopped). */
  async propose(request: ProposeRequest): Promise<ProposeReply> {
    this.metrics.request(request.identity);
    this.refuseIfStopped();
    return this.state.propose(request);
  }

  /** Stops the State (timers, files), then closes the disk and the connections to the peers. */
  async close(): Promise<void> {
    await this.state.close();
    await Promise.all([this.disk?.close(), this.peers.close()]);
  }

  private refuseIfStopped(): void {
    if (this.stopped) throw new StatusError(Code.UNAVAILABLE, `${this.name} has stopped: ${this.stopped.message}`);
  }

  /** The reply header for `request`, after checking that the request is of `type`. */
  private expect(request: PeerRequest, type: Type): PeerReply {
    if (request.type !== type) {
      const $case = request.message?.$case;
      throw new StatusError(Code.INVALID_ARGUMENT, `${typeName(request.type)} request carries a ${$case} message`);
    }
    return { type, sender: this.name, success: true, message: undefined };
  }

  /** `reply` with the handler's result: a reply member, or nothing for a request-only type. */
  private reply(reply: PeerReply, message: PeerReply["message"] | void): PeerReply {
    if (message) reply.message = message;
    return reply;
  }
}
