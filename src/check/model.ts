// Sequential specifications as plain values, in Porcupine's style: a start
// state and a step function. The search knows nothing else about a model.
import type { Key, Operation, Scalar } from "./history.js";
import type { Timed } from "./search.js";

/** One step of a model: whether the operation, with its result, can happen in the state; and the state after it. */
export interface Step<State> {
  ok: boolean;
  state: State;
}

/**
 * A sequential specification. States are compared with `===` (and hashed by
 * value), so a model whose state is not a primitive encodes it as one.
 */
export interface Model<State, Op> {
  init(): State;
  step(state: State, op: Op): Step<State>;
  /**
   * Optional: whether `op`, which `step` accepts in `state`, may be taken at
   * once, the search trying no other operation there. Only when any order
   * that takes it later can take it now instead: a read, which changes
   * nothing, for one.
   */
  eager?(state: State, op: Op): boolean;
}

/**
 * One key of SPEC §6's store: never written is `null`; `append` adds to a
 * string (to "" when never written). A read must return the value; a cas
 * compares by value and, taking effect, always swaps: one that found another
 * value had no effect, which is what leaving it out of an order means.
 */
export const register: Model<Scalar, Operation> = {
  init: () => null,
  step(state, op) {
    switch (op.f) {
      case "read":
        // A read that may not have happened returned nothing to explain.
        return { ok: op.type === "info" || op.value === state, state };
      case "write":
        return { ok: true, state: op.value };
      case "cas":
        return op.value[0] === state ? { ok: true, state: op.value[1] } : { ok: false, state };
      case "append":
        // Appending to a number or a boolean is not defined: no order may do it.
        return state === null || typeof state === "string"
          ? { ok: true, state: (state ?? "") + op.value }
          : { ok: false, state };
    }
  },
  eager: (_, op) => op.f === "read",
};

/** The operations of each key, keys in order of first appearance: keys are independent, so each is checked alone. */
export function byKey<Op extends { key: Key }>(operations: Iterable<Op>): Map<Key, Op[]> {
  const keys = new Map<Key, Op[]>();
  for (const op of operations) {
    const list = keys.get(op.key);
    if (list) list.push(op);
    else keys.set(op.key, [op]);
  }
  return keys;
}

/** The state of a key holding a value that nothing reads or expects: which one does not matter. */
export const UNSEEN = Symbol("a value nothing reads");

/** One key's operations, and the model to search them with. */
export interface Prepared {
  operations: Timed<Operation>[];
  model: Model<Scalar | typeof UNSEEN, Operation>;
}

/**
 * Readies one key's operations for the search. An `ok` operation takes effect
 * between its invoke and completion, an `info` one at any point after its
 * invoke or never, a `fail` one never. What the values show is used first,
 * since each `info` operation left open doubles the orders to try:
 * - an `info` read returned nothing to explain: left out;
 * - an `info` write or cas whose new value nothing reads or expects (and no
 *   append could carry on) is left out: in an order, nothing would see it
 *   before a write replaced it, so the order without it explains as much;
 * - likewise an `info` append whose string no read or expected value contains;
 * - an `info` write or cas that alone writes a value that an `ok` operation
 *   read or expected must take effect before the first such one returns.
 *
 * A key of only appends and reads never loses what was appended: every state
 * the search reaches must stay on the way to (or past) the longest string read,
 * or that read can never be explained; the model refuses other appends, so
 * that the orders of concurrent appends are not all tried.
 *
 * Without appends, the model holds every value nothing reads or expects as
 * one state, UNSEEN, and lets the search take at once (trying nothing else
 * there) a read that fits, and a write of such a value onto such a value:
 * any order taking it later can take it now instead, so concurrent writes
 * that nobody reads are not tried in every combination.
 */
export function prepare(all: readonly Operation[]): Prepared {
  const operations = all.filter((op) => op.type !== "fail");
  const appends = operations.some((op) => op.f === "append");
  /** Values some operation read or expected, and when the first `ok` one of each returned. */
  const seen = new Map<Scalar, number>();
  /** How many operations write each value. */
  const writers = new Map<Scalar, number>();
  for (const op of operations) {
    if (op.f === "read" && op.type === "ok") see(seen, op.value, op.complete!.index);
    if (op.f === "cas") see(seen, op.value[0], op.type === "ok" ? op.complete!.index : Infinity);
    const written = op.f === "write" ? op.value : op.f === "cas" ? op.value[1] : undefined;
    if (written !== undefined) writers.set(written, (writers.get(written) ?? 0) + 1);
  }
  const strings = [...seen.keys()].filter((value) => typeof value === "string");
  const timed: Timed<Operation>[] = [];
  for (const op of operations) {
    const call = op.invoke.index;
    if (op.type === "ok") {
      timed.push({ op, call, return: op.complete!.index });
      continue;
    }
    if (op.f === "read") continue;
    if (op.f === "append") {
      // Appending "" still turns a never-written key into "".
      if (op.value === "" || strings.some((value) => value.includes(op.value)))
        timed.push({ op, call, return: Infinity });
      continue;
    }
    const written = op.f === "write" ? op.value : op.value[1];
    const firstSeen = seen.get(written);
    if (firstSeen === undefined && !appends) continue;
    const only = writers.get(written) === 1 && written !== null && !appends;
    // Just before that return: after every call that came before it.
    timed.push({ op, call, return: only && firstSeen! > call && firstSeen! < Infinity ? firstSeen! - 0.5 : Infinity });
  }
  if (!appends) return { operations: timed, model: collapsed(seen) };
  const growing = operations.every((op) => op.f === "append" || op.f === "read");
  const longest = strings.reduce<string | undefined>(
    (a, b) => (a === undefined || b.length > a.length ? b : a),
    undefined,
  );
  return { operations: timed, model: growing && longest !== undefined ? towards(longest) : register };
}

/** The register, for a key of appends and reads only, taking no append that strays from `longest`. */
function towards(longest: string): Model<Scalar, Operation> {
  return {
    init: register.init,
    step(state, op) {
      const step = register.step(state, op);
      if (op.f !== "append" || !step.ok) return step;
      // A state only grows: once off the way to `longest`, no order can read it any more.
      const next = step.state as string;
      return longest.startsWith(next) || next.startsWith(longest) ? step : { ok: false, state };
    },
    eager: register.eager,
  };
}

function see(seen: Map<Scalar, number>, value: Scalar, returned: number): void {
  seen.set(value, Math.min(seen.get(value) ?? Infinity, returned));
}

/** The register (without appends) with the values nothing in `seen` held as UNSEEN. */
function collapsed(seen: ReadonlyMap<Scalar, unknown>): Model<Scalar | typeof UNSEEN, Operation> {
  const state = (value: Scalar) => (seen.has(value) ? value : UNSEEN);
  return {
    init: () => state(null),
    step(current, op) {
      switch (op.f) {
        case "read":
          return { ok: op.type === "info" || op.value === current, state: current };
        case "write":
          return { ok: true, state: state(op.value) };
        case "cas":
          return op.value[0] === current ? { ok: true, state: state(op.value[1]) } : { ok: false, state: current };
        case "append":
          throw new Error("appends are searched with the plain register");
      }
    },
    eager: (current, op) => op.f === "read" || (op.f === "write" && current === UNSEEN && state(op.value) === UNSEEN),
  };
}
