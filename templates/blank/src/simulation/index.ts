// Deterministic simulation of a cluster of replicas: see the README's "Simulation tests".
export { type HistoryEvent, type KvOutcome, MAX_HOPS, type Workload } from "./client.js";
export { FAULT_KINDS, type Fault, type FaultEvent, type FaultKind, type FaultOptions } from "./faults.js";
export { Random } from "./random.js";
export { assertHurt, assertLinearizable, seeds } from "./replay.js";
export {
  type RunOptions,
  Simulation,
  type SimulatedReplica,
  type SimulatedReplicaOptions,
  type SimulationClient,
  type SimulationOptions,
  type SimulationResult,
} from "./simulation.js";
export { ClockScope, EPOCH_NS, VirtualClock } from "./virtual-clock.js";
