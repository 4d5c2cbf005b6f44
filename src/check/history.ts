// A history (SPEC §6): JSON lines in real-time order, one event per line, in
// Jepsen's shape. Parsing pairs each invoke with its process's next event into
// an operation and keeps the lines and event positions, so that a verdict can
// point back into the file.
import { jsonLines } from "./json-lines.js";

/** A JSON scalar: what a key holds and what a read returns. */
export type Scalar = string | number | boolean | null;

/** A key of the store; `null` for events without one, which act on a single register. */
export type Key = string | number | null;

/** Where an event is: its place among the history's events, its line, its `time` if it carries one. */
export interface EventRef {
  /** 0-based, in history order: the checker's clock. */
  index: number;
  /** 1-based line of the text (or position in an array of events). */
  line: number;
  time?: number;
}

interface OperationBase {
  /** Its place in History.operations, which is invoke order. */
  id: number;
  process: number | string;
  key: Key;
  /** ok: took effect, with its result; fail: certainly did not; info: may have, at any moment after its invoke. */
  type: "ok" | "fail" | "info";
  invoke: EventRef;
  /** Its completion; absent when the history ends before it (which counts as `info`). */
  complete?: EventRef;
}

/**
 * A client operation: an invoke and its completion. `value` is what a write
 * writes, `[expected, new]` for a cas, the string an append adds, and for a
 * read what it returned (`null` unless the read is `ok`).
 */
export type Operation = OperationBase &
  (
    | { f: "read"; value: Scalar }
    | { f: "write"; value: Scalar }
    | { f: "cas"; value: readonly [Scalar, Scalar] }
    | { f: "append"; value: string }
  );

/** A `"process": "nemesis"` event: a fault's `start` or `stop`, ignored by the checker and shaded in drawings. */
export interface NemesisEvent extends EventRef {
  f: string;
  fault?: string;
  value?: unknown;
}

export interface History {
  /** Every operation, `fail` ones included (the checker leaves them out), in invoke order. */
  operations: Operation[];
  nemesis: NemesisEvent[];
  /** How many events (client and nemesis) the history holds. */
  events: number;
  /** Whether every event carries a numeric `time`, so that a drawing can use it. */
  timed: boolean;
}

/** Input that is not a history: `line` names the event, `reason` says what is wrong in one line. */
export class HistoryError extends Error {
  override readonly name = "HistoryError";
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

const TYPES = new Set(["invoke", "ok", "fail", "info"]);
const FUNCTIONS = new Set(["read", "write", "cas", "append"]);

/**
 * Reads a history: JSON-lines text (blank lines skipped) or events already
 * parsed. Throws a HistoryError at the first event that is not one.
 */
export function parseHistory(input: string | readonly unknown[]): History {
  const parser = new Parser();
  if (typeof input !== "string") {
    input.forEach((event, i) => parser.add(event, i + 1));
    return parser.finish();
  }
  for (const { line, value } of jsonLines(input, (line) => new HistoryError(line, "not JSON"))) {
    parser.add(value, line);
  }
  return parser.finish();
}

class Parser {
  private readonly operations: Operation[] = [];
  private readonly nemesis: NemesisEvent[] = [];
  /** The operation each process has invoked and not completed. */
  private readonly open = new Map<number | string, Operation>();
  private events = 0;
  private timed = true;

  add(event: unknown, line: number): void {
    const fail = (reason: string) => new HistoryError(line, reason);
    if (typeof event !== "object" || event === null || Array.isArray(event)) throw fail("not a JSON object");
    const fields = event as Record<string, unknown>;
    const { process, type, f, time } = fields;
    // Counted now: an event that is not one ends the parse anyway.
    const at: EventRef = { index: this.events++, line };
    if (typeof time === "number") at.time = time;
    else this.timed = false;

    if (process === "nemesis") {
      const { fault, value } = fields;
      this.nemesis.push({
        ...at,
        f: typeof f === "string" ? f : "",
        ...(typeof fault === "string" && { fault }),
        value,
      });
      return;
    }
    if (process === undefined) throw fail("no process");
    if (typeof process !== "number" && typeof process !== "string") {
      throw fail(`process ${show(process)} is not a number or a string`);
    }
    if (type === undefined) throw fail("no type");
    if (typeof type !== "string" || !TYPES.has(type))
      throw fail(`unknown type ${show(type)}: invoke, ok, fail or info`);
    if (f === undefined) throw fail("no f");
    if (typeof f !== "string" || !FUNCTIONS.has(f)) throw fail(`unknown f ${show(f)}: read, write, cas or append`);
    const key = fields.key ?? null;
    if (typeof key !== "string" && typeof key !== "number" && key !== null) {
      throw fail(`key ${show(key)} is not a string or a number`);
    }
    const open = this.open.get(process);

    if (type === "invoke") {
      if (open) throw fail(`invoke while process ${show(process)} has one open since line ${open.invoke.line}`);
      const operation = {
        id: this.operations.length,
        process,
        key,
        // Until its completion says otherwise: an operation never completed is `info`.
        type: "info",
        invoke: at,
        f,
        value: invokeValue(f, fields.value, fail),
      } as Operation;
      this.operations.push(operation);
      this.open.set(process, operation);
      return;
    }

    if (!open) throw fail(`${type} with no open invoke of process ${show(process)}`);
    if (f !== open.f) throw fail(`f ${show(f)} differs from its invoke's ${show(open.f)} (line ${open.invoke.line})`);
    if (key !== open.key) {
      throw fail(`key ${showKey(key)} differs from its invoke's ${showKey(open.key)} (line ${open.invoke.line})`);
    }
    if (open.f === "read" && type === "ok") {
      const { value } = fields;
      if (value === undefined) throw fail("an ok read has no value");
      if (!isScalar(value)) throw fail(`a read's value ${show(value)} is not a JSON scalar`);
      open.value = value;
    }
    open.type = type as Operation["type"];
    open.complete = at;
    this.open.delete(process);
  }

  finish(): History {
    return { operations: this.operations, nemesis: this.nemesis, events: this.events, timed: this.timed };
  }
}

/** The value an invoke of `f` carries, checked; a read's is its result, unknown until it completes. */
function invokeValue(f: string, value: unknown, fail: (reason: string) => HistoryError): Operation["value"] {
  if (f === "read") return null;
  if (value === undefined) throw fail(`${f === "append" ? "an" : "a"} ${f} has no value`);
  switch (f) {
    case "write":
      if (!isScalar(value)) throw fail(`a write's value ${show(value)} is not a JSON scalar`);
      return value;
    case "cas":
      if (!Array.isArray(value) || value.length !== 2 || !isScalar(value[0]) || !isScalar(value[1])) {
        throw fail(`a cas value ${show(value)} is not a pair [expected, new] of JSON scalars`);
      }
      return [value[0], value[1]];
    default:
      if (typeof value !== "string") throw fail(`an append's value ${show(value)} is not a string`);
      return value;
  }
}

function isScalar(value: unknown): value is Scalar {
  return value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

/** A value as it appears in the file, shortened so that an error stays one line. */
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/** A key as errors and verdicts name it: `"x"`, `7`, or `none` for the single register. */
export function showKey(key: Key): string {
  return key === null ? "none" : show(key);
}
