// Simulated kv clients: SPEC §5's kv workload, as `consensus bench kv` runs
// it, over Propose on virtual time. Each operation is recorded in the
// history (SPEC §6); a client whose operation ends indeterminate goes on as a
// new process (Jepsen's rule), so no process has two open operations.
import type { ProposeReply, ProposeRequest } from "../pb/client.js";
import type { Random } from "./random.js";

/** Redirects one operation follows before it gives up (recorded `info`), as `consensus bench kv`. */
export const MAX_HOPS = 3;

/** A history line (SPEC §6); the checker ignores fields besides process, type, f, key and value. */
export interface HistoryEvent {
  process: number | "nemesis";
  type: "invoke" | "ok" | "fail" | "info";
  f: string;
  key?: string;
  value: unknown;
  [field: string]: unknown;
}

/** What clients reach the replicas through: the simulation. */
export interface ClientLinks {
  /** The replicas, in order: clients start spread over them. */
  readonly names: readonly string[];
  /** Proposes `request` of client `process` at replica `name`; resolves with its reply, or with why none came within `timeout` ms. */
  propose(name: string, request: ProposeRequest, timeout: number, process: number): Promise<ProposeReply | Unanswered>;
  /** Appends an event to the history, at the current virtual time. */
  record(event: HistoryEvent): void;
  /** A process number no client has used. */
  process(): number;
}

/** Why a Propose got no reply: the replica was down, crashed, threw, or took too long. */
export interface Unanswered {
  unanswered: string;
}

/** How an operation ended: `ok` with its result (a read's value, a write's value), or `info` with why not. */
export type KvOutcome =
  { type: "ok"; value: number | string | null; replica: string } | { type: "info"; error: string; replica: string };

/** A written value's bytes: the UTF-8 of its decimal form. */
export function encodeValue(value: number): Buffer {
  return Buffer.from(String(value), "utf8");
}

/** A read value from its bytes: null when empty, a number when decimal, else the text (a value no client wrote). */
export function decodeValue(bytes: Uint8Array): number | string | null {
  if (bytes.length === 0) return null;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  return /^-?(0|[1-9]\d*)$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : text;
}

/** One client: one operation at a time, recorded in the history. */
export class KvClient {
  /** The process its next operation is recorded as. */
  process: number;
  /** The index in `links.names` of the replica operations start at. */
  private home: number;

  constructor(
    private readonly links: ClientLinks,
    home: number,
    /** Virtual ms each Propose waits for its answer before the operation is `info`. */
    private readonly timeout: number,
  ) {
    this.process = links.process();
    this.home = home % links.names.length;
  }

  /** Writes `value` (a number, sent as its decimal) to `key`. */
  write(key: string, value: number): Promise<KvOutcome> {
    return this.operation("write", key, value);
  }

  read(key: string): Promise<KvOutcome> {
    return this.operation("read", key, null);
  }

  private async operation(f: "read" | "write", key: string, value: number | null): Promise<KvOutcome> {
    const { process } = this;
    const replica = this.links.names[this.home]!;
    this.links.record({ process, type: "invoke", f, key, value, replica });
    const request: ProposeRequest = {
      identity: `kv-${process}`,
      name: key,
      value: value === null ? Buffer.alloc(0) : encodeValue(value),
    };
    const outcome = await this.attempt(request, replica);
    if (outcome.type === "ok") {
      const result = f === "read" ? outcome.value : value;
      this.links.record({ process, type: "ok", f, key, value: result, replica: outcome.replica });
      return { ...outcome, value: result };
    }
    this.links.record({ process, type: "info", f, key, value, replica: outcome.replica, error: outcome.error });
    this.process = this.links.process();
    // The replica may be down or cut off: start the next operations at the next one.
    this.home = (this.home + 1) % this.links.names.length;
    return outcome;
  }

  /** Proposes `request` at `replica`, following up to MAX_HOPS redirects. */
  private async attempt(request: ProposeRequest, replica: string): Promise<KvOutcome> {
    for (let hops = 0; ; hops++) {
      const reply = await this.links.propose(replica, request, this.timeout, this.process);
      if ("unanswered" in reply) return { type: "info", error: reply.unanswered, replica };
      if (reply.success) return { type: "ok", value: decodeValue(reply.value), replica };
      if (!reply.redirect) return { type: "info", error: reply.error || "declined", replica };
      if (hops === MAX_HOPS) return { type: "info", error: `more than ${MAX_HOPS} redirects`, replica };
      if (!this.links.names.includes(reply.redirect)) {
        return { type: "info", error: `redirect to unknown replica ${JSON.stringify(reply.redirect)}`, replica };
      }
      replica = reply.redirect;
    }
  }
}

export interface Workload {
  /** Clients, each with one operation in flight (default 5). */
  clients?: number;
  /** Keys `k0` … `k<keys-1>` (default 3). */
  keys?: number;
  /** Fraction of operations that are reads, 0 … 1 (default 0.5). */
  reads?: number;
  /** Operations issued in all, by all clients together (default 100). */
  operations?: number;
  /** Virtual ms each Propose waits for its answer before the operation is `info` (default 1000). */
  timeout?: number;
}

/** A pause after an indeterminate operation, so that a replica that is down is not asked in a busy loop. */
const BACKOFF_MS = 10;

/**
 * Runs client `index` of `clients` until `next()` says no more operations are
 * to be issued: each chooses reads, keys and values from its own stream, and
 * writes values no other client writes (`index + 1 + n * clients`).
 */
export async function runClient(
  client: KvClient,
  index: number,
  workload: Required<Workload>,
  random: Random,
  next: () => boolean,
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  for (let writes = 0; next();) {
    const read = random.next() < workload.reads;
    const key = `k${random.int(0, workload.keys - 1)}`;
    const outcome = read ? await client.read(key) : await client.write(key, index + 1 + writes++ * workload.clients);
    if (outcome.type === "info") await sleep(BACKOFF_MS);
  }
}
