// Latency distribution of a bench run, kept in an HdrHistogram: constant
// memory and 3 significant digits at any count, so p99.9 and max are exact
// to 0.1 % however long the run.
import { build, type Histogram } from "hdr-histogram-js";
import type { Latency } from "./results.js";

/** The longest latency recorded, in microseconds (an hour); longer ones count as this. */
const MAX = 3_600_000_000;
/** Tails of the percentile plot within a decade: 1 − p = 1, 0.5, 0.25, then 0.1, 0.05, 0.025 … */
const TAILS = [1, 0.5, 0.25];

export class LatencyHistogram {
  private readonly histogram: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX,
    numberOfSignificantValueDigits: 3,
  });

  /** Records one latency, in microseconds. */
  record(microseconds: number): void {
    this.histogram.recordValue(Math.min(MAX, Math.max(1, Math.round(microseconds))));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /** The value at `percentile` (0–100), in microseconds; 0 when empty. */
  at(percentile: number): number {
    return this.count === 0 ? 0 : this.histogram.getValueAtPercentile(percentile);
  }

  latency(): Latency {
    if (this.count === 0) return { min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    return {
      min: this.histogram.minNonZeroValue,
      mean: Math.round(this.histogram.mean * 10) / 10,
      p50: this.at(50),
      p90: this.at(90),
      p99: this.at(99),
      p999: this.at(99.9),
      max: this.at(100),
    };
  }

  /**
   * [percentile, microseconds] pairs for a percentile plot: 0, 50, 75, 90,
   * 95, 97.5, 99, 99.5 … (three per decade of 1/(1 − p)) while at least one
   * answer lies beyond, then the maximum at 100.
   */
  percentiles(): [number, number][] {
    if (this.count === 0) return [];
    const points: [number, number][] = [];
    for (let decade = 0; ; decade++) {
      const tails = TAILS.map((tail) => tail / 10 ** decade).filter((tail) => tail * this.count >= 1);
      for (const tail of tails) {
        const percentile = Number((100 - 100 * tail).toPrecision(12));
        points.push([percentile, this.at(percentile)]);
      }
      if (tails.length < TAILS.length) break;
    }
    points.push([100, this.at(100)]);
    return points;
  }
}
