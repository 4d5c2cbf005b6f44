// The history's timeline at any size. A page holds the whole run once, in a few
// numbers per operation (TimelineData), and draws two views of it: an overview
// of the run (operations invoked per stretch of time, faults as labelled
// bands) with a window on it, and the window in detail, one bar per operation
// at a readable scale. The server draws both for the window the page opens on
// (around the first violation, else the first fault), so that the page says
// what matters without script; a small inline script moves and zooms the
// window, drawing the detail with the same function, detail(), as its text.
import type { History, Operation } from "./history.js";
import type { CheckResult } from "./index.js";
import { coord, escape } from "./markup.js";
import { describeCall } from "./witness.js";

/** Everything the detail view draws, numbers and escaped strings only. */
export interface TimelineData {
  /** The axis's unit: event positions, or ms since the first event (times are then in µs). */
  unit: "event" | "ms";
  /** Data units per axis unit: 1 for events, 1,000 µs per ms. */
  scale: number;
  /** The end of the run, in data units from its start (0). */
  end: number;
  /** Labels of the processes that have operations, in row order. */
  processes: string[];
  /**
   * Seven numbers per operation, in invoke order: its row; its invoke time
   * less the previous operation's; its duration, -1 when never completed;
   * its kind (KINDS); its invoke line less the previous one's; its
   * completion line less its invoke line; its label's index in `labels`.
   */
  ops: number[];
  /** The operations' labels (`write 3`, `x: read → 4`), each once. */
  labels: string[];
  /** The faults: [from, to, kind, label]. */
  faults: [number, number, string, string][];
}

/** Kinds: a type, plus 3 when the operation cannot be ordered. */
const TYPES = ["ok", "info", "fail"] as const;

/** The page's data, and the window it opens on: [from, to] in data units. */
export function timelineData(history: History, result: CheckResult): { data: TimelineData; window: [number, number] } {
  const { operations } = history;
  const timed = history.timed && operations.length > 0;
  const scale = timed ? 1000 : 1;
  // Times as integers: event positions, or µs (from ns).
  const raw = timed ? (ref: { time?: number }) => Math.round(ref.time! / 1000) : (ref: { index: number }) => ref.index;
  let start = Infinity;
  let last = -Infinity;
  for (const ref of [...operations.flatMap((op) => [op.invoke, op.complete ?? op.invoke]), ...history.nemesis]) {
    start = Math.min(start, raw(ref));
    last = Math.max(last, raw(ref));
  }
  if (start === Infinity) [start, last] = [0, 1];
  const at = (ref: { index: number; time?: number }) => raw(ref) - start;
  const end = Math.max(last - start, 1);

  // Numbers in order, then names (compared with <, which does not depend on the locale).
  const processes = [...new Set(operations.map((op) => op.process))].sort((a, b) =>
    typeof a !== typeof b ? (typeof a === "number" ? -1 : 1) : a < b ? -1 : a > b ? 1 : 0,
  );
  const row = new Map(processes.map((process, i) => [process, i]));
  const blocked = new Set(result.violations.flatMap((v) => v.operations.map((op) => op.id)));
  const keyed = result.keys.length > 1 || result.keys.some((k) => k.key !== null);
  const labels = new Map<string, number>();
  const ops: number[] = [];
  let previous = 0;
  let line = 0;
  for (const op of operations) {
    const t0 = at(op.invoke);
    const label = keyed ? `${String(op.key)}: ${describeCall(op)}` : describeCall(op);
    if (!labels.has(label)) labels.set(label, labels.size);
    ops.push(
      row.get(op.process)!,
      t0 - previous,
      op.complete ? at(op.complete) - t0 : -1,
      TYPES.indexOf(op.type) + (blocked.has(op.id) ? 3 : 0),
      op.invoke.line - line,
      op.complete ? op.complete.line - op.invoke.line : 0,
      labels.get(label)!,
    );
    previous = t0;
    line = op.invoke.line;
  }
  const faults = bands(history, at, end).map(({ from, to, fault, label }): [number, number, string, string] => [
    from,
    to,
    fault,
    label,
  ]);
  const data: TimelineData = {
    unit: timed ? "ms" : "event",
    scale,
    end,
    processes: processes.map(String),
    ops,
    labels: [...labels.keys()],
    faults,
  };
  return { data, window: openingWindow(operations, blocked, faults, at, end) };
}

