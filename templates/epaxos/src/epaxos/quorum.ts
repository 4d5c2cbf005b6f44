// Quorum sizes of ePaxos for N = 2F + 1 replicas, each counting the command
// leader: a slow quorum (Accept) is a majority, F + 1; a fast quorum
// (PreAccept answered with unchanged attributes) is F + ⌊(F + 1) / 2⌋, the
// size the ePaxos paper shows is enough for recovery to find a fast-path
// commit among any F + 1 replicas. An even N tolerates no more failures than
// N - 1: F = ⌊(N - 1) / 2⌋, and both quorums are at least a majority, as any
// two quorums must intersect.

export interface Quorums {
  /** N: every replica. */
  readonly replicas: number;
  /** F: the replicas that may fail while the others commit. */
  readonly failures: number;
  /** Replicas, the leader among them, that commit on the slow path. */
  readonly slow: number;
  /** Replicas, the leader among them, that commit on the fast path. */
  readonly fast: number;
}

export function quorums(replicas: number): Quorums {
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new RangeError(`a cluster has a whole number of replicas, one or more, not ${replicas}`);
  }
  const failures = Math.floor((replicas - 1) / 2);
  const slow = Math.floor(replicas / 2) + 1;
  const fast = Math.max(slow, failures + Math.floor((failures + 1) / 2));
  return { replicas, failures, slow, fast };
}
