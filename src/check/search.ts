// The Wing–Gong search for a linearization, with Lowe's cache of configurations
// ("Testing for linearizability", 2017), as Porcupine runs it on each partition.
//
// The calls and returns of the operations form one doubly linked list in time
// order. Going down the list, the search applies the first call whose
// operation the model accepts, lifts that call and its return out of the list,
// and starts again from the head; reaching a return means that operation had
// to take effect already: undo the last choice (relink it, restore the state)
// and try the call after it. The cache holds each (set of operations applied,
// state) reached, so a configuration is explored once: the set is a bitset
// with a Zobrist hash updated in O(1) per step.
//
// An operation whose return is +Infinity (`info`: it may take effect at any
// point after its call, or never) has no return in the list: nothing forces
// it, and the search succeeds once every other operation is applied. At each
// configuration the calls of these optional operations are tried after the
// others, so that an order needing fewer is found first; and only orders of
// the following shape are tried, which loses nothing: any order that explains
// the operations becomes one of that shape by these steps, each of which
// keeps it an order that explains them.
// - Drop an optional operation o that leaves the state as it found it, or is
//   followed by a blind operation b (Model.blind: a write), which takes the
//   state before o as it takes the one after, to the same state: the others
//   see the states they saw, and o had no return to keep anything after it.
//   Each drop shortens the order, so the drops end; then every optional
//   operation applied changes the state, and the one after it, if any, is
//   not blind. So no blind operation is tried right after an optional one,
//   and an optional one is not applied where no other call pending could go
//   next (its configuration would be a dead end: it is cached as one). Which
//   operations may go next then depends on whether the last one applied is
//   optional: that is part of the configuration cached.
// - Of optional operations that do the same in every state (Model.effect),
//   give the places an order has for them to the earliest called, in the
//   order of their calls: the states stay the same. An optional operation
//   may take a place when its call comes before a bound (the first return
//   of an operation not before it) that only grows along the order; the
//   first k places held k operations called before the k-th place's bound,
//   so the k-th earliest call comes before it too. So one of them is
//   applied only once those called before it are.
// The rules below only ever take operations with a return (eager ones and
// the first return's); each is argued over every order, and since the last
// operation applied then has one, an order of that shape follows from where
// they lead by the same steps.
//
// A model may name operations to take eagerly (Model.eager): on reaching a
// configuration, the search first looks for one with a return among the calls
// that may go next and, finding it, applies it and tries nothing else there.
//
// And when none of the calls before the first return would change the state
// (each is refused, or leaves it as it is), only that return's operation r
// is tried there, or nothing. Why: an operation ordered before r took effect
// before r returned, so its call is among those calls; none of them changes
// the state, so r takes effect in this state in every order that goes on
// from here. If the state refuses r, no order does: the search backs up at
// once, rather than after trying every subset of those calls first. If it
// takes r and stays the same, an order that takes those calls before r can
// take r first instead: every state along it is the same. So concurrent
// reads, or appends onto a value nobody reads, are not tried in all orders.
//
// The cache is what grows: on a hard history it would fill any memory. It
// gets a budget of bytes (its tables and the states they number); a search
// that needs more stops with `unknown` and says so, rather than running out.
import { DEFAULT_MEMORY } from "./limits.js";
import { group } from "./markup.js";
import type { Model } from "./model.js";

/** An operation as the search sees it: what the model applies, when it was called and when it returned. */
export interface Timed<Op> {
  op: Op;
  call: number;
  /** Infinity: it may have taken effect at any point after `call`, or never. */
  return: number;
}

