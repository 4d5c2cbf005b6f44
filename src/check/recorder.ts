// Recording a trace (trace.ts) as a run goes: a few array writes per message,
// its fields read only when the trace is written, and only the last `limit`
// messages kept, so that a simulation can record every run at little cost
// and write the trace of the one that fails.
import type { Scalar } from "./history.js";

/** Messages kept by default: a long run keeps its last ones, those nearest what went wrong. */
export const TRACE_LIMIT = 100_000;

/** A replica's name, or a client's process number. */
type End = string | number;

export class TraceRecorder {
  private readonly from: End[] = [];
  private readonly to: End[] = [];
  private readonly type: string[] = [];
  private readonly reply: boolean[] = [];
  private readonly send: number[] = [];
  /** NaN until it arrives. */
  private readonly receive: number[] = [];
  private readonly message: object[] = [];
  /** Messages sent so far, those dropped off the front included. */
  private count = 0;

  /** `now()`: the time in ns, on the clock of the run's history. */
  constructor(
    private readonly now: () => number,
    private readonly limit = TRACE_LIMIT,
  ) {}

  /**
   * `message` (a request, or a reply to one) of `type` leaves `from` for
   * `to`; returns what arrived() takes when it arrives. Its fields are read
   * when the trace is written: it must not change meanwhile.
   */
  sent(from: End, to: End, type: string, message: object, reply: boolean): number {
    const slot = this.count % this.limit;
    this.from[slot] = from;
    this.to[slot] = to;
    this.type[slot] = type;
    this.reply[slot] = reply;
    this.send[slot] = this.now();
    this.receive[slot] = NaN;
    this.message[slot] = message;
    return this.count++;
  }

  arrived(sent: number): void {
    if (sent >= this.count - this.limit) this.receive[sent % this.limit] = this.now();
  }

  /** How many messages were sent, and how many of them are kept. */
  get size(): { sent: number; kept: number } {
    return { sent: this.count, kept: Math.min(this.count, this.limit) };
  }

  /** The trace: JSON lines in the order the messages were sent, a message never arrived without `receive`. */
  text(): string {
    const lines: string[] = [];
    for (let k = Math.max(0, this.count - this.limit); k < this.count; k++) {
      const i = k % this.limit;
      const receive = this.receive[i]!;
      lines.push(
        JSON.stringify({
          send: Math.round(this.send[i]!),
          ...(!Number.isNaN(receive) && { receive: Math.round(receive) }),
          from: this.from[i],
          to: this.to[i],
          type: this.type[i],
          ...(this.reply[i] && { reply: true }),
          fields: messageFields(this.message[i]!),
        }) + "\n",
      );
    }
    return lines.join("");
  }
}

/**
 * What hover shows of a message: its scalars, lists by their length, short
 * printable bytes as text. For an envelope (`{ type, sender, success?,
 * message: { $case, value } }`), its `success` and its member's scalars.
 */
export function messageFields(message: object): Record<string, Scalar> {
  const out: Record<string, Scalar> = {};
  let body: object = message;
  if ("message" in message && typeof message.message === "object" && message.message !== null) {
    if ("success" in message && typeof message.success === "boolean") out.success = message.success;
    body = "value" in message.message && typeof message.message.value === "object" ? message.message.value! : {};
  }
  for (const [name, value] of Object.entries(body)) {
    if (typeof value === "number" || typeof value === "boolean") out[name] = value;
    else if (typeof value === "bigint") out[name] = Number.isSafeInteger(Number(value)) ? Number(value) : String(value);
    else if (typeof value === "string" && value !== "")
      out[name] = value.length > 40 ? `${value.slice(0, 39)}…` : value;
    else if (value instanceof Uint8Array && value.length > 0) out[name] = bytes(value);
    else if (Array.isArray(value)) out[name] = `[${value.length}]`;
  }
  return out;
}

/** Bytes as text when they are short printable ASCII (a kv value), else their length. */
function bytes(value: Uint8Array): string {
  const printable = value.length <= 40 && value.every((b) => b >= 0x20 && b < 0x7f);
  return printable ? String.fromCharCode(...value) : `${value.length} bytes`;
}
