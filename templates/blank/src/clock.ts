// Wall-clock time with nanosecond resolution: the monotonic high-resolution
// clock anchored to Date.now(), re-anchored whenever the two drift more than
// two milliseconds apart (NTP slews, a suspended machine, a clock set by hand).

const NS_PER_MS = 1_000_000n;
/** Both clocks read in step differ by less than 1 ms (Date.now() truncates): allow 2. */
const DRIFT_NS = 2n * NS_PER_MS;

let anchorWall = BigInt(Date.now()) * NS_PER_MS;
let anchorMono = process.hrtime.bigint();

/** Nanoseconds since the Unix epoch. */
export function nowNs(): bigint {
  const ns = anchorWall + (process.hrtime.bigint() - anchorMono);
  const wall = BigInt(Date.now()) * NS_PER_MS;
  if (ns - wall > DRIFT_NS || wall - ns > DRIFT_NS) {
    anchorWall = wall;
    anchorMono = process.hrtime.bigint();
    return wall;
  }
  return ns;
}

/** RFC 3339 in UTC with nanoseconds, e.g. `2026-11-25T18:00:00.123456789Z` (Go's time.RFC3339Nano, without trimming zeros). */
export function rfc3339(ns: bigint = nowNs()): string {
  const seconds = ns / 1_000_000_000n;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}
