// The nemesis of `--nemesis`: faults on a schedule drawn from a seed, so that a
// run that broke something can be replayed, and the runner that applies them to
// a cluster and records each one's start and end in the history (SPEC §5, §6).
import { randomInt } from "node:crypto";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { mersenne } from "pure-rand/generator/mersenne";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";
import { UserError } from "../core/errors.js";

export const FAULTS = ["kill", "pause", "partition", "delay"] as const;
export type Fault = (typeof FAULTS)[number];

/** The latencies a delay draws from, in ms per direction of a link. */
const DELAY_MIN = 50;
const DELAY_MAX = 500;
/** The PRNG takes 32 bits of seed. */
const SEED_LIMIT = 2 ** 32;

/** Whether `faults` act on the links between replicas, which then run through proxies (proxy.ts). */
export function cutsLinks(faults: readonly Fault[]): boolean {
  return faults.includes("partition") || faults.includes("delay");
}

/** The faults of `--nemesis kill,partition`, in the order named. */
export function parseFaults(text: string): Fault[] {
  const faults: Fault[] = [];
  for (const name of text.split(",").map((part) => part.trim())) {
    if (!(FAULTS as readonly string[]).includes(name)) {
      throw new UserError(`--nemesis: unknown fault ${JSON.stringify(name)} (the faults are ${FAULTS.join(", ")})`);
    }
    if (faults.includes(name as Fault)) throw new UserError(`--nemesis: ${name} is named twice`);
    faults.push(name as Fault);
  }
  return faults;
}

/** The seed of `--seed 123`. */
export function parseSeed(text: string): number {
  const seed = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!(seed < SEED_LIMIT)) throw new UserError(`--seed ${text}: a seed is an integer from 0 to ${SEED_LIMIT - 1}`);
  return seed;
}

/** A seed for a run given none (printed, so that the run can be replayed). */
export function randomSeed(): number {
  return randomInt(SEED_LIMIT);
}

/** One fault: what it does, and when it starts and ends, in ms from the nemesis's start. */
export type Episode = { start: number; end: number } & (
  | { fault: "kill" | "pause"; /** the replica */ value: string }
  | { fault: "partition"; /** the sides, the larger first, each in replica order */ value: string[][] }
  | { fault: "delay"; /** ms added to each direction of every link */ value: number }
);

export interface ScheduleOptions {
  seed: number;
  faults: readonly Fault[];
  /** The replicas' names, in order. */
  replicas: readonly string[];
  /** Seconds from one fault to the next. */
  interval: number;
}

/**
 * The endless schedule of a seed: one fault per interval, after a first one
 * left whole. Each starts within its interval's first quarter and lasts a
 * quarter to a half of it, so one is active at a time and the cluster is whole
 * at least a quarter of each interval. Kill and pause take one replica, and a
 * partition cuts off a minority (one replica of two), so that a majority is
 * always up and connected. The same seed, set of faults (in any order),
 * replicas and interval give the same schedule.
 */
export function schedule({ seed, faults, replicas, interval }: ScheduleOptions): Generator<Episode, never> {
  if (!Number.isInteger(seed) || seed < 0 || seed >= SEED_LIMIT) {
    throw new UserError(`--seed ${seed}: a seed is an integer from 0 to ${SEED_LIMIT - 1}`);
  }
  if (!(interval > 0 && interval < Infinity)) {
    throw new UserError(`--nemesis-interval ${interval}: the interval is a number of seconds above 0`);
  }
  if (faults.length === 0) throw new Error("a nemesis schedule needs at least one fault");
  if (new Set(replicas).size !== replicas.length) throw new Error("two replicas have the same name");
  const needs = { kill: 3, pause: 3, partition: 2, delay: 1 };
  for (const fault of faults) {
    if (replicas.length < needs[fault]) {
      throw new UserError(
        `--nemesis ${fault} needs at least ${needs[fault]} replicas, so that a majority stays up and connected; there are ${replicas.length}`,
      );
    }
  }
  // In a fixed order, so that the order the faults were named in does not change the schedule.
  const chosen = FAULTS.filter((fault) => faults.includes(fault));
  return episodes(mersenne(seed), chosen, replicas, Math.max(1, Math.round(interval * 1000)));
}

function* episodes(
  rng: RandomGenerator,
  faults: readonly Fault[],
  replicas: readonly string[],
  interval: number,
): Generator<Episode, never> {
  const quarter = Math.max(1, Math.floor(interval / 4));
  for (let i = 1; ; i++) {
    const fault = faults[uniformInt(rng, 0, faults.length - 1)]!;
    const start = i * interval + uniformInt(rng, 0, quarter - 1);
    const end = start + uniformInt(rng, quarter, Math.max(quarter, Math.floor(interval / 2)));
    switch (fault) {
      case "kill":
      case "pause":
        yield { fault, value: replicas[uniformInt(rng, 0, replicas.length - 1)]!, start, end };
        break;
      case "partition":
        yield { fault, value: split(rng, replicas), start, end };
        break;
      case "delay":
        yield { fault, value: uniformInt(rng, DELAY_MIN / 10, DELAY_MAX / 10) * 10, start, end };
        break;
    }
  }
}

