// Ballots: unique per replica, ordered, and naming their owner. A ballot is
// round * 256 + the owner's index among the cluster's names sorted, so two
// replicas never use the same one and any replica can tell whose it is.
// Carried as uint64 on the wire, kept as a number here (exact up to 2^53).

/** The most replicas a cluster can have: owner indexes fit below it. */
export const MAX_REPLICAS = 256;

/** The smallest ballot owned by replica `index` that is higher than `above`. */
export function nextBallot(above: number, index: number): number {
  const round = Math.floor(above / MAX_REPLICAS) + 1;
  return round * MAX_REPLICAS + index;
}

/** The index of the replica that owns `ballot`. */
export function ownerOf(ballot: number): number {
  return ballot % MAX_REPLICAS;
}
