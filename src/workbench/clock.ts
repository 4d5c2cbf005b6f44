// Wall-clock time with nanosecond digits, for the results file: RFC 3339 as
// the replicas write it in their metrics lines. Read a few times a run, so
// plainly: the wall clock once, then the monotonic clock from there.

const anchor = { wall: BigInt(Date.now()) * 1_000_000n, monotonic: process.hrtime.bigint() };

/** Nanoseconds since the Unix epoch. */
export function nowNs(): bigint {
  return anchor.wall + (process.hrtime.bigint() - anchor.monotonic);
}

/** RFC 3339 in UTC with nanoseconds, e.g. `2026-11-25T18:00:00.123456789Z`. */
export function rfc3339(ns: bigint = nowNs()): string {
  const seconds = new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19);
  return `${seconds}.${String(ns % 1_000_000_000n).padStart(9, "0")}Z`;
}
