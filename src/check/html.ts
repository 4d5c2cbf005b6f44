// A history drawn as one self-contained HTML page (inline CSS and SVG, no
// script, nothing fetched), in the look of the bench report: one row per
// process, each operation a bar from its invoke to its completion, the ones
// that cannot be ordered in red, `info` ones hatched, faults shaded. A pure
// function of its input: the same history renders the same bytes.
import type { History, Operation } from "./history.js";
import type { CheckResult } from "./index.js";
import { coord, escape, group, page } from "./markup.js";
import { describeCall, describeOperation, subject } from "./witness.js";

/** The page of `history` with its check `result`, headed `title` (a file name, say). */
export function renderHistory(history: History, result: CheckResult, title: string): string {
  return page(`${title} · ${result.verdict}`, STYLE + HISTORY_STYLE, [
    "<header>",
    `<h1>${escape(title)}</h1>`,
    `<p class="verdict ${result.verdict.replace(" ", "-")}">${escape(result.verdict)}</p>`,
    `<p class="meta">${escape(summary(history, result))}</p>`,
    "</header>",
    "<main>",
    historyView(history, result),
    "</main>",
  ]);
}

/** What cannot be ordered, then the timeline: the part of the page the bench report shows too (with HISTORY_STYLE). */
export function historyView(history: History, result: CheckResult): string {
  return [violations(result), timeline(history, result)].filter(Boolean).join("\n");
}

function summary(history: History, result: CheckResult): string {
  const processes = new Set(history.operations.map((op) => op.process)).size;
  const failed = history.operations.length - result.operations;
  return [
    plural(result.operations, "operation") + " checked",
    ...(failed > 0 ? [`${group(String(failed))} failed (left out)`] : []),
    plural(result.keys.length, "key"),
    plural(processes, "process", "processes"),
    plural(history.events, "event"),
  ].join(" · ");
}

function violations(result: CheckResult): string {
  if (result.violations.length === 0) return "";
  const parts = ["<section>", "<h2>What cannot be ordered</h2>"];
  for (const v of result.violations) {
    parts.push(
      `<p class="error">${escape(v.message)}</p>`,
      '<table class="operations">',
      '<tr><th scope="col">process</th><th scope="col">operation</th><th scope="col">lines</th><th scope="col">type</th></tr>',
      ...v.operations.map(
        (op) =>
          `<tr><td>${escape(String(op.process))}</td><td><code>${escape(describeCall(op))}</code></td>` +
          `<td><a href="#line-${op.invoke.line}">${escape(lines(op))}</a></td><td>${escape(op.type)}</td></tr>`,
      ),
      "</table>",
    );
  }
  parts.push("</section>");
  return parts.join("\n");
}

// The timeline ---------------------------------------------------------------

const ROW = 22;
const BAR = 14;
const LEFT = 96;
const TOP = 28;
const AXIS = 44;
const RIGHT_MARGIN = 24;
/** Pixels per event, so that bars keep a readable width however long the history. */
const PER_EVENT = 10;
/** About how wide a character of a bar's label is, to leave out labels that do not fit. */
const CHARACTER = 6.6;

