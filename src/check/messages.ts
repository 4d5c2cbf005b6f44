// The messages of a run drawn as one self-contained HTML page (SPEC §10), as
// Maelstrom's messages.svg draws them: a column per replica and one for the
// clients, time running down, an arrow per message from its send to its
// receipt, a lost one cut short with a cross, the clients' operations as bars
// and the faults as bands. The run is embedded once as compact numbers and
// drawn on a canvas by the page's script, a window at a time
// (messages-view.ts), so that 100,000 messages make a page of a few MB that
// moves quickly. A pure function of its input: the same run, the same bytes.
import type { History, Operation } from "./history.js";
import { STYLE } from "./html.js";
import type { CheckResult } from "./index.js";
import { escape, group, page } from "./markup.js";
import {
  browse,
  decode,
  describe,
  drawMessages,
  hit,
  hue,
  layout,
  lowerBound,
  type MessagesData,
} from "./messages-view.js";
import { ticks } from "./timeline.js";
import type { TraceMessage } from "./trace.js";
import { describeCall } from "./witness.js";

/** Client operations open at once beyond this share lanes: the clients' column stays narrow. */
const MAX_LANES = 16;
/**
 * A run of more than twice this many messages opens on OPENING of them, which
 * are readable at once: around the first operation that cannot be ordered,
 * else the first ones.
 */
const OPENING = 200;

/** The page's data, and the window it opens on ([from, to] in µs from the start). */
export function messagesData(
  trace: readonly TraceMessage[],
  history?: History,
  result?: CheckResult,
): { data: MessagesData; window: [number, number] } {
  const timed = history !== undefined && history.timed;
  const operations = timed ? history.operations : [];
  const nemesis = timed ? history.nemesis : [];
  let start = Infinity;
  let last = -Infinity;
  const see = (ns: number) => {
    start = Math.min(start, ns);
    last = Math.max(last, ns);
  };
  for (const m of trace) {
    see(m.send);
    if (m.receive !== undefined) see(m.receive);
  }
  for (const op of operations) {
    see(op.invoke.time!);
    if (op.complete) see(op.complete.time!);
  }
  for (const event of nemesis) see(event.time!);
  if (start === Infinity) [start, last] = [0, 1000];
  const us = (ns: number) => Math.round((ns - start) / 1000);
  const end = Math.max(us(last), 1);

  const replicas = [
    ...new Set(trace.flatMap((m) => [m.from, m.to]).filter((e): e is string => typeof e === "string")),
  ].sort((a, b) => (natural(a) < natural(b) ? -1 : natural(a) > natural(b) ? 1 : 0));
  const column = new Map(replicas.map((name, i) => [name, i]));

  // Each operation a lane: the first free one, else (beyond MAX_LANES) the one freed first.
  const lanes: number[] = [];
  const opLane: number[] = [];
  const byProcess = new Map<string | number, { at: number; lane: number }[]>();
  for (const op of operations) {
    const from = us(op.invoke.time!);
    const to = op.complete ? us(op.complete.time!) : end;
    let lane = lanes.findIndex((free) => free < from);
    if (lane < 0 && lanes.length < MAX_LANES) lane = lanes.length;
    if (lane < 0) lane = lanes.indexOf(Math.min(...lanes));
    lanes[lane] = to;
    opLane.push(lane);
    let list = byProcess.get(op.process);
    if (list === undefined) byProcess.set(op.process, (list = []));
    list.push({ at: from, lane });
  }
  const clientsUsed = trace.some((m) => typeof m.from === "number" || typeof m.to === "number");
  /** A client's lane when it sent or received at `t`: its operation open then (or the last before). */
  const laneOf = (process: number, t: number): number => {
    const list = byProcess.get(process);
    if (list === undefined) return process % Math.max(lanes.length, 1);
    // The last invoked at or before t (a process's operations are in invoke order), else its first.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.at <= t) lo = mid + 1;
      else hi = mid;
    }
    return list[Math.max(lo - 1, 0)]!.lane;
  };

  const types = [...new Set(trace.map((m) => m.type))].sort();
  const typeIndex = new Map(types.map((type, i) => [type, i]));
  const fieldTexts = new Map<string, number>();
  const order = trace.map((_, i) => i).sort((a, b) => trace[a]!.send - trace[b]!.send || a - b);
  const messages: number[] = [];
  let previous = 0;
  let line = 0;
  for (const i of order) {
    const m = trace[i]!;
    const send = us(m.send);
    const endOf = (e: string | number) => (typeof e === "string" ? column.get(e)! : -1 - laneOf(e, send));
    const client = typeof m.from === "number" ? m.from : typeof m.to === "number" ? m.to : undefined;
    const text = describeFields(client, m.fields);
    let fields = -1;
    if (text !== "") {
      if (!fieldTexts.has(text)) fieldTexts.set(text, fieldTexts.size);
      fields = fieldTexts.get(text)!;
    }
    messages.push(
      endOf(m.from),
      endOf(m.to),
      send - previous,
      m.receive === undefined ? -1 : Math.max(us(m.receive) - send, 0),
      typeIndex.get(m.type)! * 2 + (m.reply ? 1 : 0),
      fields,
      m.line - line,
    );
    previous = send;
    line = m.line;
  }

  const blocked = new Set(result?.violations.flatMap((v) => v.operations.map((op) => op.id)));
  const labels = new Map<string, number>();
  const ops: number[] = [];
  previous = 0;
  operations.forEach((op, i) => {
    const label = describeOperation(op);
    if (!labels.has(label)) labels.set(label, labels.size);
    const from = us(op.invoke.time!);
    ops.push(
      opLane[i]!,
      from - previous,
      op.complete ? us(op.complete.time!) - from : -1,
      blocked.has(op.id) ? 3 : ["ok", "info", "fail"].indexOf(op.type),
      labels.get(label)!,
    );
    previous = from;
  });

  const faults: MessagesData["faults"] = [];
  const open = new Map<string, MessagesData["faults"][number]>();
  for (const event of nemesis) {
    const fault = event.fault ?? "fault";
    if (event.f === "start") {
      const names = [...new Set(strings(event.value))].flatMap((name) => column.get(name) ?? []);
      const band: MessagesData["faults"][number] = [
        us(event.time!),
        end,
        `${fault} ${describeValue(event.value)}`.trim(),
        names,
      ];
      faults.push(band);
      open.set(fault, band);
    } else if (event.f === "stop") {
      const band = open.get(fault);
      if (band) band[1] = us(event.time!);
      open.delete(fault);
    }
  }

  const data: MessagesData = {
    scale: 1000,
    end,
    replicas,
    lanes: clientsUsed || operations.length > 0 ? Math.max(lanes.length, 1) : 0,
    types,
    messages,
    fields: [...fieldTexts.keys()],
    ops,
    labels: [...labels.keys()],
    faults,
  };
  if (trace.length <= 2 * OPENING) return { data, window: [0, end] };
  const first = operations.find((op) => blocked.has(op.id));
  const sends = order.map((i) => us(trace[i]!.send));
  const at = first === undefined ? 0 : sends.findIndex((t) => t >= us(first.invoke.time!));
  const lo = Math.max(0, Math.min((at < 0 ? sends.length : at) - OPENING / 2, sends.length - 1 - OPENING));
  return { data, window: [sends[lo]!, Math.max(sends[lo + OPENING]!, sends[lo]! + 1)] };
}

