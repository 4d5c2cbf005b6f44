// The kv load (SPEC §5): closed-loop clients reading and writing a few keys
// of a store (the replicas, through Propose; or etcd, through its KV API:
// load/etcd.ts), each operation recorded in a history (SPEC §6) for the
// linearizability checker. A client whose operation ends indeterminate goes on
// as a new process (Jepsen's rule), so no process has two open operations.
// The checker takes a key as empty until the history writes it, so the run
// first reads every key, before anything is written: what a key already holds
// (an earlier run's data) is recorded as a write by process "initial",
// completed just before the read that found it.
import { setTimeout as sleep } from "node:timers/promises";
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";
import type { History } from "../history.js";
import type { Measurement } from "../measurement.js";
import { proposeFollowing, Replicas } from "./redirects.js";

/** One operation of a kv client, as a store is asked it. */
export interface KvOperation {
  /** The client asking (an index: which of the store's connections it uses). */
  caller: number;
  /** Its process in the history. */
  process: number;
  key: string;
  /** The bytes to write; null for a read. */
  value: Buffer | null;
  /** The endpoint asked first (one of the store's). */
  endpoint: string;
  /** Deadline of each call, in milliseconds. */
  timeout: number;
  /** Called for each redirect followed. */
  redirected(): void;
}

/**
 * How an operation ended, at which endpoint: answered with the key's value after it (a write's
 * own); declined, so certainly not applied; or an error, so perhaps applied.
 */
export type KvAnswer =
  | { value: Uint8Array; endpoint: string }
  | { declined: string; endpoint: string }
  | { error: string; endpoint: string };

/** What the kv clients read and write: the bench's target. */
export interface KvStore {
  /** Its endpoints by name; clients start spread over them in this order. */
  readonly endpoints: string[];
  perform(operation: KvOperation): Promise<KvAnswer>;
  /** Closes its connections, once the load is over. */
  close(): void;
}

/**
 * Replicas of the contract (SPEC §5): a write is `Propose(identity, key, value)`, a read the same
 * with an empty value; a redirect is followed within the operation; `success = false` otherwise
 * is a decline.
 */
export class ReplicaStore implements KvStore {
  readonly endpoints: string[];
  private readonly replicas: Replicas;

  /** `targets`: name → host:port of the replicas (redirects name them); `connections` per replica. */
  constructor(targets: Map<string, string>, connections?: number) {
    this.endpoints = [...targets.keys()];
    this.replicas = new Replicas(targets, connections);
  }

  async perform({ caller, process, key, value, endpoint, timeout, redirected }: KvOperation): Promise<KvAnswer> {
    const request = { identity: `kv-${process}`, name: key, value: value ?? Buffer.alloc(0) };
    const ended = await proposeFollowing(this.replicas, caller, request, endpoint, timeout, redirected);
    if (!("reply" in ended)) return { error: ended.error, endpoint: ended.replica };
    const { reply } = ended;
    if (reply.success) return { value: reply.value, endpoint: ended.replica };
    return { declined: reply.error || "declined", endpoint: ended.replica };
  }

  close(): void {
    this.replicas.close();
  }
}

export interface KvLoad {
  /** What the clients read and write. */
  store: KvStore;
  /** Clients, each with one operation in flight. */
  concurrency: number;
  /** Keys `k0` … `k<keys-1>`. */
  keys: number;
  /** Fraction of operations that are reads, 0 … 1. */
  reads: number;
  /** Deadline of each call, in milliseconds. */
  timeout: number;
  /**
   * A client answered after a redirect starts its next operations there, as a client of a store with a
   * leader would; otherwise each goes back to its own endpoint (Jepsen's binding, so reads reach followers).
   */
  sticky?: boolean;
  /** Seeds the operations each client chooses (a 32-bit integer: higher bits are ignored). */
  seed: number;
}

/** A pause after an indeterminate operation, so that a replica that is down is not asked in a busy loop. */
const BACKOFF_MS = 10;

/** A written value's bytes: the UTF-8 of its decimal form. */
export function encodeValue(value: number): Buffer {
  return Buffer.from(String(value), "utf8");
}

/** A read value from its bytes: null when empty, a number when decimal, else the text (a value not written by this load). */
export function decodeValue(bytes: Uint8Array): number | string | null {
  if (bytes.length === 0) return null;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  return /^-?(0|[1-9]\d*)$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : text;
}

/**
 * The value client `index` (0-based) writes the `n`th time (0-based): clients take disjoint residues
 * modulo `concurrency`, so values are unique in a run and each client's are fixed by the seed alone.
 */
function writtenValue(index: number, n: number, concurrency: number): number {
  return index + 1 + n * concurrency;
}