/** About this many operations fit the detail view readably. */
const WINDOW_OPERATIONS = 60;

/** Around the first operation that cannot be ordered, else from just before the first fault, else from the start. */
function openingWindow(
  operations: readonly Operation[],
  blocked: ReadonlySet<number>,
  faults: readonly [number, number, string, string][],
  at: (ref: { index: number; time?: number }) => number,
  end: number,
): [number, number] {
  if (operations.length <= WINDOW_OPERATIONS) return [0, end];
  const first = operations.findIndex((op) => blocked.has(op.id));
  let from: number;
  if (first >= 0) from = at(operations[Math.max(0, first - WINDOW_OPERATIONS / 2)]!.invoke);
  else if (faults.length > 0) {
    const fault = faults[0]![0];
    const after = operations.findIndex((op) => at(op.invoke) >= fault);
    from = Math.min(fault, at(operations[Math.max(0, (after < 0 ? operations.length : after) - 5)]!.invoke));
  } else from = 0;
  const i = operations.findIndex((op) => at(op.invoke) >= from);
  const last = operations[Math.min(operations.length - 1, Math.max(i, 0) + WINDOW_OPERATIONS)]!;
  return [from, Math.max(at(last.invoke), from + 1)];
}

interface Band {
  fault: string;
  label: string;
  from: number;
  to: number;
}

/** The nemesis's faults: each `start` until the next `stop` of the same fault, or the end; labelled with kind and value. */
function bands(history: History, at: (ref: { index: number; time?: number }) => number, end: number): Band[] {
  const list: Band[] = [];
  const open = new Map<string, Band>();
  for (const event of history.nemesis) {
    const fault = event.fault ?? "fault";
    if (event.f === "start") {
      const band = { fault, label: `${fault} ${describeValue(event.value)}`.trim(), from: at(event), to: end };
      list.push(band);
      open.set(fault, band);
    } else if (event.f === "stop") {
      const band = open.get(fault);
      if (band) band.to = at(event);
      open.delete(fault);
    }
  }
  return list;
}

/** A fault's value as the cluster prints it: `r2`, `120 ms`, `r1 r2 | r3`. */
function describeValue(value: unknown): string {
  if (typeof value === "number") return `${value} ms`;
  if (typeof value === "string") return value;
  if (Array.isArray(value))
    return value.map((side) => (Array.isArray(side) ? side.join(" ") : String(side))).join(" | ");
  return "";
}

// The overview ----------------------------------------------------------------

export const VIEW_WIDTH = 900;
const LEFT = 96;
const RIGHT = 16;
const BUCKETS = 300;