/** The search's answer; indexes are into the operations it was given. */
export type Outcome<State> =
  | {
      linearizable: true;
      /** A linearization: the operations in the order they take effect (those left out never did). */
      order: number[];
    }
  | {
      linearizable: false;
      /** The longest order the search found that explains every result in it. */
      longest: number[];
      /** The model's state after it. */
      state: State;
      /** The operations whose call came before `blocked`'s return there: each could go next, none can. */
      pending: number[];
      /** The operation whose return ended that order: it had to take effect, and could not. */
      blocked: number;
    }
  | {
      /** The cache reached its budget before the search decided. */
      linearizable: "unknown";
      /** Why, in words: `search limit reached after 1,234 configurations (256 MB)`. */
      reason: string;
    };

/** Limits of one search. */
export interface SearchLimits {
  /**
   * Bytes the cache of configurations (and of the states they hold) may take,
   * or a budget that several searches share. Default: DEFAULT_MEMORY.
   */
  memory?: number | MemoryBudget;
}

/** Bytes that searches may take together: each takes what it grows by, and gives it all back on release(). */
export class MemoryBudget {
  used = 0;
  constructor(readonly bytes: number) {}
}

/** A Map holds at most 2^24 entries; states numbered past this are refused long before. */
const MAX_STATES = 2 ** 23;
/** What a numbered state is charged besides its characters: its Map entry, about. */
const STATE_BYTES = 64;

const NONE = -1;

export class Search<State, Op> {
  private readonly model: Model<State, Op>;
  private readonly ops: Op[];
  /** List entries are 2i (call of operation i) and 2i+1 (its return); `head` is the sentinel. */
  private readonly head: number;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** Random words, one per operation: the hash of a set is the xor of its members'. */
  private readonly zobrist: Int32Array;
  private readonly optional: Uint8Array;
  /** Each optional operation's predecessor among those that do the same (Model.effect), by call; else NONE. */
  private readonly prior: Int32Array;
  private readonly applied: Int32Array;
  private readonly seen: Configurations;
  /** Each state's number, for hashing and for the cache. */
  private readonly states = new Map<State, number>();

  // The search's position, kept between calls of run().
  private entry: number;
  private state: State;
  private hash = 0;
  private depth = 0;
  /** Operations with a return that are not applied yet. */
  private remaining = 0;
  private readonly stack: Int32Array;
  private readonly before: State[] = [];
  /** Whether the operation at each depth was taken eagerly: its alternatives need no try. */
  private readonly eager: Uint8Array;
  /** Whether the configuration is new: the eager look comes first. */
  private fresh = true;
  /** Whether the calls of optional operations are being tried: they come after the others. */
  private late = false;
  /** The deepest dead end so far (its order is updated in place: see remember()). */
  private best: Extract<Outcome<State>, { linearizable: false }> | undefined;
  /** The lowest the stack has been since best was taken: below it, best's order is the stack's. */
  private low = 0;
  private outcome: Outcome<State> | undefined;

  constructor(operations: readonly Timed<Op>[], model: Model<State, Op>, limits: SearchLimits = {}) {
    const n = operations.length;
    this.model = model;
    this.ops = operations.map(({ op }) => op);
    this.head = 2 * n;
    this.next = new Int32Array(2 * n + 1).fill(NONE);
    this.prev = new Int32Array(2 * n + 1).fill(NONE);
    this.zobrist = new Int32Array(n);
    this.optional = new Uint8Array(n);
    this.prior = new Int32Array(n).fill(NONE);
    this.applied = new Int32Array(Math.ceil(n / 32));
    this.stack = new Int32Array(n);
    this.eager = new Uint8Array(n);
    this.state = model.init();

    const times = new Float64Array(2 * n).fill(Infinity);
    const order: number[] = [];
    const random = splitmix32(0x2545f491);
    operations.forEach((o, i) => {
      this.zobrist[i] = random();
      times[2 * i] = o.call;
      order.push(2 * i);
      if (o.return === Infinity) this.optional[i] = 1;
      else {
        if (!(o.return > o.call))
          throw new Error(`operation ${i} returns at ${o.return}, not after its call at ${o.call}`);
        times[2 * i + 1] = o.return;
        order.push(2 * i + 1);
        this.remaining++;
      }
    });
    // One configuration per operation for the order found, and a few more for each dead end.
    const memory = limits.memory ?? DEFAULT_MEMORY;
    const required = new Int32Array(this.applied.length);
    for (let i = 0; i < n; i++) if (!this.optional[i]) required[i >> 5]! |= 1 << (i & 31);
    this.seen = new Configurations(required, 2 * n, memory instanceof MemoryBudget ? memory : new MemoryBudget(memory));
    if (model.effect) {
      const last = new Map<string, number>();
      const byCall = operations.map((_, i) => i).filter((i) => this.optional[i]);
      byCall.sort((a, b) => operations[a]!.call - operations[b]!.call || a - b);
      for (const i of byCall) {
        const key = model.effect(this.ops[i]!);
        this.prior[i] = last.get(key) ?? NONE;
        last.set(key, i);
      }
    }
    // Equal times: calls first, so that operations that touch at an instant count as concurrent.
    order.sort((a, b) => times[a]! - times[b]! || (a & 1) - (b & 1));
    let last = this.head;
    for (const entry of order) {
      this.next[last] = entry;
      this.prev[entry] = last;
      last = entry;
    }
    this.entry = NONE;
  }