/**
 * The page of a run's messages (`trace`), with the clients' operations and
 * the faults of its `history` when it has one whose events carry times on the
 * trace's clock (and with its check `result`, the operations that cannot be
 * ordered in red, the page opening on the first), headed `title`.
 */
export function renderMessages(
  trace: readonly TraceMessage[],
  history: History | undefined,
  title: string,
  result?: CheckResult,
): string {
  const { data, window } = messagesData(trace, history, result);
  const lost = trace.filter((m) => m.receive === undefined).length;
  const summary = [
    plural(trace.length, "message"),
    `${group(String(lost))} lost`,
    plural(data.replicas.length, "replica"),
    ...(history ? [plural(history.operations.length, "client operation")] : []),
    ...(history ? [plural(data.faults.length, "fault")] : []),
    `${(data.end / data.scale).toFixed(1)} ms`,
  ].join(" · ");
  return page(`${title} · messages`, STYLE + MESSAGES_STYLE, [
    "<header>",
    `<h1>${escape(title)}</h1>`,
    `<p class="meta">${escape(summary)}</p>`,
    "</header>",
    "<main>",
    '<section class="messages">',
    "<h2>Messages</h2>",
    `<p class="legend">${data.types.map((type, i) => `<span class="swatch" style="background:${hue(i)}"></span>${escape(type)}`).join(" ")}` +
      ' · <span class="swatch dashed"></span>reply <span class="lost">×</span> lost' +
      (data.lanes > 0
        ? ' · <span class="swatch ok"></span>client operation ok <span class="swatch info"></span>info <span class="swatch fail"></span>fail' +
          (data.ops.some((n, k) => k % 5 === 3 && n === 3)
            ? ' <span class="swatch blocked"></span>cannot be ordered'
            : "")
        : "") +
      ' · <span class="swatch fault"></span>fault</p>',
    '<p id="mg-controls" class="controls" hidden><button type="button" data-pan="-0.5">▲</button> ' +
      '<button type="button" data-zoom="0.5">zoom in</button> <button type="button" data-zoom="2">zoom out</button> ' +
      '<button type="button" data-whole="1">whole run</button> <button type="button" data-pan="0.5">▼</button> ' +
      '<span id="mg-where"></span> · drag or scroll to move in time, ctrl+scroll to zoom, the strip on the right to jump</p>',
    "<noscript><p>The diagram is drawn by the page's script; without it, the messages by type below.</p></noscript>",
    '<figure class="diagram">',
    `<canvas id="mg-canvas" data-from="${window[0]}" data-to="${window[1]}"></canvas>`,
    '<canvas id="mg-overview" title="the whole run: messages sent over time; the frame is the window drawn"></canvas>',
    '<div id="mg-tip" hidden></div>',
    "</figure>",
    "</section>",
    types(trace),
    "</main>",
    `<script type="application/json" id="mg-data">${JSON.stringify(data).replace(/</g, "\\u003c")}</script>`,
    `<script>${script()}</script>`,
  ]);
}