function timeline(history: History, result: CheckResult): string {
  const { operations, nemesis } = history;
  // Numbers in order, then names (compared with <, which does not depend on the locale).
  const processes = [...new Set(operations.map((op) => op.process))].sort((a, b) =>
    typeof a !== typeof b ? (typeof a === "number" ? -1 : 1) : a < b ? -1 : a > b ? 1 : 0,
  );
  const row = new Map(processes.map((process, i) => [process, i]));
  // Time is the event's place in the history unless every event has a `time` (nanoseconds).
  const at = history.timed ? (ref: { time?: number }) => ref.time! : (ref: { index: number }) => ref.index;
  let start = Infinity;
  let last = -Infinity;
  for (const ref of [...operations.flatMap((op) => [op.invoke, op.complete ?? op.invoke]), ...nemesis]) {
    start = Math.min(start, at(ref));
    last = Math.max(last, at(ref));
  }
  if (start === Infinity) [start, last] = [0, 1];
  const end = Math.max(last, start + 1);
  const plot = Math.max(600, Math.min(history.events * PER_EVENT, 60_000));
  const width = LEFT + plot + RIGHT_MARGIN;
  const bottom = TOP + processes.length * ROW;
  const height = bottom + AXIS;
  const x = (t: number) => LEFT + ((t - start) / (end - start)) * plot;
  const blocked = new Set(result.violations.flatMap((v) => v.operations.map((op) => op.id)));
  const keyed = result.keys.length > 1 || result.keys.some((k) => k.key !== null);

  const parts = [
    '<section class="history">',
    "<h2>History</h2>",
    '<p class="legend"><span class="swatch ok"></span>ok <span class="swatch info"></span>info (may or may not have happened) ' +
      '<span class="swatch fail"></span>fail (did not happen) <span class="swatch blocked"></span>cannot be ordered ' +
      '<span class="swatch nemesis"></span>fault</p>',
    `<figure><svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">`,
    `<title>${escape(`${operations.length} operations of ${processes.length} processes`)}</title>`,
    "<defs>",
    '<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">',
    '<rect class="hatch-ground" width="6" height="6"/><line class="hatch-line" x1="0" y1="0" x2="0" y2="6"/>',
    "</pattern>",
    "</defs>",
  ];
  for (const band of faults(history, at, end)) {
    const x1 = x(band.from);
    const x2 = Math.max(x(band.to), x1 + 2);
    parts.push(
      `<g class="nemesis" data-fault="${escape(band.fault)}"><title>${escape(band.label)}</title>` +
        `<rect x="${coord(x1)}" y="${TOP - 6}" width="${coord(x2 - x1)}" height="${bottom - TOP + 6}"/>` +
        `<text x="${coord(x1 + 3)}" y="${TOP - 10}">${escape(band.fault)}</text></g>`,
    );
  }
  processes.forEach((process, i) => {
    const y = TOP + i * ROW;
    parts.push(
      `<line class="lane" x1="${LEFT}" x2="${coord(LEFT + plot)}" y1="${y + ROW / 2}" y2="${y + ROW / 2}"/>`,
      `<text class="process" x="${LEFT - 8}" y="${y + ROW / 2}" dy="0.32em" text-anchor="end">${escape(`process ${String(process)}`)}</text>`,
    );
  });
  for (const op of operations) {
    const x1 = x(at(op.invoke));
    const x2 = Math.max(op.complete ? x(at(op.complete)) : LEFT + plot, x1 + 3);
    const y = TOP + row.get(op.process)! * ROW + (ROW - BAR) / 2;
    const kind = blocked.has(op.id) ? "blocked" : op.type;
    const label = keyed ? `${String(op.key)}: ${describeCall(op)}` : describeCall(op);
    const text =
      label.length * CHARACTER + 6 <= x2 - x1
        ? `<text x="${coord(x1 + 4)}" y="${y + BAR / 2}" dy="0.32em">${escape(label)}</text>`
        : "";
    parts.push(
      // The violations' tables link to their bars, which may be far along a long history.
      `<g class="op ${kind}"${kind === "blocked" ? ` id="line-${op.invoke.line}"` : ""} ` +
        `data-process="${escape(String(op.process))}" data-line="${op.invoke.line}">` +
        `<title>${escape(`${subject(op.key)}: ${describeOperation(op)}`)}</title>` +
        `<rect x="${coord(x1)}" y="${y}" width="${coord(x2 - x1)}" height="${BAR}" rx="2"/>${text}</g>`,
    );
  }
  parts.push(
    `<path class="axis" d="M${LEFT} ${bottom}H${coord(LEFT + plot)}"/>`,
    ...ticks(start, end, history.timed).map(
      ({ t, label }) =>
        `<line class="axis" x1="${coord(x(t))}" x2="${coord(x(t))}" y1="${bottom}" y2="${bottom + 5}"/>` +
        `<text class="tick" x="${coord(x(t))}" y="${bottom + 18}" text-anchor="middle">${escape(label)}</text>`,
    ),
    `<text class="label" x="${LEFT}" y="${height - 6}">${escape(history.timed ? "ms since the first event" : "event")}</text>`,
    "</svg></figure>",
    "</section>",
  );
  return parts.join("\n");
}

interface Band {
  fault: string;
  label: string;
  from: number;
  to: number;
}

/** The nemesis's faults: each `start` shaded until the next `stop` of the same fault, or the end. */
function faults(history: History, at: (ref: { index: number; time?: number }) => number, end: number): Band[] {
  const bands: Band[] = [];
  const open = new Map<string, Band>();
  for (const event of history.nemesis) {
    const fault = event.fault ?? "fault";
    if (event.f === "start") {
      const band = { fault, label: `${fault} ${describeValue(event.value)}`.trim(), from: at(event), to: end };
      bands.push(band);
      open.set(fault, band);
    } else if (event.f === "stop") {
      const band = open.get(fault);
      if (band) band.to = at(event);
      open.delete(fault);
    }
  }
  return bands;
}

