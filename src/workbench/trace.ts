// The replicas' own traces (each replica's --trace: a line per Dispatch
// message it sent or received, on its wall clock) merged into one trace of the
// run (src/check/trace.ts): each message sent matched with its receipt at its
// peer. A message carries no id on the wire, so a receipt is matched with the
// earliest unmatched send of the same sender, receiver, type, direction and
// fields; a send left unmatched was lost.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { History, Scalar } from "../check/history.js";
import type { CheckResult } from "../check/index.js";
import { renderMessages } from "../check/messages.js";
import { jsonLines } from "../check/json-lines.js";
import { parseTrace } from "../check/trace.js";
import { UserError } from "../core/errors.js";

/** One line of a replica's --trace. */
interface Event {
  time: number;
  replica: string;
  event: "send" | "receive";
  peer: string;
  type: string;
  reply?: boolean;
  fields?: Record<string, Scalar>;
}

/** The trace of a run (JSON lines, in send order) from the texts of its replicas' traces; a bad line is named with its file. */
export function mergeTraces(files: readonly { file: string; text: string }[]): string {
  const sends: (Event & { receive?: number })[] = [];
  const waiting = new Map<string, (Event & { receive?: number })[]>();
  const receipts: Event[] = [];
  for (const { file, text } of files) {
    for (const { line, value } of jsonLines(text, (line) => new UserError(`${file}:${line}: not JSON`))) {
      const event = value as Event;
      if (typeof event?.time !== "number" || (event.event !== "send" && event.event !== "receive")) {
        throw new UserError(`${file}:${line}: not a line of a replica's --trace`);
      }
      if (event.event === "receive") {
        receipts.push(event);
        continue;
      }
      sends.push(event);
      const key = keyOf(event.replica, event.peer, event);
      let queue = waiting.get(key);
      if (queue === undefined) waiting.set(key, (queue = []));
      queue.push(event);
    }
  }
  for (const queue of waiting.values()) queue.sort((a, b) => a.time - b.time);
  for (const receipt of receipts.sort((a, b) => a.time - b.time)) {
    const send = waiting.get(keyOf(receipt.peer, receipt.replica, receipt))?.shift();
    if (send !== undefined) send.receive = receipt.time;
  }
  return sends
    .sort((a, b) => a.time - b.time)
    .map(
      (m) =>
        JSON.stringify({
          send: m.time,
          ...(m.receive !== undefined && { receive: m.receive }),
          from: m.replica,
          to: m.peer,
          type: m.type,
          ...(m.reply && { reply: true }),
          fields: m.fields ?? {},
        }) + "\n",
    )
    .join("");
}

function keyOf(from: string, to: string, event: Event): string {
  return JSON.stringify([from, to, event.type, event.reply === true, event.fields ?? {}]);
}

export interface DrawOptions {
  /** The replicas whose traces (`<folder>/<name>.jsonl`) make the run's. */
  names: readonly string[];
  title: string;
  /** A bench's history, its check, and when its clock started in wall-clock ns: the trace is put on its clock. */
  history?: { history: History; result?: CheckResult; origin: number };
}

/** Merges the replicas' traces in `folder` into messages.jsonl and draws it in messages.html; resolves with the page's path. */
export async function drawRun(folder: string, options: DrawOptions): Promise<string> {
  const files = await Promise.all(
    options.names.map(async (name) => {
      const file = path.join(folder, `${name}.jsonl`);
      // A replica that never sent or received a Dispatch message wrote nothing.
      const text = await readFile(file, "utf8").catch(() => "");
      return { file, text };
    }),
  );
  const trace = parseTrace(mergeTraces(files));
  const origin = options.history?.origin ?? 0;
  for (const m of trace) {
    m.send -= origin;
    if (m.receive !== undefined) m.receive -= origin;
  }
  const lines = trace.map(({ line: _, ...m }) => JSON.stringify(m) + "\n").join("");
  await writeFile(path.join(folder, "messages.jsonl"), lines);
  const page = path.join(folder, "messages.html");
  const { history, result } = options.history ?? {};
  await writeFile(page, renderMessages(trace, history, options.title, result));
  return page;
}
