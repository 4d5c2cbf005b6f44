// An oracle for the checker's tests: linearizability by brute force, from the
// raw events, for histories of a few operations. It shares nothing with
// src/check on purpose (its own pairing of events, its own store semantics,
// no reductions), so that a mistake there is not made here too.

export type RawEvent = Record<string, unknown>;

interface Op {
  f: string;
  key: unknown;
  argument: unknown;
  /** What an ok read returned. */
  result: unknown;
  type: string;
  invoke: number;
  /** Infinity unless ok: an info operation may take effect at any time after its invoke. */
  complete: number;
}

const REFUSED = Symbol("refused");

/** The store's semantics (SPEC §6), written out plainly: the state after `op`, or REFUSED. */
function apply(state: ReadonlyMap<unknown, unknown>, op: Op): Map<unknown, unknown> | typeof REFUSED {
  const value = state.has(op.key) ? state.get(op.key) : null;
  const after = new Map(state);
  switch (op.f) {
    case "read":
      // An info read returned nothing: any value will do.
      return op.type !== "ok" || value === op.result ? after : REFUSED;
    case "write":
      return after.set(op.key, op.argument);
    case "cas": {
      const [expected, next] = op.argument as [unknown, unknown];
      return value === expected ? after.set(op.key, next) : REFUSED;
    }
    case "append":
      return value === null || typeof value === "string"
        ? after.set(op.key, (value ?? "") + String(op.argument))
        : REFUSED;
    default:
      throw new Error(`unknown f ${String(op.f)}`);
  }
}

/**
 * Whether some order of the operations explains every result: each `ok`
 * operation in it, between its invoke and completion; any `info` one (or one
 * never completed) in it or not, after its invoke; no `fail` one. Tries every
 * such order, so keep histories to about 8 operations.
 */
export function bruteForce(events: readonly RawEvent[]): boolean {
  const ops: Op[] = [];
  const open = new Map<unknown, Op>();
  events.forEach((event, time) => {
    if (event.process === "nemesis") return;
    if (event.type === "invoke") {
      const op: Op = {
        f: String(event.f),
        key: event.key ?? null,
        argument: event.value,
        result: undefined,
        type: "info",
        invoke: time,
        complete: Infinity,
      };
      ops.push(op);
      open.set(event.process, op);
    } else {
      const op = open.get(event.process)!;
      open.delete(event.process);
      op.type = String(event.type);
      if (op.type === "ok") op.complete = time;
      if (op.type === "ok" && op.f === "read") op.result = event.value;
    }
  });
  const candidates = ops.filter((op) => op.type !== "fail");
  const needed = candidates.filter((op) => op.type === "ok").length;
  const placed = candidates.map(() => false);
  /** Dead ends already met: the operations placed and the state. */
  const dead = new Set<string>();
  const search = (state: Map<unknown, unknown>, done: number): boolean => {
    if (done === needed) return true;
    const at = `${placed.map(Number).join("")} ${JSON.stringify([...state])}`;
    if (dead.has(at)) return false;
    for (const [i, op] of candidates.entries()) {
      if (placed[i]) continue;
      // An ok operation that completed before this one was invoked comes first.
      if (candidates.some((other, j) => !placed[j] && other.complete < op.invoke)) continue;
      const after = apply(state, op);
      if (after === REFUSED) continue;
      placed[i] = true;
      const found = search(after, done + (op.type === "ok" ? 1 : 0));
      placed[i] = false;
      if (found) return true;
    }
    dead.add(at);
    return false;
  };
  return search(new Map(), 0);
}
