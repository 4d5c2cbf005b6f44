// The faults a simulation injects, drawn from a seeded stream: one at a time,
// each small enough that a majority of the replicas stays up and connected,
// so that a correct protocol can always make progress between them.
import type { HistoryEvent } from "./client.js";
import type { Random } from "./random.js";

export const FAULT_KINDS = ["crash", "power", "eio", "full", "partition", "drop", "loss", "delay", "clock"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One fault, with what it acts on. */
export type Fault =
  | { fault: "crash"; /** the replica, restarted over its disk when the fault ends */ value: string }
  /** A power loss: the replica loses what its disk had not synced; it is restarted when the fault ends. */
  | { fault: "power"; value: string }
  /** The replica's next sync fails (EIO): it stops, losing what was not synced, and is restarted when the fault ends. */
  | { fault: "eio"; value: string }
  /** The replica's disk is full (ENOSPC): its next append fails, it stops, and it is restarted when the fault ends. */
  | { fault: "full"; value: string }
  | { fault: "partition"; /** the sides, the majority first, each in replica order */ value: string[][] }
  /** A one-way cut: every message from the first replica to the second is lost, requests and replies alike; the other way works. */
  | { fault: "drop"; value: [string, string] }
  | { fault: "loss"; /** the probability that each message between replicas is lost */ value: number }
  | { fault: "delay"; /** ms added to each message between replicas */ value: number }
  /**
   * The replica's clock runs `rate` times as fast as the others' (its timers
   * fire sooner or later, its now() gains or loses): what is safe must not
   * rest on timing, as a lease or a "no other candidate within a timeout" may.
   */
  | { fault: "clock"; value: [name: string, rate: number] };

/** A fault's start or end, at a virtual time (ms): the fault log, and the history's `nemesis` lines. */
export type FaultEvent = Fault & { time: number; f: "start" | "stop" };

export interface FaultOptions {
  kinds: readonly FaultKind[];
  /** Virtual ms from the end of one fault to the start of the next, drawn in this range (default [100, 400]). */
  interval?: readonly [number, number];
  /** Virtual ms a fault lasts, drawn in this range (default [50, 300]). */
  duration?: readonly [number, number];
  /**
   * The workload goes on past its `operations` until each kind has been
   * injected and healed once, and an operation has failed or ended
   * indeterminate while a fault was on (default false): every run is hurt by
   * them all (assertHurt).
   */
  everyKind?: boolean;
}

/** How fast a drifting clock runs: far off, so that a timing assumption breaks within one fault. */
const CLOCK_RATES = [0.25, 0.5, 2, 4];

/** The least replicas each fault needs, so that the others are a majority that stays up and connected. */
const NEEDS: Record<FaultKind, number> = {
  crash: 3,
  power: 3,
  eio: 3,
  full: 3,
  partition: 3,
  drop: 3,
  loss: 1,
  delay: 1,
  clock: 1,
};

/** Checks that every fault of `options` can leave a majority of `replicas` whole; throws a RangeError otherwise. */
export function checkFaults(options: FaultOptions, replicas: number): void {
  if (options.kinds.length === 0) throw new RangeError("faults: name at least one kind");
  for (const kind of options.kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new RangeError(`faults: unknown kind ${JSON.stringify(kind)} (the kinds are ${FAULT_KINDS.join(", ")})`);
    }
    if (replicas < NEEDS[kind]) {
      throw new RangeError(
        `faults: ${kind} needs at least ${NEEDS[kind]} replicas to leave a majority; there are ${replicas}`,
      );
    }
  }
  for (const [name, range] of [
    ["interval", options.interval],
    ["duration", options.duration],
  ] as const) {
    if (range !== undefined && !(range[0] >= 0 && range[1] >= range[0] && Number.isFinite(range[1]))) {
      throw new RangeError(`faults: ${name} [${range.join(", ")}] is not a range of ms [min, max]`);
    }
  }
}

/**
 * Deals the faults among `kinds` on `replicas` (in order) as from a deck: each
 * kind once, in an order drawn from `random`, before any kind comes again, so
 * that every run of as many faults as kinds meets each of them.
 */
export class FaultDeck {
  private readonly kinds: FaultKind[];
  private hand: FaultKind[] = [];
  private dealt = 0;

  constructor(
    private readonly random: Random,
    kinds: readonly FaultKind[],
    private readonly replicas: readonly string[],
  ) {
    // In a fixed order, so that the order the kinds were given in does not change the run.
    this.kinds = FAULT_KINDS.filter((kind) => kinds.includes(kind));
  }

  /** Whether each kind has been dealt at least once. */
  get everyKind(): boolean {
    return this.dealt >= this.kinds.length;
  }

  next(): Fault {
    if (this.hand.length === 0) this.hand = this.random.shuffle(this.kinds);
    this.dealt++;
    return this.fault(this.hand.pop()!);
  }

  private fault(kind: FaultKind): Fault {
    const { random, replicas } = this;
    switch (kind) {
      case "crash":
      case "power":
      case "eio":
      case "full":
        return { fault: kind, value: random.pick(replicas) };
      case "partition":
        return { fault: kind, value: split(random, replicas) };
      case "drop": {
        const from = random.pick(replicas);
        return { fault: kind, value: [from, random.pick(replicas.filter((name) => name !== from))] };
      }
      case "loss":
        return { fault: kind, value: random.int(1, 5) / 10 };
      case "delay":
        return { fault: kind, value: random.int(2, 20) * 10 };
      case "clock":
        return { fault: kind, value: [random.pick(replicas), random.pick(CLOCK_RATES)] };
    }
  }
}

/** A majority and a minority of one to (n-1)/2 replicas: one isolated, or a larger split. */
function split(random: Random, replicas: readonly string[]): string[][] {
  const size = random.int(1, Math.floor((replicas.length - 1) / 2));
  const minority = new Set(random.shuffle([...replicas.keys()]).slice(0, size));
  return [replicas.filter((_, i) => !minority.has(i)), replicas.filter((_, i) => minority.has(i))];
}

/**
 * Reads a history event by event, in time order: which kinds of fault were
 * injected, and whether an operation failed or ended indeterminate while a
 * fault was on (between its invoke and its completion). The rule assertHurt
 * checks and FaultOptions.everyKind waits for.
 */
export class HurtWatch {
  readonly injected = new Set<string>();
  hurt = false;
  /** Faults on now; when the last one ended; when each client process invoked its operation. */
  private active = 0;
  private lastStop = -Infinity;
  private readonly invoked = new Map<HistoryEvent["process"], number>();

  observe(event: HistoryEvent, time: number): void {
    if (event.process === "nemesis") {
      if (event.f === "start") {
        this.active++;
        this.injected.add(String(event.fault));
      } else {
        this.active--;
        this.lastStop = time;
      }
    } else if (event.type === "invoke") this.invoked.set(event.process, time);
    else if (event.type !== "ok" && (this.active > 0 || this.lastStop >= (this.invoked.get(event.process) ?? time))) {
      this.hurt = true;
    }
  }
}
