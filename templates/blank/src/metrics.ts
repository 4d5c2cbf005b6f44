// Counters of one replica, dumped as one JSON line per run (the original's
// Metrics.Dump): what clients asked for, what the quorum committed, what was
// dropped, and the throughput between the first and the last request; and
// what the protocol counts of its own (count), which `consensus bench`
// prints beside them.
import { readFileSync } from "node:fs";
import { appendFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Clock, rfc3339, systemClock } from "./clock.js";

/** The line `dump` appends, before `extra`. */
export interface MetricsRecord {
  metric: "server";
  /** The version in this project's package.json. */
  version: string;
  /** RFC 3339 time of the first request, or null before any. */
  started: string | null;
  /** RFC 3339 time of the last request or completion, or null before any. */
  finished: string | null;
  requests: number;
  commits: number;
  drops: number;
  /** Number of distinct client identities. */
  clients: number;
  /** Dispatch requests handled (from peers, or a bench). */
  messages: number;
  /** Commits per second between started and finished. */
  throughput: number;
  /** Seconds between started and finished. */
  duration: number;
  /** The protocol's own counters, by name (see Metrics.count). */
  counters: Record<string, number>;
}

export class Metrics {
  /** Client requests received (Propose calls). */
  requests = 0;
  /** Requests the quorum committed. */
  commits = 0;
  /** Requests completed without a commit (declined, failed, redirected). */
  drops = 0;
  /** Requests per client identity. */
  readonly clients = new Map<string, number>();
  /** Dispatch requests handled. */
  messages = 0;
  /** The protocol's own counters, by name. */
  readonly counters = new Map<string, number>();
  private first: bigint | undefined;
  private last: bigint | undefined;

  /** Events are timed by `clock`'s wall time (default: the system's). */
  constructor(private readonly clock: Clock = systemClock) {}

  /** Records a request from the client with this identity. */
  request(client: string): void {
    this.touch();
    this.requests++;
    this.clients.set(client, (this.clients.get(client) ?? 0) + 1);
  }

  /** Records the outcome of a request: committed, or dropped. */
  complete(committed: boolean): void {
    this.touch();
    if (committed) this.commits++;
    else this.drops++;
  }

  /**
   * Adds `by` to the protocol's counter `name`. Names that share a group
   * before a dot (`path.fast`, `path.slow`) are parts of one whole: the bench
   * prints each as a share of the group, e.g. the commits that took the fast path.
   */
  count(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  /** Seconds between the first request and the last event (0 before any). */
  duration(): number {
    return this.first === undefined || this.last === undefined ? 0 : Number(this.last - this.first) / 1e9;
  }

  /** Commits per second over `duration()` (0 when no time has passed). */
  throughput(): number {
    const seconds = this.duration();
    return seconds > 0 ? this.commits / seconds : 0;
  }

  /** The counters as the record `dump` writes. */
  record(): MetricsRecord {
    return {
      metric: "server",
      version: projectVersion(),
      started: this.first === undefined ? null : rfc3339(this.first),
      finished: this.last === undefined ? null : rfc3339(this.last),
      requests: this.requests,
      commits: this.commits,
      drops: this.drops,
      clients: this.clients.size,
      messages: this.messages,
      throughput: this.throughput(),
      duration: this.duration(),
      // By name, so that a dump does not depend on the order the protocol first counted them in.
      counters: Object.fromEntries([...this.counters].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    };
  }

  /**
   * Appends one JSON line to `file` (creating it and its folder): the record
   * plus `extra`, whose keys win. Bigints are written as numbers when they
   * are safe integers, as strings otherwise.
   */
  async dump(file: string, extra: Record<string, unknown> = {}): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true });
    await appendFile(file, `${JSON.stringify({ ...this.record(), ...extra }, bigintSafe)}\n`);
  }

  private touch(): void {
    this.last = this.clock.epochNs();
    this.first ??= this.last;
  }
}

function bigintSafe(_key: string, value: unknown): unknown {
  if (typeof value !== "bigint") return value;
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value.toString();
}

let version: string | undefined;

/** The version in the nearest package.json above this module (read once). */
export function projectVersion(): string {
  if (version !== undefined) return version;
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    try {
      const { version: found } = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as {
        version?: unknown;
      };
      return (version = typeof found === "string" ? found : "0.0.0");
    } catch {
      if (path.dirname(dir) === dir) return (version = "0.0.0");
    }
  }
}
