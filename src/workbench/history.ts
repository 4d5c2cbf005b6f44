// A history (SPEC §6): one JSON event per line, in the order events happen.
// Lines are buffered and written in batches (everything recorded during one
// turn of the event loop, or while the previous write was in flight), so a
// load recording two events per operation costs one write per batch, not two
// syscalls per operation. Read back (by `consensus check` and the report) with
// readHistory.
import { type FileHandle, open, readFile } from "node:fs/promises";
import { type History as ParsedHistory, HistoryError, parseHistory } from "../check/history.js";
import { UserError } from "../core/errors.js";

/** A history file that cannot be read or is not a history: bad input, which `consensus check` exits 2 for. */
export class HistoryFileError extends UserError {
  readonly exitCode = 2;

  constructor(
    message: string,
    /** The file is not there (a report then draws its run without it). */
    readonly missing = false,
  ) {
    super(message);
  }
}

/** The history in `file`, parsed; a HistoryFileError names the file, and the line of a bad event. */
export async function readHistory(file: string): Promise<ParsedHistory> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "a folder, not a file" : String(error);
    throw new HistoryFileError(`${file}: ${reason}`, code === "ENOENT");
  }
  try {
    return parseHistory(text);
  } catch (error) {
    if (error instanceof HistoryError) throw new HistoryFileError(`${file}:${error.line}: ${error.reason}`);
    throw error;
  }
}

/** A client operation's value is a JSON scalar (a `cas` one a pair); the nemesis may record any JSON. */
export type HistoryValue = string | number | boolean | null | HistoryValue[] | { [field: string]: HistoryValue };

export interface HistoryEvent {
  /** The client's process number, "nemesis" for a fault's start and end, or "initial" for what a key held before the run. */
  process: number | "nemesis" | "initial";
  type: "invoke" | "ok" | "fail" | "info";
  f: string;
  key?: string;
  value: HistoryValue;
  /** Other fields (the checker ignores them): `replica`, `error`, the nemesis's `fault`… */
  [field: string]: unknown;
}

export class History {
  /** Lines recorded since the last write began. */
  private pending: string[] = [];
  private writing: Promise<void> | undefined;
  private scheduled = false;
  private error: Error | undefined;
  private closed = false;

  private constructor(
    private readonly file: FileHandle,
    /** process.hrtime.bigint() when the history was opened: `time` counts from it. */
    private readonly start: bigint,
  ) {}

  /** Creates (or truncates) `path`: a history holds one run, whose process numbers would clash with another's. */
  static async open(path: string): Promise<History> {
    return new History(await open(path, "w"), process.hrtime.bigint());
  }

  /** Nanoseconds since the history was opened, on the monotonic clock: the `time` of an event recorded now. */
  now(): number {
    return Number(process.hrtime.bigint() - this.start);
  }

  /** Appends `event` with `time` = now() (unless it carries its own). */
  record(event: HistoryEvent): void {
    if (this.closed) throw new Error("history: record after close");
    this.pending.push(JSON.stringify({ ...event, time: event.time ?? this.now() }));
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Writes what is pending, then (if more came meanwhile) the next batch. */
  private flush(): void {
    if (this.writing || this.pending.length === 0) return;
    const text = this.pending.join("\n") + "\n";
    this.pending = [];
    this.writing = this.file
      .appendFile(text)
      .catch((error: Error) => {
        this.error ??= error;
      })
      .finally(() => {
        this.writing = undefined;
        this.flush();
      });
  }

  /** Writes every event recorded, closes the file; rejects with the first write error. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    while (this.writing) await this.writing;
    await this.file.close();
    if (this.error) throw this.error;
  }
}
