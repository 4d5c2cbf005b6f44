// `consensus check <file>…`: the linearizability checker (SPEC §6) on history
// files. Reads them, checks them, draws one with --html; the terminal is the
// CLI's business.
import path from "node:path";
import { type CheckResult, checkHistory, type History, type Operation, renderHistory } from "../check/index.js";
import { subject } from "../check/witness.js";
import { UserError } from "../core/errors.js";
import { count } from "../workbench/format.js";
import { readHistory } from "../workbench/history.js";
import { refuseOverwrite, writePage } from "./page-file.js";

/** A flag the checker cannot take. SPEC §6 gives bad input exit code 2 (a bad file: HistoryFileError). */
export class CheckInputError extends UserError {
  readonly exitCode = 2;
}

export interface CheckOptions {
  files: string[];
  /** Milliseconds of search per file, after which its undecided keys are `unknown`. */
  timeout?: number;
  /** Bytes the searches of a file's keys may cache together, past which a key is `unknown` (default: the library's, 256 MiB). */
  memory?: number;
  /** Whether a history without operations is accepted (as linearizable) rather than refused as bad input. */
  allowEmpty?: boolean;
  /** Where to draw the history, when one file is checked. */
  html?: string;
  /** Whether --html may replace a file that is there. */
  force?: boolean;
  signal?: AbortSignal;
}

export interface FileCheck {
  file: string;
  history: History;
  result: CheckResult;
  /** Milliseconds the check took (parsing left out). */
  ms: number;
}

/** Checks each file, in order; every file is read and parsed before any search starts. */
export async function check(options: CheckOptions): Promise<FileCheck[]> {
  if (options.html !== undefined && options.files.length !== 1) {
    throw new CheckInputError(`--html draws one history; ${options.files.length} files were given`);
  }
  const fail = (message: string) => new CheckInputError(message);
  if (options.html !== undefined) await refuseOverwrite(options.html, options.force, fail);
  // In order, so that of several bad files the first named is the one reported.
  const histories: { file: string; history: History }[] = [];
  for (const file of options.files) {
    const history = await readHistory(file);
    // Most often a run that recorded nothing, or the wrong file: "linearizable" would hide it.
    if (history.operations.length === 0 && !options.allowEmpty) {
      throw new CheckInputError(`${file}: empty history (no operations): give --allow-empty to accept it`);
    }
    histories.push({ file, history });
  }
  const checks: FileCheck[] = [];
  for (const { file, history } of histories) {
    const started = performance.now();
    const result = await checkHistory(history, {
      timeout: options.timeout,
      memory: options.memory,
      signal: options.signal,
    });
    checks.push({ file, history, result, ms: performance.now() - started });
  }
  if (options.html !== undefined) {
    const [{ file, history, result }] = checks as [FileCheck];
    await writePage(options.html, renderHistory(history, result, path.basename(file)), options.force, fail);
  }
  return checks;
}

/** Milliseconds in a --timeout: `10` or `10s` (seconds), `500ms`, `2m`, `1h`; up to a day. */
export function parseTimeout(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
  const ms = match ? Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? "s"]! : NaN;
  if (!(ms >= 1 && ms <= 86_400_000)) {
    throw new CheckInputError(
      `--timeout ${JSON.stringify(value)} is not a duration from 1ms to 24h (10, 10s, 500ms, 2m)`,
    );
  }
  return ms;
}

/** 0 when every file is linearizable, 1 when some file is not, else 3 (some is unknown). */
export function exitCode(checks: readonly FileCheck[]): 0 | 1 | 3 {
  const verdicts = new Set(checks.map((c) => c.result.verdict));
  return verdicts.has("not linearizable") ? 1 : verdicts.has("unknown") ? 3 : 0;
}

/**
 * `h.jsonl: linearizable (1,234 operations, 8 keys, 12 ms)`, with how many keys are
 * undecided when unknown (undecided() names them); `h.jsonl: empty history, accepted
 * by --allow-empty` for a history without operations.
 */
export function summary({ file, history, result, ms }: FileCheck): string {
  if (history.operations.length === 0) return `${file}: empty history, accepted by --allow-empty`;
  const keys = result.keys.length;
  const undecided = result.keys.filter((k) => k.verdict === "unknown").length;
  const figures = [
    plural(result.operations, "operation"),
    plural(keys, "key"),
    ...(undecided > 0 ? [`${count(undecided)} undecided`] : []),
    `${count(ms)} ms`,
  ];
  return `${file}: ${result.verdict} (${figures.join(", ")})`;
}

/** A line per undecided key: `unknown: key "x" (1,234 operations) undecided after 10 s`. */
export function undecided({ result }: FileCheck): string[] {
  return result.keys
    .filter((k) => k.verdict === "unknown")
    .map((k) => `unknown: ${subject(k.key)} (${plural(k.operations, "operation")}) ${k.reason ?? "undecided"}`);
}

/** What --json prints for a file: one line, operations by their lines rather than event positions. */
export function toJSON({ file, history, result, ms }: FileCheck): object {
  return {
    file,
    verdict: result.verdict,
    ...(history.operations.length === 0 && { empty: true }),
    operations: result.operations,
    keys: result.keys,
    violations: result.violations.map((v) => ({
      key: v.key,
      message: v.message,
      value: v.value,
      linearized: v.linearized.length,
      operations: v.operations.map(operationJSON),
    })),
    ms: Math.round(ms),
  };
}

function operationJSON(op: Operation): object {
  const lines = op.complete ? [op.invoke.line, op.complete.line] : [op.invoke.line];
  return { process: op.process, type: op.type, f: op.f, key: op.key, value: op.value, lines };
}

function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? "" : "s"}`;
}
