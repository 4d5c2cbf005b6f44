// What a replica's protocol code gets from its surroundings: the Runtime when
// its State is made, and a Context (the Runtime plus the request's sender)
// in each handler. Time, timers, randomness and the disk come from here and
// from nowhere else, so a simulation can supply its own (src/simulation/).
import type { Clock } from "./clock.js";
import type { Disk } from "./disk.js";
import type { Metrics } from "./metrics.js";
import type { Peers } from "./peers.js";
import type { State } from "./state.js";

export interface Runtime {
  /** This replica's name. */
  readonly name: string;
  /** The other replicas: send, broadcast, quorum. */
  readonly peers: Peers;
  /** Time and timers: the system's, or a simulation's virtual clock. */
  readonly clock: Clock;
  /** A number in [0, 1): Math.random, or a simulation's seeded generator. */
  readonly random: () => number;
  /** Where durable state goes (`--data`), or undefined when the replica has no folder. */
  readonly disk: Disk | undefined;
  /** This replica's counters. */
  readonly metrics: Metrics;
  /**
   * Stops this replica for good, saying why in one line (`error.message`):
   * for a protocol that finds going on unsafe. It refuses every request from
   * then on, and its process ends.
   */
  readonly stop: (error: Error) => void;
}

export interface Context extends Runtime {
  /** The name of the replica that sent the request (its PeerRequest.sender). */
  readonly sender: string;
  /** This replica's protocol state (src/state.ts). */
  readonly state: State;
}