  /** Gives back the memory the search holds; it must not run again. */
  release(): void {
    this.seen.release();
    this.states.clear();
  }

  /** Runs up to `steps` more steps: the outcome once decided, undefined until then. */
  run(steps: number): Outcome<State> | undefined {
    if (this.outcome) return this.outcome;
    const { model, ops, next, prev, zobrist, optional, applied, seen, stack, before, eager, head } = this;
    const blind = model.blind;
    let { entry, state, hash, depth, remaining, fresh, late } = this;
    /** Whether the last operation applied is optional: then no blind one goes next (see Search). */
    let restricted = blind !== undefined && depth > 0 && optional[stack[depth - 1]!] === 1;
    for (; steps > 0; steps--) {
      if (remaining === 0) {
        this.outcome = { linearizable: true, order: Array.from(stack.subarray(0, depth)) };
        return this.outcome;
      }
      let taking = false;
      if (fresh) {
        fresh = false;
        late = false;
        entry = next[head]!;
        // The calls that may go next, up to the first return; whether any of them would change the state.
        let e = entry;
        let still = true;
        for (; e !== NONE && (e & 1) === 0; e = next[e]!) {
          const step = model.step(state, ops[e >> 1]!);
          if (step.ok && !optional[e >> 1] && model.eager?.(state, ops[e >> 1]!)) {
            entry = e;
            taking = true;
            break;
          }
          if (step.ok && step.state !== state) still = false;
        }
        if (!taking && still && e !== NONE) {
          // Only the first return's operation can be next: see Search.
          if (model.step(state, ops[e >> 1]!).ok) {
            entry = e - 1;
            taking = true;
          } else entry = e;
        }
      }
      if (entry !== NONE && (entry & 1) === 0) {
        const i = entry >> 1;
        if (!taking && optional[i] !== (late ? 1 : 0)) {
          entry = next[entry]!;
          continue;
        }
        const step = model.step(state, ops[i]!);
        // Taken by a rule above, or tried unless the shape of orders of optional operations rules it out: see Search.
        if (step.ok && (taking || this.tried(entry, state, step.state, restricted))) {
          const after = (hash ^ zobrist[i]!) | 0;
          applied[i >> 5]! ^= 1 << (i & 31);
          const number = this.number(step.state);
          // The configuration is the set, the state, and whether the operation applied last is optional.
          const flag = blind !== undefined && optional[i] ? 1 : 0;
          const added =
            number === FULL
              ? FULL
              : seen.add(applied, (after ^ Math.imul(2 * number + flag + 1, 0x9e3779b1)) | 0, 2 * number + flag);
          if (added === FULL) {
            this.outcome = { linearizable: "unknown", reason: seen.describe() };
            return this.outcome;
          }
          // An optional operation that nothing pending observes leads to a dead end: it stays in the cache as one.
          if (added === ADDED && (flag === 0 || this.observed(entry, step.state))) {
            eager[depth] = taking ? 1 : 0;
            stack[depth] = i;
            before[depth++] = state;
            state = step.state;
            hash = after;
            restricted = flag === 1;
            if (!optional[i]) remaining--;
            // Lift the call and its return out of the list.
            unlink(next, prev, entry);
            if (!optional[i]) unlink(next, prev, entry + 1);
            fresh = true;
            continue;
          }
          applied[i >> 5]! ^= 1 << (i & 31);
        }
        // An eager operation whose configuration was explored already: so was this one, then.
        entry = taking ? NONE : next[entry]!;
        continue;
      }
      // The calls of optional operations, after the others.
      if (entry !== NONE && !late) {
        late = true;
        entry = next[head]!;
        continue;
      }
      // A return (while operations are left, one of their returns comes before the list ends):
      // its operation had to take effect by now. Undo the last choice.
      // Not right after an optional operation, where blind calls pending went untried: they can go next.
      if (!restricted && (this.best === undefined || depth > this.best.longest.length))
        this.remember(entry, depth, state);
      if (depth === 0) {
        this.outcome = this.best!;
        return this.outcome;
      }
      const i = stack[--depth]!;
      if (depth < this.low) this.low = depth;
      restricted = blind !== undefined && depth > 0 && optional[stack[depth - 1]!] === 1;
      state = before[depth]!;
      hash = (hash ^ zobrist[i]!) | 0;
      applied[i >> 5]! ^= 1 << (i & 31);
      const call = 2 * i;
      // Relink in the reverse order of the lift: the return, then the call.
      if (!optional[i]) {
        remaining++;
        relink(next, prev, call + 1);
      }
      relink(next, prev, call);
      // After an eager operation nothing else is tried: undo the choice before it too.
      entry = eager[depth] ? NONE : next[call]!;
      late = optional[i] === 1;
    }
    Object.assign(this, { entry, state, hash, depth, remaining, fresh, late });
    return undefined;
  }

