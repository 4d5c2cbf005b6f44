// Wall-clock time with nanosecond resolution: the monotonic high-resolution
// clock anchored to Date.now(), re-anchored whenever the two drift more than
// two milliseconds apart (NTP slews, a suspended machine, a clock set by hand).
// Kept in plain numbers (whole seconds, nanoseconds) because every Beacon
// reply reads it: BigInt arithmetic and a Date per call showed in profiles.

/** Both clocks read in step differ by less than 1 ms (Date.now() truncates): allow 2. */
const DRIFT_MS = 2;

let anchorMs = Date.now();
let anchor = process.hrtime();

/** Seconds since the Unix epoch, and nanoseconds within that second. */
function now(): [seconds: number, nanoseconds: number] {
  let [seconds, nanoseconds] = process.hrtime(anchor);
  const wallMs = Date.now();
  if (Math.abs(anchorMs + seconds * 1e3 + nanoseconds / 1e6 - wallMs) > DRIFT_MS) {
    anchorMs = wallMs;
    anchor = process.hrtime();
    seconds = nanoseconds = 0;
  }
  const anchorSeconds = Math.floor(anchorMs / 1000);
  nanoseconds += (anchorMs - anchorSeconds * 1000) * 1e6;
  return [anchorSeconds + seconds + Math.floor(nanoseconds / 1e9), nanoseconds % 1e9];
}

/** Nanoseconds since the Unix epoch. */
export function nowNs(): bigint {
  const [seconds, nanoseconds] = now();
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds);
}

/** The date and time of the second last formatted, which most calls share. */
let cached = { seconds: NaN, text: "" };

/** RFC 3339 in UTC with nanoseconds, e.g. `2026-11-25T18:00:00.123456789Z` (Go's time.RFC3339Nano, without trimming zeros). */
export function rfc3339(ns?: bigint): string {
  const [seconds, nanoseconds] = ns === undefined ? now() : [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
  if (seconds !== cached.seconds) {
    cached = { seconds, text: new Date(seconds * 1000).toISOString().slice(0, 19) };
  }
  return `${cached.text}.${String(nanoseconds).padStart(9, "0")}Z`;
}
