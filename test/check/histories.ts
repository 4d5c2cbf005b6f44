// Histories made by running a sequential key-value store under random
// concurrency: each step, a random process invokes an operation, or the store
// applies its pending one (the moment it takes effect), or it completes. So
// every history made here is linearizable, and the changes below make ones
// that are not. The checker's tests and benchmark share them.

export type Event = Record<string, unknown>;

export interface Shape {
  processes: number;
  keys: number;
  operations: number;
  /** The fraction of operations that end `info` (half of those take effect). */
  info: number;
  seed: number;
  /** The operations to draw from, with weights. */
  mix?: Partial<Record<"read" | "write" | "cas" | "append", number>>;
  /**
   * The fraction of writes, cas and appends that write a value written before
   * (on any key) rather than a new one: a checker must not take a value for
   * the one operation that wrote it. Default 0.
   */
  duplicates?: number;
}

/** A linearizable history of `shape`: events in order (a `time` is added when `timed`). */
export function generate(shape: Shape, timed = false): Event[] {
  const random = mulberry32(shape.seed);
  const mix = Object.entries(shape.mix ?? { read: 5, write: 4, cas: 1 });
  // With appends, every value is a string (as in Porcupine's kv histories): appending to a number is undefined.
  const strings = mix.some(([f, weight]) => f === "append" && weight > 0);
  const made = (n: number) => (strings ? `${n} ` : n);
  const total = mix.reduce((sum, [, weight]) => sum + weight, 0);
  const store = new Map<string, unknown>();
  const events: Event[] = [];
  let written = 0;
  /** Every value written so far, for duplicates. */
  const values: unknown[] = [];
  /** A value to write: one written before (a `duplicates` share of the time, strings for appends), else a new one. */
  const fresh = (make: (n: number) => unknown) => {
    const kind = typeof make(0);
    // Of the last few: a value still around, that reads see and a cas may expect.
    const earlier = values.filter((value) => kind !== "string" || typeof value === "string").slice(-4);
    const value =
      earlier.length > 0 && random() < (shape.duplicates ?? 0)
        ? earlier[Math.floor(random() * earlier.length)]
        : make(++written);
    values.push(value);
    return value;
  };
  let invoked = 0;
  let nextProcess = shape.processes;
  interface Pending {
    f: string;
    key: string;
    value: unknown;
    result?: unknown;
    applied: boolean;
    swapped?: boolean;
    info: boolean;
  }
  const slots: { process: number; pending?: Pending }[] = Array.from({ length: shape.processes }, (_, process) => ({
    process,
  }));
  const record = (event: Event) => events.push(timed ? { ...event, time: events.length * 1000 + 17 } : event);

  while (invoked < shape.operations) {
    const slot = slots[Math.floor(random() * slots.length)]!;
    const op = slot.pending;
    if (!op) {
      let pick = random() * total;
      const f = mix.find(([, weight]) => (pick -= weight) < 0)?.[0] ?? mix[0]![0];
      const key = `k${Math.floor(random() * shape.keys)}`;
      const current = store.get(key) ?? null;
      const value =
        f === "read"
          ? null
          : f === "write"
            ? fresh(made)
            : f === "cas"
              ? [random() < 0.5 ? current : made(Math.max(0, written - Math.floor(random() * 3))), fresh(made)]
              : fresh((n) => `${n} `);
      record({ process: slot.process, type: "invoke", f, key, value });
      slot.pending = { f, key, value, applied: false, info: random() < shape.info };
      invoked++;
    } else if (!op.applied && !(op.info && random() < 0.5)) {
      const current = store.get(op.key) ?? null;
      if (op.f === "read") op.result = current;
      else if (op.f === "write") store.set(op.key, op.value);
      else if (op.f === "append") store.set(op.key, `${current ?? ""}${op.value as string}`);
      else {
        const [expected, next] = op.value as [unknown, unknown];
        op.swapped = expected === current;
        if (op.swapped) store.set(op.key, next);
      }
      op.applied = true;
    } else {
      const type = op.info ? "info" : op.f === "cas" && !op.swapped ? "fail" : "ok";
      const value = op.f === "read" ? (type === "ok" ? op.result : null) : op.value;
      record({ process: slot.process, type, f: op.f, key: op.key, value });
      slot.pending = undefined;
      // Jepsen's rule: a process whose operation is indeterminate never issues again.
      if (op.info) slot.process = nextProcess++;
    }
  }
  // Operations still open are never completed: `info`, whether they took effect or not.
  return events;
}

