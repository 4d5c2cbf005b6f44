// What a bench run counts and when: answers after the warm-up, for a
// duration or up to a number of requests; errors at any time, since an error
// during the warm-up or while draining is still an error.
import { nowNs, rfc3339 } from "./clock.js";
import { LatencyHistogram } from "./histogram.js";
import type { ClientRecord } from "./results.js";

/** How a request was answered in the end (a redirect is followed, not an answer). */
export type Answer = "success" | "decline";

export interface MeasurementOptions {
  /** Seconds of load before counting starts. */
  warmup: number;
  /** Seconds counted (ignored when `requests` is set). */
  duration: number;
  /** Answers counted, then stop; 0: count for `duration`. */
  requests: number;
  /** Seconds per point of the timeline. */
  interval: number;
  /** Milliseconds a request may take; with no answer at all for twice this, the run gives up. */
  timeout: number;
}

export class Measurement {
  successes = 0;
  declines = 0;
  redirects = 0;
  errors = 0;
  firstError: string | undefined;
  readonly histogram = new LatencyHistogram();
  /** Answers counted in each interval of the timeline. */
  private readonly counts: number[] = [];
  /** Set once the counted part is over: load generators stop sending and drain. */
  stopped = false;
  private counting = false;
  private startedNs = 0n;
  private finishedNs = 0n;
  // The monotonic clock for durations: the wall clock's may jump (src/clock.ts re-anchors).
  private startedMono = 0;
  private finishedMono = 0;
  private lastAnswerAt = 0;
  private readonly intervalMs: number;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly onStop: (() => void)[] = [];

  constructor(private readonly options: MeasurementOptions) {
    this.intervalMs = options.interval * 1000;
  }

  /** Starts the warm-up; counting starts after it, and stops after the duration or the requests. */
  start(): void {
    if (this.stopped) return;
    this.lastAnswerAt = performance.now();
    // Against replicas that answer nothing (gone, or failing every call) a run would not end by itself.
    const stall = 2 * this.options.timeout;
    const watchdog = setInterval(() => {
      if (performance.now() - this.lastAnswerAt <= stall) return;
      this.failed(`no answer for ${stall} ms: the run gives up`);
      this.stop();
    }, stall / 4);
    this.timers.push(watchdog);
    const count = () => {
      this.counting = true;
      this.startedNs = nowNs();
      this.startedMono = performance.now();
      if (this.options.requests === 0) this.timers.push(setTimeout(() => this.stop(), this.options.duration * 1000));
    };
    if (this.options.warmup > 0) this.timers.push(setTimeout(count, this.options.warmup * 1000));
    else count();
  }

  /** Calls `listener` once the counted part is over (at once if it is). */
  whenStopped(listener: () => void): void {
    if (this.stopped) listener();
    else this.onStop.push(listener);
  }

  /** Records an answer that took `microseconds` (ignored outside the counted part). */
  answered(answer: Answer, microseconds: number): void {
    const now = performance.now();
    this.lastAnswerAt = now;
    if (!this.counting) return;
    if (answer === "success") this.successes++;
    else this.declines++;
    this.histogram.record(microseconds);
    const slot = Math.floor((now - this.startedMono) / this.intervalMs);
    while (this.counts.length <= slot) this.counts.push(0);
    this.counts[slot]!++;
    if (this.options.requests > 0 && this.answers >= this.options.requests) this.stop();
  }

  /** Records a redirect followed (counted, but not an answer: the request goes on elsewhere). */
  redirected(): void {
    // Not an answer to the watchdog either: replicas that only redirect, endlessly, are stalled.
    if (this.counting) this.redirects++;
  }

  /** Records an error; the first message is kept. */
  failed(message: string): void {
    this.errors++;
    this.firstError ??= message;
  }

  /** Ends the counted part (also when every load generator has given up). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    if (this.counting) {
      this.counting = false;
      this.finishedNs = nowNs();
      this.finishedMono = performance.now();
    } else {
      this.startedNs = this.finishedNs = nowNs();
      this.startedMono = this.finishedMono = performance.now();
    }
    for (const listener of this.onStop.splice(0)) listener();
  }

  /** Answers counted so far. */
  get answers(): number {
    return this.successes + this.declines;
  }

  /** Seconds from the start of the counted part to `mono` (a performance.now() reading): negative in the warm-up. */
  secondsAt(mono: number): number {
    return (mono - this.startedMono) / 1000;
  }

  /** Seconds counted. */
  get duration(): number {
    return (this.finishedMono - this.startedMono) / 1000;
  }

  /** The figures of the record, from `started` to `percentiles`. */
  figures(): Omit<ClientRecord, "metric" | "version" | "time" | "run" | "bench" | "flags" | "targets"> {
    const duration = this.duration;
    // The last slot is partial (the run stopped inside it): keep only whole ones.
    const whole = Math.floor((duration * 1000) / this.intervalMs + 1e-9);
    return {
      started: rfc3339(this.startedNs),
      finished: rfc3339(this.finishedNs),
      duration,
      requests: this.answers,
      throughput: duration > 0 ? this.answers / duration : 0,
      successes: this.successes,
      declines: this.declines,
      redirects: this.redirects,
      errors: this.errors,
      ...(this.firstError === undefined ? {} : { error: this.firstError }),
      latency: this.histogram.latency(),
      timeline: {
        interval: this.options.interval,
        counts: Array.from({ length: Math.max(whole, 0) }, (_, i) => this.counts[i] ?? 0),
      },
      percentiles: this.histogram.percentiles(),
    };
  }
}