  /**
   * Whether the operation whose call is `call`, which the model takes from
   * `state` to `after`, is tried there (unless a rule took one: see Search).
   */
  private tried(call: number, state: State, after: State, restricted: boolean): boolean {
    const { model, ops, optional, prior, applied } = this;
    const i = call >> 1;
    if (!optional[i]) return !(restricted && model.blind!(ops[i]!));
    if (after === state) return false;
    const p = prior[i]!;
    if (p !== NONE && (applied[p >> 5]! & (1 << (p & 31))) === 0) return false;
    return true;
  }

  /** Whether some call pending besides `call` may go next in `state` after an optional operation: see Search. */
  private observed(call: number, state: State): boolean {
    const { model, ops, optional, next } = this;
    for (let e = next[this.head]!; e !== NONE && (e & 1) === 0; e = next[e]!) {
      if (e === call) continue;
      const op = ops[e >> 1]!;
      const step = model.step(state, op);
      if (step.ok && (optional[e >> 1] ? step.state !== state : !model.blind!(op))) return true;
    }
    return false;
  }

  /**
   * Takes the dead end at `depth` as the deepest so far: the order that led
   * there, and the calls it could not go on with. The order is copied from
   * `low` up only, so that the copies cost no more than the pushes did.
   */
  private remember(blockedEntry: number, depth: number, state: State): void {
    const pending: number[] = [];
    for (let e = this.next[this.head]!; e !== NONE && (e & 1) === 0; e = this.next[e]!) pending.push(e >> 1);
    const longest = this.best?.longest ?? [];
    longest.length = this.low;
    for (let d = this.low; d < depth; d++) longest.push(this.stack[d]!);
    this.low = depth;
    this.best = { linearizable: false, longest, state, pending, blocked: blockedEntry >> 1 };
  }

