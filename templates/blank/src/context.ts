// What a handler gets besides its request.
import type { Metrics } from "./metrics.js";
import type { Peers } from "./peers.js";
import type { State } from "./state.js";

export interface Context {
  /** This replica's name. */
  readonly name: string;
  /** The name of the replica that sent the request (its PeerRequest.sender). */
  readonly sender: string;
  /** The other replicas: send, broadcast, quorum. */
  readonly peers: Peers;
  /** This replica's protocol state (src/state.ts). */
  readonly state: State;
  /** This replica's counters. */
  readonly metrics: Metrics;
}