/** How an operation ended, and at which endpoint. */
type Outcome =
  { ok: true; value: number | string | null; endpoint: string } | { ok: false; error: string; endpoint: string };

/**
 * Runs the load until `measurement` stops; resolves when every client has completed its last
 * operation, and closes the store.
 */
export async function kvLoad(load: KvLoad, measurement: Measurement, history: History): Promise<void> {
  // One generator per client, each a jump (2^64 draws) from the last: a client's choices do not depend on the others'.
  const generator = xoroshiro128plus(load.seed);
  const clients = Array.from({ length: load.concurrency }, (_, index) => {
    const rng = generator.clone();
    generator.jump();
    return new KvClient(index, rng, load, measurement, history);
  });
  try {
    // Key k<i> is read by client i mod concurrency; nothing is written before every key is read.
    await Promise.all(
      clients.map(async (client, index) => {
        for (let i = index; i < load.keys; i += load.concurrency) await client.readFirst(`k${i}`);
      }),
    );
    await Promise.all(clients.map((client) => client.run()));
  } finally {
    load.store.close();
  }
}

class KvClient {
  /** The process number: the client's index at first, then `concurrency` more after each indeterminate operation. */
  private process: number;
  /** The index in the store's endpoints of the client's own: the next one after each indeterminate operation. */
  private home: number;
  /** The endpoint the next operation starts at: `home`'s, or with `sticky` where the last answer came from. */
  private at: string;
  private writes = 0;

  constructor(
    private readonly index: number,
    private readonly rng: RandomGenerator,
    private readonly load: KvLoad,
    private readonly measurement: Measurement,
    private readonly history: History,
  ) {
    this.process = index;
    this.home = index % load.store.endpoints.length;
    this.at = load.store.endpoints[this.home]!;
  }

  /** Reads `key` until a read is answered (or the run stops), recording what it holds as a write by "initial". */
  async readFirst(key: string): Promise<void> {
    while (!this.measurement.stopped && !(await this.perform(key, null, true))) {
      // An indeterminate read tells nothing: read again.
    }
  }

  async run(): Promise<void> {
    while (!this.measurement.stopped) {
      const read = uniformFloat64(this.rng) < this.load.reads;
      const key = `k${uniformInt(this.rng, 0, this.load.keys - 1)}`;
      await this.perform(key, read ? null : writtenValue(this.index, this.writes++, this.load.concurrency));
    }
  }

  /**
   * Reads `key` (`value` null) or writes `value` to it, recorded in the history; false when it ended
   * indeterminate. A `first` read that finds a value records it as written just before it answered.
   */
  private async perform(key: string, value: number | null, first = false): Promise<boolean> {
    const f = value === null ? "read" : "write";
    const { endpoints } = this.load.store;
    const process = this.process;
    this.history.record({ process, type: "invoke", f, key, value, replica: this.at });
    const outcome = await this.operation(process, key, value === null ? null : encodeValue(value));
    if (outcome.ok) {
      if (first && outcome.value !== null) {
        const held = { process: "initial", f: "write", key, value: outcome.value } as const;
        this.history.record({ ...held, type: "invoke" });
        this.history.record({ ...held, type: "ok" });
      }
      this.history.record({ process, type: "ok", f, key, value: value ?? outcome.value, replica: outcome.endpoint });
      return true;
    }
    this.history.record({ process, type: "info", f, key, value, replica: outcome.endpoint, error: outcome.error });
    this.process += this.load.concurrency;
    // The endpoint may be down or cut off: start the next operations at the next one.
    this.home = (this.home + 1) % endpoints.length;
    this.at = endpoints[this.home]!;
    await sleep(BACKOFF_MS);
    return false;
  }

  /** Asks the store; one answer, timed from the first send to the last. */
  private async operation(process: number, key: string, value: Buffer | null): Promise<Outcome> {
    const start = performance.now();
    const answer = await this.load.store.perform({
      caller: this.index,
      process,
      key,
      value,
      endpoint: this.at,
      timeout: this.load.timeout,
      redirected: () => this.measurement.redirected(),
    });
    if ("error" in answer) {
      this.measurement.failed(`client ${this.index + 1}: ${answer.endpoint}: ${answer.error}`);
      return { ok: false, error: answer.error, endpoint: answer.endpoint };
    }
    if (this.load.sticky) this.at = answer.endpoint;
    const answered = "value" in answer;
    this.measurement.answered(answered ? "success" : "decline", (performance.now() - start) * 1000);
    if (answered) return { ok: true, value: decodeValue(answer.value), endpoint: answer.endpoint };
    // A decline is counted as one already: recorded `info`, not counted again as an error.
    return { ok: false, error: answer.declined, endpoint: answer.endpoint };
  }
}
