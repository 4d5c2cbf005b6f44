// Virtual time for simulations: a Clock whose timers wait in a queue instead
// of on the system, and the scheduler that runs them. Time jumps from one
// timer to the next; between two timers every promise callback they caused
// runs to completion, so with no real I/O a run depends on nothing but its
// inputs, and hours of protocol time take milliseconds.
import type { Clock, Timer } from "../clock.js";

/** 2025-01-01T00:00:00Z in nanoseconds: the wall time at virtual time 0, the same in every run. */
export const EPOCH_NS = 1_735_689_600_000_000_000n;

interface Entry {
  at: number;
  /** Insertion order: timers due at the same time fire in the order they were set. */
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/** Lets every callback already queued on promises (and whatever those queue) run. */
function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class VirtualClock implements Clock {
  private time = 0;
  private seq = 0;
  /** A binary min-heap on (at, seq). */
  private readonly heap: Entry[] = [];

  constructor(private readonly epoch: bigint = EPOCH_NS) {}

  /** Virtual milliseconds since the clock was made. */
  now(): number {
    return this.time;
  }

  epochNs(): bigint {
    return this.epoch + BigInt(Math.round(this.time * 1e6));
  }

  setTimeout(callback: () => void, ms: number): Timer {
    if (Number.isNaN(ms)) throw new RangeError("a timer needs a number of milliseconds, not NaN");
    const entry: Entry = { at: this.time + Math.max(0, ms), seq: this.seq++, callback, cancelled: false };
    this.push(entry);
    return { cancel: () => void (entry.cancelled = true) };
  }

  /** A Clock on this one whose timers can all be cancelled at once: a simulated process's, which die with it. */
  scope(): ClockScope {
    return new ClockScope(this);
  }

  /** When the next timer is due, or undefined when none is pending. */
  next(): number | undefined {
    this.prune();
    return this.heap[0]?.at;
  }

  /**
   * Fires timers in order, each followed by all it causes, until `done()`
   * holds (checked before each timer). Resolves with false, leaving the time
   * at `limit`, when the next timer is due later than `limit`; rejects when
   * nothing is pending and `done()` does not hold, as nothing could change it.
   */
  async until(done: () => boolean, limit = Infinity): Promise<boolean> {
    await drain();
    while (!done()) {
      const next = this.next();
      if (next === undefined) {
        throw new Error(`the simulation is stuck at ${this.time} ms: nothing is scheduled and it is not done`);
      }
      if (next > limit) {
        this.time = Math.max(this.time, limit);
        return false;
      }
      const entry = this.pop()!;
      this.time = entry.at;
      entry.callback();
      await drain();
    }
    return true;
  }

  /** Runs every timer due within `ms` from now, then sets the time to now + `ms`. */
  async advance(ms: number): Promise<void> {
    const end = this.time + Math.max(0, ms);
    await this.until(() => (this.next() ?? Infinity) > end);
    this.time = end;
  }

  /** Runs timers until `promise` settles, and resolves or rejects as it does (rejects too if it cannot settle). */
  async settle<T>(promise: Promise<T>, limit = Infinity): Promise<T> {
    let settled = false;
    const watched = promise.finally(() => void (settled = true));
    // Before any timer fires: a rejection is handled here, not reported as unhandled meanwhile.
    watched.catch(() => undefined);
    if (!(await this.until(() => settled, limit))) {
      throw new Error(`the simulation reached its limit of ${limit} ms before the awaited operation settled`);
    }
    return watched;
  }

  private prune(): void {
    while (this.heap[0]?.cancelled) this.pop();
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Entry | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || last === undefined) return top;
    heap[0] = last;
    for (let i = 0; ;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && before(heap[left]!, heap[least]!)) least = left;
      if (right < heap.length && before(heap[right]!, heap[least]!)) least = right;
      if (least === i) return top;
      [heap[i], heap[least]] = [heap[least]!, heap[i]!];
      i = least;
    }
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * The clock of one simulated process: cancel() stops its timers, and any it
 * would set afterwards; drift() makes it run faster or slower than the
 * simulation's.
 */
export class ClockScope implements Clock {
  private readonly timers = new Set<Timer>();
  private cancelled = false;
  private rate = 1;
  /** This clock's time when its rate last changed, and the simulation's then. */
  private base: number;
  private anchor: number;

  constructor(private readonly clock: Clock) {
    this.base = this.anchor = clock.now();
  }

  now(): number {
    return this.base + (this.clock.now() - this.anchor) * this.rate;
  }

  epochNs(): bigint {
    return this.clock.epochNs() + BigInt(Math.round((this.now() - this.clock.now()) * 1e6));
  }

  /**
   * From now on, runs `rate` times as fast as the simulation's clock: now()
   * goes on from where it is, and a timer set afterwards for `ms` fires after
   * ms / rate of the simulation's. Timers already set keep their time.
   */
  drift(rate: number): void {
    if (!(rate > 0 && Number.isFinite(rate))) throw new RangeError(`a clock's rate is a positive number, not ${rate}`);
    this.base = this.now();
    this.anchor = this.clock.now();
    this.rate = rate;
  }

  setTimeout(callback: () => void, ms: number): Timer {
    if (this.cancelled) return { cancel() {} };
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      callback();
    }, ms / this.rate);
    this.timers.add(timer);
    return {
      cancel: () => {
        timer.cancel();
        this.timers.delete(timer);
      },
    };
  }

  /** Cancels every pending timer; later ones are never set. */
  cancel(): void {
    this.cancelled = true;
    for (const timer of this.timers) timer.cancel();
    this.timers.clear();
  }

  /** How many of its timers are pending. */
  get pending(): number {
    return this.timers.size;
  }
}
