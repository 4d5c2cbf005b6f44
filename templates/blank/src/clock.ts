// Time as a replica sees it. Protocol code reads time and sets timers only
// through a Clock (its handlers get one as `context.clock`), never through
// Date.now() or setTimeout: then a simulation can run the same code on a
// virtual clock (src/simulation/), and a seed replays a run exactly.
//
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

/** A timer set by Clock.setTimeout. */
export interface Timer {
  /** Stops the timer; nothing happens if it has fired already. */
  cancel(): void;
}

export interface Clock {
  /** Milliseconds on a monotonic clock, for timeouts and latencies (only differences mean something). */
  now(): number;
  /** Nanoseconds since the Unix epoch: wall time, for timestamps. */
  epochNs(): bigint;
  /**
   * Calls `callback` once, `ms` milliseconds from now, unless cancelled
   * first. With `ms` 0 it runs once the events at hand are handled (what
   * arrived in this turn of the event loop): a way to gather work.
   */
  setTimeout(callback: () => void, ms: number): Timer;
}

/**
 * The process's clocks and timers. A pending timer keeps the process alive,
 * as Node's do: it may be what a test awaits (a message in flight on the
 * in-memory network); State.close() cancels a replica's.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  epochNs: nowNs,
  setTimeout(callback, ms) {
    // Node runs a 0 ms timeout a millisecond later at the earliest; setImmediate runs after this turn's I/O.
    if (ms <= 0) {
      const immediate = setImmediate(callback);
      return { cancel: () => clearImmediate(immediate) };
    }
    const timer = setTimeout(callback, ms);
    return { cancel: () => clearTimeout(timer) };
  },
};