/** The whole run: operations invoked per bucket of time, faults as labelled bands, the window as a frame. */
export function overview(data: TimelineData, window: [number, number]): string {
  const plot = VIEW_WIDTH - LEFT - RIGHT;
  const top = 22;
  const height = 48;
  const bottom = top + height;
  const x = (t: number) => LEFT + (t / data.end) * plot;
  const counts = new Array<number>(BUCKETS).fill(0);
  let t0 = 0;
  for (let k = 0; k < data.ops.length; k += 7) {
    t0 += data.ops[k + 1]!;
    counts[Math.min(BUCKETS - 1, Math.floor((t0 / data.end) * BUCKETS))]!++;
  }
  const most = Math.max(1, ...counts);
  const bar = plot / BUCKETS;
  const density = counts
    .map((n, i) =>
      n === 0 ? "" : `M${coord(LEFT + i * bar)} ${bottom}v${coord((-n / most) * height)}h${coord(bar)}V${bottom}Z`,
    )
    .join("");
  const parts = [
    `<svg id="tl-overview" class="overview" viewBox="0 0 ${VIEW_WIDTH} ${bottom + 34}" role="img" data-left="${LEFT}" data-plot="${plot}">`,
    `<title>${data.ops.length / 7} operations over the run; the frame is the window drawn below</title>`,
    ...data.faults.map(
      ([from, to, fault, label]) =>
        `<g class="nemesis" data-fault="${escape(fault)}"><title>${escape(label)}</title><rect x="${coord(x(from))}" y="${top}" width="${coord(Math.max(x(to) - x(from), 2))}" height="${height}"/>` +
        `<text x="${coord(x(from) + 2)}" y="${top - 6}">${escape(label)}</text></g>`,
    ),
    `<path class="density" d="${density}"/>`,
    `<path class="axis" d="M${LEFT} ${bottom}H${LEFT + plot}"/>`,
    ...ticks(0, data.end, data.scale, data.unit === "event").map(
      ({ t, label }) =>
        `<line class="axis" x1="${coord(x(t))}" x2="${coord(x(t))}" y1="${bottom}" y2="${bottom + 4}"/>` +
        `<text class="tick" x="${coord(x(t))}" y="${bottom + 16}" text-anchor="middle">${label}</text>`,
    ),
    `<text class="label" x="${LEFT - 8}" y="${top + height / 2}" dy="0.32em" text-anchor="end">whole run</text>`,
    `<rect id="tl-window" class="window" x="${coord(x(window[0]))}" y="${top - 2}" width="${coord(Math.max(x(window[1]) - x(window[0]), 2))}" height="${height + 4}"/>`,
    "</svg>",
  ];
  return parts.join("\n");
}

// Shared with the page's script, as their text: so each uses nothing from outside itself.

/** About eight round ticks from `from` to `to` (data units), labelled in axis units (÷ `scale`); whole numbers when `whole`. */
export function ticks(from: number, to: number, scale: number, whole: boolean): { t: number; label: string }[] {
  const span = (to - from) / scale;
  const magnitude = 10 ** Math.floor(Math.log10(span / 8));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => span / s <= 8)!;
  const unit = whole ? Math.max(1, Math.round(step)) : step;
  const decimals = Math.max(0, -Math.floor(Math.log10(unit) + 1e-9));
  const list: { t: number; label: string }[] = [];
  for (let k = Math.ceil(from / scale / unit - 1e-9); k * unit <= to / scale + 1e-9; k++) {
    // Thousands separators, the same on every machine.
    const label = (k * unit).toFixed(decimals).replace(/^-?\d+/, (n) => n.replace(/\B(?=(\d{3})+$)/g, ","));
    list.push({ t: k * unit * scale, label });
  }
  return list;
}