  /** The state's number, or FULL when numbering one more would break the budget. */
  private number(state: State): number {
    let n = this.states.get(state);
    if (n !== undefined) return n;
    // A string state (appends) is as big as its characters; the rest are small.
    if (
      this.states.size >= MAX_STATES ||
      !this.seen.charge(STATE_BYTES + (typeof state === "string" ? 2 * state.length : 0))
    )
      return FULL;
    this.states.set(state, (n = this.states.size));
    return n;
  }
}

/** Runs a search to the end, or to its memory limit. */
export function search<State, Op>(
  operations: readonly Timed<Op>[],
  model: Model<State, Op>,
  limits?: SearchLimits,
): Outcome<State> {
  const s = new Search(operations, model, limits);
  for (;;) {
    const outcome = s.run(1 << 20);
    if (outcome) return outcome;
  }
}

/** Configurations.add's answers. */
const SEEN = 0;
const ADDED = 1;
const FULL = -1;

/**
 * A set of configurations (a set of applied operations, and a state's number)
 * in flat typed arrays: an open-addressing table of entry numbers; each
 * entry's hash, state, and where its words are in a shared pool.
 *
 * A set is stored sparse. The operations are numbered in the order of their
 * calls, and a search applies them roughly in that order: the bitset is all
 * ones up to a frontier, a few words of both after it, zeros to the end. So
 * the words up to the first that lacks a required operation (one with a
 * return) are stored xor the required ones (leaving only the optional `info`
 * operations applied, mostly none), the rest as they are, and of all that
 * only the words that are not zero, each with its index. The encoding is a
 * function of the set, so equal sets meet. A configuration of a key with
 * thousands of operations takes tens of bytes, not hundreds.
 *
 * The arrays grow by doubling while the doubled arrays fit in the budget,
 * which the states' numbering draws on too (charge()).
 */
class Configurations {
  private readonly width: number;
  private table: Int32Array;
  private hashes: Int32Array;
  private states: Int32Array;
  /** Each entry's first word in the pool, and its number of words (pairs of index and word). */
  private offsets: Int32Array;
  private lengths: Int32Array;
  private pool: Int32Array;
  private pooled = 0;
  /** The encoding of the set being added. */
  private readonly scratch: Int32Array;
  private size = 0;
  /** Bytes taken from the budget: the arrays, and what charge() took. */
  private held = 0;

  /** `required`: the bitset of the operations that have a return. Room for `expected` configurations at first, within the budget. */
  constructor(
    private readonly required: Int32Array,
    expected: number,
    private readonly budget: MemoryBudget,
  ) {
    this.width = required.length;
    this.scratch = new Int32Array(2 * required.length);
    const entry = 4 * 4 + 8 + 4 * 4;
    const left = budget.bytes - budget.used;
    const capacity =
      2 **
      Math.max(4, Math.floor(Math.log2(Math.min(2 ** Math.ceil(Math.log2(Math.max(512, expected))), left / entry))));
    this.table = new Int32Array(2 * capacity);
    this.hashes = new Int32Array(capacity);
    this.states = new Int32Array(capacity);
    this.offsets = new Int32Array(capacity);
    this.lengths = new Int32Array(capacity);
    this.pool = new Int32Array(4 * capacity);
    // Taken even past the budget, which is then full: a few hundred bytes at most.
    this.held = capacity * entry;
    budget.used += this.held;
  }