/** A fault's value as the cluster prints it: `r2`, `120 ms`, `r1 r2 | r3`. */
function describeValue(value: unknown): string {
  if (typeof value === "number") return `${value} ms`;
  if (typeof value === "string") return value;
  if (Array.isArray(value))
    return value.map((side) => (Array.isArray(side) ? side.join(" ") : String(side))).join(" | ");
  return "";
}

/** About eight round ticks from `start` to `end`: event numbers, or milliseconds from `start` (times in ns). */
function ticks(start: number, end: number, timed: boolean): { t: number; label: string }[] {
  const scale = timed ? 1e6 : 1;
  const span = (end - start) / scale;
  const magnitude = 10 ** Math.floor(Math.log10(span / 8));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => span / s <= 8)!;
  // Event numbers are whole; a step below one is no step.
  const unit = timed ? step : Math.max(1, Math.round(step));
  const decimals = Math.max(0, -Math.floor(Math.log10(unit) + 1e-9));
  const list: { t: number; label: string }[] = [];
  for (let k = 0; k * unit <= span + 1e-9; k++) {
    list.push({ t: start + k * unit * scale, label: group((k * unit).toFixed(decimals)) });
  }
  return list;
}

function lines(op: Operation): string {
  return op.complete ? `${op.invoke.line}–${op.complete.line}` : `${op.invoke.line}–`;
}

function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${group(String(n))} ${n === 1 ? noun : nouns}`;
}

// The bench report's palette and type, and the timeline's own marks.
const STYLE = `
:root {
  color-scheme: light dark;
  --fg: #1f2328; --muted: #59636e; --bg: #ffffff; --panel: #f6f8fa;
  --line: #d1d9e0; --grid: #e8ecf0; --series: #0969da; --error: #cf222e;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --panel: #151b23;
    --line: #3d444d; --grid: #262c36; --series: #4493f8; --error: #f85149;
  }
}
body { margin: 0 auto; max-width: 960px; padding: 1.5rem 1rem 3rem; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
h1 { margin: 0 0 0.25rem; font-size: 1.6rem; overflow-wrap: anywhere; }
h2 { margin: 2rem 0 0.5rem; font-size: 1.15rem; }
.meta { margin: 0.1rem 0; color: var(--muted); }
a { color: var(--series); }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 0.3rem 0.9rem 0.3rem 0; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-weight: 600; }
svg { display: block; font-size: 12px; }
svg text { fill: var(--fg); }
`;

/** The rules of historyView, over the page's palette (the bench report's too): verdict, legend, timeline. */
export const HISTORY_STYLE = `
:root { --ok: #1a7f37; --info: #8c959f; --fault: rgba(191, 57, 137, 0.12); }
@media (prefers-color-scheme: dark) {
  :root { --ok: #3fb950; --info: #656c76; --fault: rgba(219, 97, 162, 0.18); }
}
.verdict { margin: 0.1rem 0; font-weight: 600; }
.verdict.linearizable { color: var(--ok); }
.verdict.not-linearizable { color: var(--error); }
.verdict.unknown { color: var(--muted); }
.error { color: var(--error); overflow-wrap: anywhere; }
.legend { color: var(--muted); }
.swatch { display: inline-block; width: 1.6em; height: 0.8em; margin: 0 0.3em 0 0.8em; border-radius: 2px; vertical-align: -0.05em; }
.swatch.ok { background: var(--series); }
.swatch.info { background: repeating-linear-gradient(45deg, var(--info) 0 2px, var(--panel) 2px 5px); }
.swatch.fail { border: 1px dashed var(--muted); }
.swatch.blocked { background: var(--error); }
.swatch.nemesis { background: var(--fault); }
.history figure { margin: 1rem 0 0; padding: 0.5rem; background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
  overflow: auto; max-height: 80vh; }
svg .process, svg .tick, svg .label { fill: var(--muted); }
svg .axis { fill: none; stroke: var(--muted); stroke-width: 1; }
svg .lane { stroke: var(--grid); stroke-width: 1; }
svg .op.ok rect { fill: var(--series); }
svg .op.ok text, svg .op.blocked text { fill: #ffffff; }
svg .op.info rect { fill: url(#hatch); stroke: var(--info); }
svg .op.fail rect { fill: none; stroke: var(--muted); stroke-dasharray: 3 2; }
svg .op.fail text { fill: var(--muted); }
svg .op.blocked rect { fill: var(--error); }
svg .hatch-ground { fill: var(--panel); }
svg .hatch-line { stroke: var(--info); stroke-width: 2; }
svg .nemesis rect { fill: var(--fault); }
svg .nemesis text { fill: var(--muted); }
`;
