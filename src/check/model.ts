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
  /**
   * Optional: whether `op` is blind: `step` accepts it in every state and
   * leaves the same state after each (a write). Right after an operation that
   * may never have happened, the search tries no blind one (see Search).
   */
  blind?(op: Op): boolean;
  /**
   * Optional: what `op` does, as a key: operations with equal keys are
   * accepted in the same states and leave the same state after each. Of the
   * operations that may never have happened, the search applies those that
   * do the same in the order of their calls (see Search).
   */
  effect?(op: Op): string;
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
  blind: (op) => op.f === "write",
  effect: (op) => `${op.f} ${op.f === "read" ? op.type : ""} ${JSON.stringify(op.value)}`,
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

/** One key's operations, and the model to search them with. */
export interface Prepared {
  operations: Timed<Operation>[];
  /** States are numbers that stand for values (see `numbered`). */
  model: Model<number, Operation>;
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
 * - an `info` append whose string no read or expected value contains is left
 *   out: in an order taking it, every state from it to the next write contains
 *   that string, so no read or cas there succeeds, only appends (which take
 *   any string, and "" for null, as well as they took it plus that string)
 *   and the next write, which forgets it; without it the order explains as much;
 * - an `info` write or cas that alone writes a value that an `ok` operation
 *   read or expected must take effect before the first such one returns.
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
  return { operations: timed, model: numbered(operations, seen.keys()) };
}

function see(seen: Map<Scalar, number>, value: Scalar, returned: number): void {
  seen.set(value, Math.min(seen.get(value) ?? Infinity, returned));
}

/** A value that nothing reads or expects and that no append can turn into one: which one does not matter. */
const UNSEEN = 0;
/** A string that is no prefix of any string read or expected: appends keep it so, only a write leaves it. */
const UNSEEN_STRING = 1;
const NULL = 2;

/**
 * The register of SPEC §6 over numbered states, for one key's operations:
 * each value read or expected has a number of its own, and the values no
 * operation can tell apart share one. So states are compared and hashed as
 * small integers, and the orders that differ only in values nobody sees meet
 * in the cache.
 *
 * Values nothing reads or expects are UNSEEN: from such a state no read and
 * no cas succeeds until a write replaces it (and, without appends, nothing
 * else changes it), so which of them it is cannot matter.
 *
 * With appends, strings are the nodes of a trie of the strings read or
 * expected: appending walks down it, and a string that falls off it is a
 * prefix of none of them, so none of them can be read until a write replaces
 * it (appending only lengthens it): UNSEEN_STRING. Appending to it, or to a
 * non-string, is what it was: the first stays UNSEEN_STRING, the second is
 * refused (appending to a number is not defined).
 *
 * Eager steps (the search tries nothing else where one fits):
 * - a read that fits: it changes nothing, so any order taking it later can
 *   take it now instead;
 * - without appends, a write of an UNSEEN value onto UNSEEN: an order taking
 *   it later leaves UNSEEN there, from which only a write goes on, so that
 *   order with the write moved here explains as much;
 * - on a key of only appends and reads, an append onto UNSEEN_STRING: no
 *   operation leaves that state, so taking it now or later leaves the same.
 *
 * And on a key of only appends and reads, whose value only grows, every state
 * an order passes must be a prefix of the longest string read, or start with
 * it, or that read could never be explained: appends that lead elsewhere are
 * refused, so that the orders of concurrent appends are not all tried.
 */
function numbered(operations: readonly Operation[], seen: Iterable<Scalar>): Model<number, Operation> {
  const appends = operations.some((op) => op.f === "append");
  const growing = operations.every((op) => op.f === "append" || op.f === "read");
  // Null is where a key starts, and appends take it for "": with appends it has a number of its own.
  const scalars = new Map<Scalar, number>(appends ? [[null, NULL]] : []);
  let states = NULL + 1;
  const strings: string[] = [];
  for (const value of seen) {
    if (appends && typeof value === "string") strings.push(value);
    else if (!scalars.has(value)) scalars.set(value, states++);
  }
  /** Trie edges: node * 65536 + UTF-16 code unit → child. Nodes are numbered from `root` on, after the other values. */
  const edges = new Map<number, number>();
  const root = states++;
  /** Where walking `text` from `node` ends: a node, or (when it falls off) the last node reached, negated less one. */
  const walk = (node: number, text: string, insert = false): number => {
    for (let i = 0; i < text.length; i++) {
      const edge = node * 65536 + text.charCodeAt(i);
      let child = edges.get(edge);
      if (child === undefined) {
        if (!insert) return -node - 1;
        edges.set(edge, (child = states++));
      }
      node = child;
    }
    return node;
  };
  for (const value of strings) walk(root, value, true);
  const longest = strings.reduce((a, b) => (b.length > a.length ? b : a), "");
  /** The nodes on the way to the longest string, and where it ends. */
  const way = new Set<number>([root]);
  let end = root;
  for (let i = 0; i < longest.length; i++) way.add((end = walk(end, longest[i]!)));

  const state = (value: Scalar): number => {
    if (appends && typeof value === "string") {
      const node = walk(root, value);
      return node < 0 ? UNSEEN_STRING : node;
    }
    return scalars.get(value) ?? UNSEEN;
  };
  // Each operation's values, numbered once; each append, its place in `operations`.
  const numbers = new Map<Operation, number | readonly [number, number]>();
  for (const op of operations) {
    if (op.f === "cas") numbers.set(op, [state(op.value[0]), state(op.value[1])]);
    else numbers.set(op, op.f === "append" ? numbers.size : state(op.value));
  }
  /**
   * The state after appending, by state and append, so that a walk is paid
   * once; emptied when it reaches a million entries, to stay small.
   */
  const appended = new Map<number, number>();
  const append = (current: number, op: Extract<Operation, { f: "append" }>): number => {
    if (current === UNSEEN_STRING) return UNSEEN_STRING;
    if (current !== NULL && current < root) return -1;
    const memo = current * operations.length + (numbers.get(op) as number);
    let next = appended.get(memo);
    if (next === undefined) {
      next = walk(current === NULL ? root : current, op.value);
      if (next < 0) next = growing && -next - 1 !== end ? -1 : UNSEEN_STRING;
      else if (growing && !way.has(next)) next = -1;
      if (appended.size >= 2 ** 20) appended.clear();
      appended.set(memo, next);
    }
    return next;
  };
  return {
    init: () => state(null),
    step(current, op) {
      switch (op.f) {
        case "read":
          return { ok: op.type === "info" || numbers.get(op) === current, state: current };
        case "write":
          return { ok: true, state: numbers.get(op) as number };
        case "cas": {
          const [expected, next] = numbers.get(op) as readonly [number, number];
          return expected === current ? { ok: true, state: next } : { ok: false, state: current };
        }
        case "append": {
          const next = append(current, op);
          return next < 0 ? { ok: false, state: current } : { ok: true, state: next };
        }
      }
    },
    eager: (current, op) =>
      op.f === "read" ||
      (!appends && op.f === "write" && current === UNSEEN && numbers.get(op) === UNSEEN) ||
      (growing && op.f === "append" && current === UNSEEN_STRING),
    blind: (op) => op.f === "write",
    effect: (op) => {
      if (op.f === "append") return `append ${JSON.stringify(op.value)}`;
      if (op.f === "read" && op.type !== "ok") return "read";
      return `${op.f} ${String(numbers.get(op))}`;
    },
  };
}
