// Recovery's pure part: the ballots a recoverer runs at, and what it does
// with the answers of a majority to its Prepare. Ballot 0 is the command
// leader's own; every higher one is owned by one replica, so two recoverers
// never run at the same ballot. Each answer says what the replica last voted
// for the instance (its status, commands and attributes) and the ballot of
// that vote (`vbal`), kept apart from the ballot it promised: one ballot for
// both lets replicas diverge (Sutra, "On the correctness of Egalitarian
// Paxos", 2019). The rules, first that applies (docs/protocol.md says why
// each is safe):
//   1. a replica committed the instance: commit that;
//   2. some accepted: Accept the attributes voted at the highest vbal;
//   3. at least slow - 1 replicas other than the command leader pre-accepted
//      its attributes unchanged at ballot 0: Accept those (a fast-path
//      commit, with a fast quorum of N - 1, always shows so);
//   4. some pre-accepted: PreAccept the commands again at this ballot, and
//      take the slow path with what a majority answers;
//   5. nobody knows the commands: Accept a no-op.
import { Status } from "../pb/epaxos.js";
import { type Attributes, type Batch, merge } from "./instances.js";

/** The most replicas a cluster can have: owner indexes fit below it. */
export const MAX_REPLICAS = 256;

/** The smallest ballot owned by replica `index` that is higher than `above` (never 0: that is the command leader's). */
export function nextBallot(above: number, index: number): number {
  return (Math.floor(above / MAX_REPLICAS) + 1) * MAX_REPLICAS + index;
}

/** One replica's answer to a Prepare: its last vote for the instance. */
export interface Vote extends Attributes {
  /** The answering replica's index. */
  readonly from: number;
  readonly status: Status;
  readonly vbal: number;
  /** Undefined when the replica knows no commands for the instance (status NONE). */
  readonly commands: Batch | undefined;
}

export type Plan =
  | { readonly step: "commit" | "accept" | "preAccept"; readonly commands: Batch; readonly attributes: Attributes }
  | { readonly step: "noop" };

/**
 * What a recoverer does with `votes`, a majority's answers (its own among
 * them) for an instance led by replica `leader`, slow quorum `slow`.
 */
export function plan(votes: readonly Vote[], leader: number, slow: number): Plan {
  const attributes = ({ seq, deps }: Attributes): Attributes => ({ seq, deps });
  const committed = votes.find((vote) => vote.status >= Status.COMMITTED);
  if (committed !== undefined)
    return { step: "commit", commands: committed.commands!, attributes: attributes(committed) };
  const accepted = votes
    .filter((vote) => vote.status === Status.ACCEPTED)
    .sort((a, b) => b.vbal - a.vbal)
    .at(0);
  if (accepted !== undefined) return { step: "accept", commands: accepted.commands!, attributes: attributes(accepted) };
  const same = votes.filter((vote) => vote.status === Status.PREACCEPTED_EQ && vote.vbal === 0 && vote.from !== leader);
  if (same.length > 0 && same.length >= slow - 1) {
    return { step: "accept", commands: same[0]!.commands!, attributes: attributes(same[0]!) };
  }
  const preAccepted = votes.filter(
    (vote) => vote.status === Status.PREACCEPTED || vote.status === Status.PREACCEPTED_EQ,
  );
  if (preAccepted.length === 0) return { step: "noop" };
  // Every attribute a replica gave it, as a start: the acceptors add what they know.
  const joined = preAccepted.reduce<Attributes>(
    (all, vote) => attributes(merge(all, vote)),
    attributes(preAccepted[0]!),
  );
  return { step: "preAccept", commands: preAccepted[0]!.commands!, attributes: joined };
}