function types(trace: readonly TraceMessage[]): string {
  const counts = new Map<string, [number, number, number]>();
  for (const m of trace) {
    let row = counts.get(m.type);
    if (row === undefined) counts.set(m.type, (row = [0, 0, 0]));
    row[m.reply ? 1 : 0]!++;
    if (m.receive === undefined) row[2]!++;
  }
  return [
    "<section>",
    "<h2>By type</h2>",
    '<table class="types">',
    '<tr><th scope="col">type</th><th scope="col">requests</th><th scope="col">replies</th><th scope="col">lost</th></tr>',
    ...[...counts.keys()].sort().map((type) => {
      const [requests, replies, lost] = counts.get(type)!;
      return `<tr><td>${escape(type)}</td><td>${group(String(requests))}</td><td>${group(String(replies))}</td><td>${group(String(lost))}</td></tr>`;
    }),
    "</table>",
    "</section>",
  ].join("\n");
}

/**
 * The page's script: the drawing functions as their text, then browse(),
 * called by the name it has here (a bundler may rename it, and the names in
 * the functions' text with it).
 */
function script(): string {
  const parts = [ticks, decode, layout, lowerBound, hue, drawMessages, hit, describe, browse].map(String);
  return `(() => {\n${parts.join("\n")}\n${browse.name}();\n})();`;
}

/** `process=3 ballot=257 key=k1`: what hover shows of a message's fields. */
function describeFields(client: number | undefined, fields: Readonly<Record<string, unknown>>): string {
  const parts = client === undefined ? [] : [`process=${client}`];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(`${name}=${typeof value === "string" && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`);
  }
  return parts.join(" ");
}

function describeOperation(op: Operation): string {
  return `process ${op.process} · ${op.key === null ? "" : `${op.key}: `}${describeCall(op)}`;
}

/** A fault's value as the cluster prints it: `r2`, `120 ms`, `r1 r2 | r3`. */
function describeValue(value: unknown): string {
  if (typeof value === "number") return `${value} ms`;
  if (typeof value === "string") return value;
  if (Array.isArray(value))
    return value.map((side) => (Array.isArray(side) ? side.join(" ") : String(side))).join(" | ");
  return "";
}

/** The strings anywhere in a fault's value: the replicas it names. */
function strings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.flatMap(strings) : [];
}

/** `r2` before `r10`: digits compared as numbers, without a locale. */
function natural(name: string): string {
  return name.replace(/\d+/g, (digits) => digits.padStart(16, "0"));
}

function plural(n: number, noun: string): string {
  return `${group(String(n))} ${n === 1 ? noun : `${noun}s`}`;
}

const MESSAGES_STYLE = `
:root { --info: #8c959f; --fault: rgba(191, 57, 137, 0.12); }
@media (prefers-color-scheme: dark) { :root { --info: #656c76; --fault: rgba(219, 97, 162, 0.18); } }
body { max-width: 1280px; }
.legend, .controls { color: var(--muted); font-size: 0.9em; }
.controls button { font: inherit; padding: 0.1rem 0.6rem; }
.swatch { display: inline-block; width: 1.6em; height: 0.25em; margin: 0 0.3em 0 0.6em; vertical-align: 0.2em; }
.swatch.dashed { height: 0; border-top: 2px dashed var(--muted); background: none; }
.swatch.ok { height: 0.8em; width: 0.5em; background: var(--series); }
.swatch.info { height: 0.8em; width: 0.5em; background: var(--info); }
.swatch.fail { height: 0.8em; width: 0.5em; border: 1px solid var(--muted); }
.swatch.fault { height: 0.8em; background: var(--fault); }
.swatch.blocked { height: 0.8em; width: 0.5em; background: var(--error); }
.lost { color: var(--error); font-weight: 700; margin-left: 0.6em; }
.diagram { position: relative; display: grid; grid-template-columns: 1fr 48px; gap: 6px; margin: 0.5rem 0 0; padding: 0.5rem;
  background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
#mg-canvas { width: 100%; height: 75vh; cursor: grab; touch-action: none; }
#mg-overview { width: 48px; height: 75vh; cursor: pointer; touch-action: none; }
#mg-tip { position: absolute; max-width: 36rem; padding: 0.3rem 0.5rem; background: var(--bg); border: 1px solid var(--line);
  border-radius: 4px; font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; pointer-events: none; overflow-wrap: anywhere; }
`;