/** A majority and a minority of one to (n-1)/2 replicas drawn at random (with two replicas: one and one). */
function split(rng: RandomGenerator, replicas: readonly string[]): string[][] {
  const size = uniformInt(rng, 1, Math.max(1, Math.floor((replicas.length - 1) / 2)));
  // The first `size` steps of a Fisher–Yates shuffle draw the minority.
  const order = [...replicas.keys()];
  for (let i = 0; i < size; i++) {
    const j = uniformInt(rng, i, order.length - 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const minority = new Set(order.slice(0, size));
  return [replicas.filter((_, i) => !minority.has(i)), replicas.filter((_, i) => minority.has(i))];
}

/** What the nemesis acts on: a cluster whose replica-to-replica links run through LinkProxies. */
export interface NemesisTarget {
  /** SIGKILLs the replica and resolves once it has exited. */
  kill(name: string): Promise<void>;
  /** Starts it again, with the same --data, and resolves once it listens. */
  restart(name: string): Promise<void>;
  pause(name: string): void;
  resume(name: string): void;
  partition(sides: string[][]): void;
  heal(): void;
  delay(ms: number): void;
}

/** A history line (SPEC §6) for a fault's start or end. */
export interface NemesisEvent {
  process: "nemesis";
  type: "info";
  f: "start" | "stop";
  fault: Fault;
  value: Episode["value"];
  time: number;
}

export interface NemesisOptions {
  schedule: Iterable<Episode>;
  target: NemesisTarget;
  /**
   * Called with each fault's start, just before it is applied, and its stop,
   * once it is undone (a killed replica listens again), so that the span
   * between them covers whatever the fault did.
   */
  record: (event: NemesisEvent) => void;
  /** The history's clock, in ms; the schedule's times count from start(). */
  now: () => number;
}

/** Runs a schedule against a target with real timers until stop(). */
export class Nemesis {
  /** The first error of a fault or of its undoing, after which the nemesis has stopped; never resolves otherwise. */
  readonly failed: Promise<Error>;
  private fail!: (error: Error) => void;
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;

  constructor(private readonly options: NemesisOptions) {
    this.failed = new Promise((resolve) => (this.fail = resolve));
  }

  start(): void {
    if (this.running !== undefined) throw new Error("the nemesis has already started");
    this.running = this.run(this.options.now()).catch((error: unknown) =>
      this.fail(error instanceof Error ? error : new Error(String(error))),
    );
  }

  /** Ends the active fault, if any (restarts, resumes, heals, removes the delay), and starts no other. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running;
  }

  private async run(origin: number): Promise<void> {
    for (const episode of this.options.schedule) {
      await this.sleepUntil(origin + episode.start);
      if (this.stopping) return;
      this.record("start", episode);
      try {
        await this.begin(episode);
        await this.sleepUntil(origin + episode.end);
      } finally {
        // Also after a fault that failed half-way, so that the cluster is whole again.
        await this.end(episode);
        this.record("stop", episode);
      }
    }
  }

  private record(f: "start" | "stop", { fault, value }: Episode): void {
    this.options.record({ process: "nemesis", type: "info", f, fault, value, time: this.options.now() });
  }

  private async begin(episode: Episode): Promise<void> {
    const { target } = this.options;
    switch (episode.fault) {
      case "kill":
        return target.kill(episode.value);
      case "pause":
        return target.pause(episode.value);
      case "partition":
        return target.partition(episode.value);
      case "delay":
        return target.delay(episode.value);
    }
  }

  private async end(episode: Episode): Promise<void> {
    const { target } = this.options;
    switch (episode.fault) {
      case "kill":
        return target.restart(episode.value);
      case "pause":
        return target.resume(episode.value);
      case "partition":
        return target.heal();
      case "delay":
        return target.delay(0);
    }
  }

  /** Resolves at `time` on the `now` clock, or at once when stop() is called. */
  private sleepUntil(time: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), Math.max(0, time - this.options.now()));
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }
}

const STOPS: Record<Fault, string> = { kill: "restart", pause: "resume", partition: "heal", delay: "remove delay" };

/** The line the cluster prints for an event: `nemesis: partition r1 r2 | r3`, `nemesis: heal r1 r2 | r3`. */
export function describeEvent({ f, fault, value }: NemesisEvent): string {
  const what =
    typeof value === "number"
      ? `${value} ms`
      : typeof value === "string"
        ? value
        : value.map((side) => side.join(" ")).join(" | ");
  return `nemesis: ${f === "start" ? fault : STOPS[fault]} ${what}`;
}