/** The window [from, to] of the run in detail: a row per process with operations in it, a bar per operation, ticks. */
export function detail(data: TimelineData, from: number, to: number, tick: typeof ticks, html: typeof escape): string {
  const width = 900;
  const left = 96;
  const plot = width - left - 16;
  const top = 26;
  const row = 22;
  const bar = 14;
  const character = 6.6;
  const c = (v: number) => v.toFixed(1);
  const x = (t: number) => left + ((t - from) / (to - from)) * plot;
  const clip = (v: number) => Math.min(Math.max(v, left), left + plot);
  const kinds = ["ok", "info", "fail", "blocked", "blocked", "blocked"];
  const types = ["ok", "info", "fail"];
  const shown: number[][] = [];
  const rows = new Map<number, number>();
  let t0 = 0;
  let line = 0;
  const ops = data.ops;
  for (let k = 0; k < ops.length; k += 7) {
    t0 += ops[k + 1]!;
    line += ops[k + 4]!;
    const t1 = ops[k + 2]! < 0 ? data.end : t0 + ops[k + 2]!;
    if (t1 < from || t0 > to) continue;
    shown.push([ops[k]!, t0, t1, ops[k + 3]!, line, ops[k + 5]!, ops[k + 6]!, ops[k + 2]! < 0 ? 1 : 0]);
    rows.set(ops[k]!, 0);
  }
  const order = [...rows.keys()].sort((a, b) => a - b);
  order.forEach((r, i) => rows.set(r, i));
  const bottom = top + Math.max(order.length, 1) * row;
  const height = bottom + 40;
  const parts = [
    `<svg class="detail" viewBox="0 0 ${width} ${height}" role="img">`,
    `<title>${shown.length} operations of ${order.length} processes</title>`,
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
      '<rect class="hatch-ground" width="6" height="6"/><line class="hatch-line" x1="0" y1="0" x2="0" y2="6"/></pattern></defs>',
  ];
  for (const [a, b, fault, label] of data.faults) {
    if (b < from || a > to) continue;
    const x1 = clip(x(a));
    const x2 = Math.max(clip(x(b)), x1 + 2);
    parts.push(
      `<g class="nemesis" data-fault="${html(fault)}"><title>${html(label)}</title><rect x="${c(x1)}" y="${top - 6}" width="${c(x2 - x1)}" height="${bottom - top + 6}"/>` +
        `<text x="${c(x1 + 3)}" y="${top - 10}">${html(label)}</text></g>`,
    );
  }
  order.forEach((r, i) => {
    const y = top + i * row + row / 2;
    parts.push(
      `<line class="lane" x1="${left}" x2="${left + plot}" y1="${y}" y2="${y}"/>` +
        `<text class="process" x="${left - 8}" y="${y}" dy="0.32em" text-anchor="end">process ${html(data.processes[r]!)}</text>`,
    );
  });
  for (const [r, a, b, kind, invoke, lines, label, open] of shown) {
    const x1 = clip(x(a!));
    const x2 = Math.max(clip(x(b!)), x1 + 3);
    const y = top + rows.get(r!)! * row + (row - bar) / 2;
    const type = types[kind! % 3]!;
    const where = open
      ? `line ${invoke}, never completed`
      : `lines ${invoke}–${invoke! + lines!}${type === "ok" ? "" : `, ${type}`}`;
    const text = data.labels[label!]!;
    const fits = text.length * character + 6 <= x2 - x1;
    parts.push(
      `<g class="op ${kinds[kind!]}"${kind! >= 3 ? ` id="line-${invoke}"` : ""} data-process="${html(data.processes[r!]!)}" data-line="${invoke}">` +
        `<title>${html(`${text} (process ${data.processes[r!]}, ${where})`)}</title>` +
        `<rect x="${c(x1)}" y="${y}" width="${c(x2 - x1)}" height="${bar}" rx="2"/>` +
        (fits ? `<text x="${c(x1 + 4)}" y="${y + bar / 2}" dy="0.32em">${html(text)}</text>` : "") +
        "</g>",
    );
  }
  parts.push(`<path class="axis" d="M${left} ${bottom}H${left + plot}"/>`);
  for (const { t, label } of tick(from, to, data.scale, data.unit === "event")) {
    parts.push(
      `<line class="axis" x1="${c(x(t))}" x2="${c(x(t))}" y1="${bottom}" y2="${bottom + 5}"/>` +
        `<text class="tick" x="${c(x(t))}" y="${bottom + 18}" text-anchor="middle">${label}</text>`,
    );
  }
  parts.push(
    `<text class="label" x="${left}" y="${height - 6}">${data.unit === "ms" ? "ms since the first event" : "event"}</text>`,
    "</svg>",
  );
  return parts.join("\n");
}

/** What browse() uses of the page (this folder compiles without the DOM's types). */
interface Element {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  innerHTML: string;
  hidden: boolean;
  setAttribute(name: string, value: string): void;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { left: number; width: number };
  addEventListener(type: string, listener: (event: { pointerId: number; clientX: number }) => void): void;
  setPointerCapture(id: number): void;
  hasPointerCapture(id: number): boolean;
}
interface Page {
  document: { getElementById(id: string): Element | null; querySelectorAll(selector: string): Iterable<Element> };
  location: { hash: string };
  addEventListener(type: string, listener: () => void): void;
}

