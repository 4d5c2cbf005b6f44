// A trace of a run (SPEC §10): JSON lines, one per message between replicas or
// between a client and a replica, with its send time, its receive time (none
// when it was lost), its ends, its envelope type and a few of its fields:
//
//   {"send":1200000,"receive":3400000,"from":"r1","to":"r2","type":"ACCEPT","fields":{"ballot":257,"slot":3}}
//   {"send":3400000,"from":"r2","to":"r1","type":"ACCEPT","reply":true,"fields":{"ok":true}}
//   {"send":900000,"receive":2100000,"from":4,"to":"r1","type":"PROPOSE","fields":{"key":"k1"}}
//
// Times are ns on the clock of the history they go with. An end is a replica's
// name, or a client's process number as the history names it.
import { show } from "./history.js";
import { jsonLines } from "./json-lines.js";
import type { Scalar } from "./history.js";

/** One message as a trace line holds it. */
export interface TraceMessage {
  /** 1-based line of the text (or position in an array of messages). */
  line: number;
  /** A replica's name, or a client's process number. */
  from: string | number;
  to: string | number;
  /** The envelope's type: `PREPARE`, `ACCEPT`, or `PROPOSE` for a client's request. */
  type: string;
  /** Whether it answers a request of the same type (sent by `to`). */
  reply: boolean;
  /** ns. */
  send: number;
  /** ns; absent when the message was lost (dropped, cut off, or its receiver down). */
  receive?: number;
  /** A few fields of the message, to read on hover. */
  fields: Record<string, Scalar>;
}

/** Input that is not a trace: `line` names the message, `reason` says what is wrong in one line. */
export class TraceError extends Error {
  override readonly name = "TraceError";
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

/** Reads a trace: JSON-lines text (blank lines skipped) or messages already parsed; throws a TraceError at the first line that is not one. */
export function parseTrace(input: string | readonly unknown[]): TraceMessage[] {
  if (typeof input !== "string") return input.map((message, i) => toMessage(message, i + 1));
  const messages: TraceMessage[] = [];
  for (const { line, value } of jsonLines(input, (line) => new TraceError(line, "not JSON"))) {
    messages.push(toMessage(value, line));
  }
  return messages;
}

function toMessage(input: unknown, line: number): TraceMessage {
  const fail = (reason: string) => new TraceError(line, reason);
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw fail("not a JSON object");
  const { from, to, type, reply, send, receive, fields } = input as Record<string, unknown>;
  const end = (name: string, value: unknown): string | number => {
    if (value === undefined) throw fail(`no ${name}`);
    if ((typeof value === "string" && value !== "") || (Number.isSafeInteger(value) && (value as number) >= 0)) {
      return value as string | number;
    }
    throw fail(`${name} ${show(value)} is not a replica's name or a client's process number`);
  };
  const time = (name: string, value: unknown): number => {
    if (typeof value !== "number" || !Number.isFinite(value)) throw fail(`${name} ${show(value)} is not a time in ns`);
    return value;
  };
  const message: TraceMessage = {
    line,
    from: end("from", from),
    to: end("to", to),
    type: "",
    reply: false,
    send: 0,
    fields: {},
  };
  if (typeof type !== "string" || type === "")
    throw fail(type === undefined ? "no type" : `type ${show(type)} is not a name`);
  message.type = type;
  if (reply !== undefined && typeof reply !== "boolean") throw fail(`reply ${show(reply)} is not true or false`);
  message.reply = reply === true;
  if (send === undefined) throw fail("no send");
  message.send = time("send", send);
  if (receive !== undefined && receive !== null) message.receive = time("receive", receive);
  if (fields !== undefined) {
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
      throw fail(`fields ${show(fields)} is not a JSON object`);
    }
    for (const [name, value] of Object.entries(fields)) {
      if (value !== null && typeof value === "object") throw fail(`field ${show(name)} is not a JSON scalar`);
    }
    message.fields = fields as Record<string, Scalar>;
  }
  return message;
}
