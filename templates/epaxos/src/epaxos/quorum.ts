// Quorum sizes of ePaxos for N = 2F + 1 replicas, each counting the command
// leader: a slow quorum (Accept) is a majority, F + 1; a fast quorum
// (PreAccept answered with unchanged attributes) is N - 1, 2F, the leader
// and all its peers but one. Not the paper's smaller F + ⌊(F + 1) / 2⌋ (the
// same at N = 3): with N - 1, recovery finds a fast-path commit among any
// majority without the leader as F + 1 - 1 = F replicas that pre-accepted
// the leader's attributes unchanged, and those F with the leader are a
// majority that saw the command before any it did not depend on, so
// committing those attributes is safe whether the fast path was taken or
// not (docs/protocol.md, "Recovery"). The smaller quorum needs TryPreAccept
// for that, the original recovery's most intricate part. An even N
// tolerates no more failures than N - 1: F = ⌊(N - 1) / 2⌋, and both
// quorums are at least a majority, as any two quorums must intersect.

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
  const fast = Math.max(slow, replicas - 1);
  return { replicas, failures, slow, fast };
}