  /** Adds the configuration unless it is there: SEEN, ADDED, or FULL when there is no room for it. */
  add(bits: Int32Array, hash: number, state: number): typeof SEEN | typeof ADDED | typeof FULL {
    const { required, scratch, width } = this;
    let length = 0;
    let below = true;
    for (let w = 0; w < width; w++) {
      let word = bits[w]!;
      if (below) {
        if ((word & required[w]!) === required[w]) word ^= required[w]!;
        else below = false;
      }
      if (word !== 0) {
        scratch[length++] = w;
        scratch[length++] = word;
      }
    }
    const { table, hashes, states, offsets, lengths, pool } = this;
    const mask = table.length - 1;
    let slot = hash & mask;
    for (let e = table[slot]! - 1; e >= 0; e = table[slot]! - 1) {
      if (
        hashes[e] === hash &&
        states[e] === state &&
        lengths[e] === length &&
        same(pool, offsets[e]!, scratch, length)
      )
        return SEEN;
      slot = (slot + 1) & mask;
    }
    if (this.size === hashes.length && !this.growEntries()) return FULL;
    if (this.pooled + length > this.pool.length && !this.growPool(length)) return FULL;
    // The table stays at most half full, so that probes stay short.
    if ((this.size + 1) * 2 > table.length) {
      if (!this.growTable()) return FULL;
      return this.add(bits, hash, state);
    }
    const e = this.size++;
    this.hashes[e] = hash;
    this.states[e] = state;
    this.offsets[e] = this.pooled;
    this.lengths[e] = length;
    this.pool.set(scratch.subarray(0, length), this.pooled);
    this.pooled += length;
    table[slot] = e + 1;
    return ADDED;
  }

  /** Takes `bytes` from the budget: whether they fitted. */
  charge(bytes: number): boolean {
    if (this.budget.used + bytes > this.budget.bytes) return false;
    this.budget.used += bytes;
    this.held += bytes;
    return true;
  }

  release(): void {
    this.budget.used -= this.held;
    this.held = 0;
    this.table = this.hashes = this.states = this.offsets = this.lengths = new Int32Array(0);
    this.pool = new Int32Array(0);
  }

  /** Why the set is full: `search limit reached after 1,234 configurations (256 MB)`. */
  describe(): string {
    return `search limit reached after ${group(String(this.size))} configurations (${group(String(Math.round(this.budget.bytes / 2 ** 20)))} MB)`;
  }

  private growEntries(): boolean {
    // Doubling adds as many bytes as the entries take now.
    if (!this.charge(4 * this.hashes.byteLength)) return false;
    this.hashes = doubled(this.hashes);
    this.states = doubled(this.states);
    this.offsets = doubled(this.offsets);
    this.lengths = doubled(this.lengths);
    return true;
  }

  private growPool(room: number): boolean {
    const bigger = new Int32Array(Math.max(2 * this.pool.length, this.pooled + room));
    if (!this.charge(bigger.byteLength - this.pool.byteLength)) return false;
    bigger.set(this.pool.subarray(0, this.pooled));
    this.pool = bigger;
    return true;
  }

  private growTable(): boolean {
    if (!this.charge(this.table.byteLength)) return false;
    const table = new Int32Array(this.table.length * 2);
    const mask = table.length - 1;
    for (let e = 0; e < this.size; e++) {
      let slot = this.hashes[e]! & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = e + 1;
    }
    this.table = table;
    return true;
  }
}

/** Takes `entry` out of the list; it keeps its own links, so that relink() can put it back. */
function unlink(next: Int32Array, prev: Int32Array, entry: number): void {
  next[prev[entry]!] = next[entry]!;
  if (next[entry] !== NONE) prev[next[entry]!] = prev[entry]!;
}

function relink(next: Int32Array, prev: Int32Array, entry: number): void {
  next[prev[entry]!] = entry;
  if (next[entry] !== NONE) prev[next[entry]!] = entry;
}

function doubled(array: Int32Array): Int32Array {
  const bigger = new Int32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

function same(pool: Int32Array, offset: number, words: Int32Array, length: number): boolean {
  for (let k = 0; k < length; k++) if (pool[offset + k] !== words[k]) return false;
  return true;
}

/** A deterministic stream of 32-bit words (splitmix32), so that runs are repeatable. */
function splitmix32(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) | 0;
  };
}
