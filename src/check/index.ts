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
import { type History, type Key, type Operation, parseHistory } from "./history.js";
import { DEFAULT_MEMORY } from "./limits.js";
import { byKey, prepare } from "./model.js";
import { MemoryBudget, Search } from "./search.js";
import { subject, type Violation, violation } from "./witness.js";

export { HistoryError, parseHistory } from "./history.js";
export type { EventRef, History, Key, NemesisEvent, Operation, Scalar } from "./history.js";
export { byKey, prepare, register, type Model, type Prepared, type Step } from "./model.js";
export { DEFAULT_MEMORY } from "./limits.js";
export { MemoryBudget, search, Search, type Outcome, type SearchLimits, type Timed } from "./search.js";
export { describeOperation, type Violation } from "./witness.js";
export { renderHistory } from "./html.js";
export { parseTrace, TraceError, type TraceMessage } from "./trace.js";
export { renderMessages } from "./messages.js";
export { messageFields, TRACE_LIMIT, TraceRecorder } from "./recorder.js";

/** `unknown`: the time or the memory allowed ran out before the search decided. */
export type Verdict = "linearizable" | "not linearizable" | "unknown";

export interface CheckOptions {
  /** Milliseconds of searching after which undecided keys are `unknown`. Default: no limit. */
  timeout?: number;
  /**
   * Bytes the searches of the keys may cache together; a key whose search
   * needs more than is left is `unknown`. Default: DEFAULT_MEMORY (256 MiB).
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
  /** Why an `unknown` key is: `undecided: search limit reached after …`, `undecided after 2 s`, `left undecided: key "y" is not linearizable`. */
  reason?: string;
}

export interface CheckResult {
  /** `not linearizable` if some key is, else `unknown` if some key is, else `linearizable`. */
  verdict: Verdict;
  /** The operations checked: `ok` and `info` ones (a `fail` did not happen). */
  operations: number;
  /** Each key's verdict, keys in order of first appearance. */
  keys: KeyResult[];
  /** For the key found not linearizable, what cannot be ordered (the check stops at the first such key). */
  violations: Violation[];
}

/** Search steps a key gets in its turn: about a millisecond. */
const CHUNK = 20_000;

/**
 * Decides whether some order of the history's operations, consistent with
 * real time, explains every result: per SPEC §6, `ok` operations took effect
 * between their invoke and completion, `info` ones (and those never completed)
 * at any point after their invoke or never, `fail` ones never.
 *
 * The keys are searched in turns of CHUNK steps each, so that a key that is
 * quick to refute ends the check even when another key's search is long; the
 * first key refuted decides the history. Their caches share one budget
 * (`memory`), and a key decided gives its share back.
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
  const budget = new MemoryBudget(options.memory ?? DEFAULT_MEMORY);
  const keys: KeyResult[] = [];
  const searching: { result: KeyResult; searched: Operation[]; search: Search<number, Operation> }[] = [];
  for (const [key, ops] of byKey(checked)) {
    const result: KeyResult = { key, verdict: "unknown", operations: ops.length };
    keys.push(result);
    const { operations: timed, model } = prepare(ops);
    searching.push({
      result,
      searched: timed.map(({ op }) => op),
      search: new Search(timed, model, { memory: budget }),
    });
  }
  // Smallest first: they are the likeliest to be decided in their first turn.
  searching.sort((a, b) => a.result.operations - b.result.operations);
  let refuted: Violation | undefined;
  let late = false;
  while (searching.length > 0 && refuted === undefined && !late) {
    for (let i = 0; i < searching.length && refuted === undefined; i++) {
      if ((late = performance.now() >= deadline)) break;
      const { result, searched, search } = searching[i]!;
      const outcome = search.run(CHUNK);
      if (outcome === undefined) continue;
      if (outcome.linearizable === true) result.verdict = "linearizable";
      else if (outcome.linearizable === false) {
        result.verdict = "not linearizable";
        refuted = violation(result.key, searched, outcome);
      } else result.reason = `undecided: ${outcome.reason}`;
      search.release();
      searching.splice(i--, 1);
    }
    // Let timers and signals (Ctrl-C) in.
    await yieldToEventLoop();
    options.signal?.throwIfAborted();
  }
  const left = refuted
    ? `left undecided: ${subject(refuted.key)} is not linearizable`
    : `undecided after ${seconds(options.timeout ?? 0)}`;
  for (const k of keys) if (k.verdict === "unknown") k.reason ??= left;
  const verdict: Verdict = refuted
    ? "not linearizable"
    : keys.some((k) => k.verdict === "unknown")
      ? "unknown"
      : "linearizable";
  return { verdict, operations: checked.length, keys, violations: refuted ? [refuted] : [] };
}

/** `2 s`, `0.15 s`: two significant figures are enough to say how long was allowed. */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toPrecision(2))} s`;
}

function isParsed(history: string | readonly unknown[] | History): history is History {
  return typeof history === "object" && !Array.isArray(history);
}