/** Moves and zooms the window: drag on the overview, the buttons, or a link to an operation's line. */
function browse(detailView: typeof detail, tick: typeof ticks, html: typeof escape): void {
  const { document, location } = globalThis as unknown as Page;
  const data = JSON.parse(document.getElementById("tl-data")!.textContent!) as TimelineData;
  const view = document.getElementById("tl-detail")!;
  const frame = document.getElementById("tl-window")!;
  const strip = document.getElementById("tl-overview")!;
  const where = document.getElementById("tl-where")!;
  const left = Number(strip.dataset.left);
  const plot = Number(strip.dataset.plot);
  let from = Number(view.dataset.from);
  let to = Number(view.dataset.to);
  const show = (a: number, b: number) => {
    const span = Math.min(Math.max(b - a, 1), data.end);
    from = Math.min(Math.max(a, 0), data.end - span);
    to = from + span;
    view.innerHTML = detailView(data, from, to, tick, html);
    frame.setAttribute("x", String(left + (from / data.end) * plot));
    frame.setAttribute("width", String(Math.max((span / data.end) * plot, 2)));
    const unit = data.unit === "ms" ? " ms" : "";
    // As many decimals as tell the ends of the window apart.
    const decimals = data.unit === "ms" ? Math.max(0, Math.min(3, 2 - Math.floor(Math.log10(span / data.scale)))) : 0;
    const format = (t: number) => (t / data.scale).toFixed(decimals);
    where.textContent = `${data.unit === "ms" ? "" : "events "}${format(from)}–${format(to)}${unit} of ${format(data.end)}${unit}`;
  };
  const centre = (t: number) => show(t - (to - from) / 2, t + (to - from) / 2);
  const fromPointer = (event: { clientX: number }) => {
    const box = strip.getBoundingClientRect();
    const svgX = ((event.clientX - box.left) / box.width) * Number(strip.getAttribute("viewBox")!.split(" ")[2]);
    centre(((svgX - left) / plot) * data.end);
  };
  strip.addEventListener("pointerdown", (event) => {
    strip.setPointerCapture(event.pointerId);
    fromPointer(event);
  });
  strip.addEventListener("pointermove", (event) => {
    if (strip.hasPointerCapture(event.pointerId)) fromPointer(event);
  });
  for (const button of document.querySelectorAll("[data-zoom], [data-pan]")) {
    button.addEventListener("click", () => {
      const span = to - from;
      if (button.dataset.zoom) {
        const middle = (from + to) / 2;
        const half = (span * Number(button.dataset.zoom)) / 2;
        show(middle - half, middle + half);
      } else show(from + span * Number(button.dataset.pan), to + span * Number(button.dataset.pan));
    });
  }
  // A link to an operation (from the tables above) brings it into the window.
  const follow = () => {
    const line = Number(/^#line-(\d+)$/.exec(location.hash)?.[1]);
    if (!line) return;
    let t0 = 0;
    let at = 0;
    for (let k = 0; k < data.ops.length; k += 7) {
      t0 += data.ops[k + 1]!;
      at += data.ops[k + 4]!;
      if (at === line) return centre(t0);
    }
  };
  (globalThis as unknown as Page).addEventListener("hashchange", follow);
  document.getElementById("tl-controls")!.hidden = false;
  show(from, to);
  follow();
}

/** The script of the page: browse() run with detail(), ticks() and escape() as their text, on the embedded data. */
export function script(): string {
  return `(${browse.toString()})(${detail.toString()}, ${ticks.toString()}, ${escape.toString()});`;
}

/** The data as a script element's text: JSON with `<` escaped, so that nothing in it can end the element. */
export function embed(data: TimelineData): string {
  return JSON.stringify(data).replace(/</g, "\\u003c");
}
