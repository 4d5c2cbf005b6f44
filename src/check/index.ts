/**
 * The linearizability checker of `consensus check` (SPEC §6), as a library:
 * `import { checkHistory } from "create-consensus/check"`.
 *
 * ```ts
 * const result = await checkHistory(await readFile("history.jsonl", "utf8"), { timeout: 10_000 });
 * if (result.verdict === "not linearizable") for (const v of result.violations) console.log(v.message);
 * ```
 *
 * Keys are independent, so each is searched alone (P-compositionality), with
 * the Wing–Gong–Lowe search that Porcupine runs. Nothing here does I/O.
 *
 * @module
 */
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { type History, type Key, parseHistory } from "./history.js";
import { byKey, prepare } from "./model.js";
import { Search } from "./search.js";
import { subject, type Violation, violation } from "./witness.js";

export { HistoryError, parseHistory } from "./history.js";
export type { EventRef, History, Key, NemesisEvent, Operation, Scalar } from "./history.js";
export { byKey, prepare, register, type Model, type Prepared, type Step } from "./model.js";
export { DEFAULT_MEMORY } from "./limits.js";
export { search, Search, type Outcome, type SearchLimits, type Timed } from "./search.js";
export { describeOperation, type Violation } from "./witness.js";
export { renderHistory } from "./html.js";

/** `unknown`: the time or the memory allowed ran out before the search decided. */
export type Verdict = "linearizable" | "not linearizable" | "unknown";

export interface CheckOptions {
  /** Milliseconds of searching after which undecided keys are `unknown`. Default: no limit. */
  timeout?: number;
  /**
   * Bytes one key's search may cache (keys are searched one at a time); a key
   * whose search needs more is `unknown`. Default: DEFAULT_MEMORY (256 MiB).
   */
  memory?: number;
  /** Aborting it stops the check, which rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** One key's verdict. */
export interface KeyResult {
  /** `null` for operations without a key (a single register). */
  key: Key;
  verdict: Verdict;
  /** The operations checked on it. */
  operations: number;
  /** Why an `unknown` key is: `search limit reached after …`, `timed out after 2 s`, `not searched: key "y" is not linearizable`. */
  reason?: string;
}

export interface CheckResult {
  /** `not linearizable` if some key is, else `unknown` if some key is, else `linearizable`. */
  verdict: Verdict;
  /** The operations checked: `ok` and `info` ones (a `fail` did not happen). */
  operations: number;
  /** Each key's verdict, keys in order of first appearance. */
  keys: KeyResult[];
  /** For the key found not linearizable, what cannot be ordered (the search stops at the first such key). */
  violations: Violation[];
}

/** Search steps between two looks at the clock and the signal (about a millisecond). */
const CHUNK = 20_000;

/**
 * Decides whether some order of the history's operations, consistent with
 * real time, explains every result: per SPEC §6, `ok` operations took effect
 * between their invoke and completion, `info` ones (and those never completed)
 * at any point after their invoke or never, `fail` ones never.
 *
 * @param history JSON-lines text, events already parsed, or a parsed History.
 * @throws HistoryError (from parsing) naming the line of the first bad event.
 */
export async function checkHistory(
  history: string | readonly unknown[] | History,
  options: CheckOptions = {},
): Promise<CheckResult> {
  const { operations } = isParsed(history) ? history : parseHistory(history);
  const deadline = performance.now() + (options.timeout ?? Infinity);
  options.signal?.throwIfAborted();

  const checked = operations.filter((op) => op.type !== "fail");
  const partitions = [...byKey(checked)];
  const keys = partitions.map(([key, ops]): KeyResult => ({ key, verdict: "unknown", operations: ops.length }));
  /** Indexed as `keys`, so that the list below keeps their order. */
  const found: Violation[] = [];
  // Smallest first: when time runs out, as many keys as can be are decided.
  const order = keys.map((_, i) => i).sort((a, b) => keys[a]!.operations - keys[b]!.operations);
  for (const i of order) {
    const [key, ops] = partitions[i]!;
    const result = keys[i]!;
    // One refuted key decides the history (SPEC §6): the rest need not be searched.
    if (performance.now() >= deadline || found.some((v) => v !== undefined)) break;
    const { operations: timed, model } = prepare(ops);
    const search = new Search(timed, model, { memory: options.memory });
    for (;;) {
      const outcome = search.run(CHUNK);
      if (outcome?.linearizable === true) result.verdict = "linearizable";
      else if (outcome?.linearizable === false) {
        result.verdict = "not linearizable";
        const searched = timed.map(({ op }) => op);
        found[i] = violation(key, searched, outcome);
      } else if (outcome) result.reason = outcome.reason;
      else if (performance.now() >= deadline) result.reason = `timed out after ${seconds(options.timeout!)}`;
      if (outcome || result.reason) break;
      // Let timers and signals (Ctrl-C) in.
      await yieldToEventLoop();
      options.signal?.throwIfAborted();
    }
  }
  const refuted = found.find((v) => v !== undefined);
  const unsearched = refuted
    ? `not searched: ${subject(refuted.key)} is not linearizable`
    : "not searched before the timeout";
  for (const k of keys) if (k.verdict === "unknown") k.reason ??= unsearched;
  const verdict: Verdict = keys.some((k) => k.verdict === "not linearizable")
    ? "not linearizable"
    : keys.some((k) => k.verdict === "unknown")
      ? "unknown"
      : "linearizable";
  return { verdict, operations: checked.length, keys, violations: found.filter((v) => v !== undefined) };
}

/** `2 s`, `0.15 s`: two significant figures are enough to say how long was allowed. */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toPrecision(2))} s`;
}

function isParsed(history: string | readonly unknown[] | History): history is History {
  return typeof history === "object" && !Array.isArray(history);
}