export function jsonLines(events: readonly Event[]): string {
  return events.map((event) => JSON.stringify(event)).join("\n") + "\n";
}

interface Op {
  invoke: number;
  complete?: number;
}

/** The operations of `events`: each invoke's index and its completion's. */
function operations(events: readonly Event[]): Op[] {
  const open = new Map<unknown, Op>();
  const ops: Op[] = [];
  events.forEach((event, i) => {
    if (event.type === "invoke") {
      const op = { invoke: i };
      ops.push(op);
      open.set(event.process, op);
    } else {
      open.get(event.process)!.complete = i;
      open.delete(event.process);
    }
  });
  return ops;
}

/** The `ok` read nearest the middle of `events` (the first after it, else the last before it) that `accept`s. */
function readNearMiddle(events: readonly Event[], accept: (op: Op) => boolean): Op | undefined {
  const reads = operations(events).filter(
    (op) => op.complete !== undefined && events[op.complete]!.type === "ok" && events[op.invoke]!.f === "read",
  );
  const after = reads.filter((op) => op.complete! >= events.length / 2);
  const before = reads.filter((op) => op.complete! < events.length / 2).reverse();
  return [...after, ...before].find(accept);
}

/** `events` with the result of the `ok` read nearest the middle changed to a value never written. */
export function neverWrittenRead(events: readonly Event[]): { events: Event[]; index: number } {
  const read = readNearMiddle(events, () => true);
  if (!read) throw new Error("no ok read in the history");
  const changed = events.slice();
  changed[read.complete!] = { ...events[read.complete!], value: "never written" };
  return { events: changed, index: read.complete! };
}

/**
 * `events` with one `ok` read near the middle returning a stale value: one
 * written by a write that completed before another write of that key, which
 * completed before the read was invoked, and by no other operation of the key.
 */
export function staleRead(events: readonly Event[]): { events: Event[]; index: number } {
  const writes = operations(events).filter(
    (op) => op.complete !== undefined && events[op.complete]!.type === "ok" && events[op.invoke]!.f === "write",
  );
  let stale: unknown;
  const read = readNearMiddle(events, (r) => {
    const key = events[r.invoke]!.key;
    const ofKey = writes.filter((w) => events[w.invoke]!.key === key);
    const later = ofKey.findLast((w) => w.complete! < r.invoke);
    const earlier = later && ofKey.findLast((w) => w.complete! < later.invoke);
    stale = earlier && events[earlier.invoke]!.value;
    // A value written again (a duplicate) could be read from its other write.
    const writers = events.filter((e) => e.type === "invoke" && e.key === key && written(e) === stale);
    return earlier !== undefined && writers.length === 1;
  });
  if (!read) throw new Error("no read of the history has a stale value to return");
  const changed = events.slice();
  changed[read.complete!] = { ...events[read.complete!], value: stale };
  return { events: changed, index: read.complete! };
}

/** The value an invoke writes, if it writes one. */
function written(invoke: Event): unknown {
  return invoke.f === "write" || invoke.f === "append"
    ? invoke.value
    : invoke.f === "cas"
      ? (invoke.value as unknown[])[1]
      : undefined;
}

/**
 * A history that is hard for any search: `n` concurrent writes of 0…n-1, a
 * read of each value, and a read of a value none wrote, all concurrent. Every
 * subset of the writes is an order to rule out. 2n+1 operations, no keys.
 */
export function hard(n: number): Event[] {
  const all = Array.from({ length: n }, (_, i) => i);
  const invoke = (process: number, f: string, value: unknown = null) => ({ process, type: "invoke", f, value });
  const ok = (process: number, f: string, value: unknown) => ({ process, type: "ok", f, value });
  return [
    ...all.map((i) => invoke(i, "write", i)),
    ...all.map((i) => invoke(n + i, "read")),
    invoke(2 * n, "read"),
    ...all.map((i) => ok(i, "write", i)),
    ...all.map((i) => ok(n + i, "read", i)),
    ok(2 * n, "read", "nobody's"),
  ];
}

/** A small, fast, seeded generator of floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
