// What the message page's script runs, as the text of these functions (so each
// uses nothing from outside itself but what it is passed): the embedded data
// decoded once into typed arrays, and a canvas drawing of a window of the run
// that visits only the messages in it (binary search on send time), so that
// 100,000 messages stay quick to move through. The tests run the same
// functions on a recording canvas.
import { ticks } from "./timeline.js";

/** Everything the page draws, numbers and strings only (messages.ts makes it). */
export interface MessagesData {
  /** Data units (µs since the run's first event) per axis unit (ms). */
  scale: number;
  /** The end of the run, in µs from its start. */
  end: number;
  /** The replicas, a column each, left to right after the clients' column. */
  replicas: string[];
  /** Lanes of the clients' column, one per operation open at once (0: no clients' column). */
  lanes: number;
  /** The messages' types, by index. */
  types: string[];
  /**
   * Seven numbers per message, in send order: from and to (a replica's index,
   * or -1 - a client's lane); its send less the previous message's send; its
   * time in flight, -1 when lost; its type's index * 2, + 1 for a reply; its
   * fields' index in `fields`, -1 for none; its trace line less the previous one's.
   */
  messages: number[];
  /** Fields as hover shows them (`ballot=257 slot=3`), each once. */
  fields: string[];
  /** Five numbers per client operation, in invoke order: lane, invoke less the previous invoke, duration (-1: never completed), kind (0 ok, 1 info, 2 fail, 3 cannot be ordered), label's index. */
  ops: number[];
  /** The operations' labels (`process 3 · k1: write 7`), each once. */
  labels: string[];
  /** The faults: [from, to, label, the replicas it names]. */
  faults: [number, number, string, number[]][];
}

/** The data as typed arrays, times absolute (µs from the start). */
export interface Model {
  data: MessagesData;
  count: number;
  from: Int32Array;
  to: Int32Array;
  send: Float64Array;
  /** NaN when lost. */
  receive: Float64Array;
  kind: Int32Array;
  fields: Int32Array;
  line: Int32Array;
  /** The longest time in flight: a message sent this long before a window may still cross it. */
  flight: number;
  opLane: Int32Array;
  opStart: Float64Array;
  /** The run's end when never completed. */
  opEnd: Float64Array;
  opKind: Int32Array;
  opLabel: Int32Array;
}

export function decode(data: MessagesData): Model {
  const count = data.messages.length / 7;
  const m = data.messages;
  const model: Model = {
    data,
    count,
    from: new Int32Array(count),
    to: new Int32Array(count),
    send: new Float64Array(count),
    receive: new Float64Array(count),
    kind: new Int32Array(count),
    fields: new Int32Array(count),
    line: new Int32Array(count),
    flight: 0,
    opLane: new Int32Array(data.ops.length / 5),
    opStart: new Float64Array(data.ops.length / 5),
    opEnd: new Float64Array(data.ops.length / 5),
    opKind: new Int32Array(data.ops.length / 5),
    opLabel: new Int32Array(data.ops.length / 5),
  };
  let t = 0;
  let line = 0;
  for (let i = 0, k = 0; i < count; i++, k += 7) {
    model.from[i] = m[k]!;
    model.to[i] = m[k + 1]!;
    t += m[k + 2]!;
    model.send[i] = t;
    model.receive[i] = m[k + 3]! < 0 ? NaN : t + m[k + 3]!;
    if (m[k + 3]! > model.flight) model.flight = m[k + 3]!;
    model.kind[i] = m[k + 4]!;
    model.fields[i] = m[k + 5]!;
    line += m[k + 6]!;
    model.line[i] = line;
  }
  t = 0;
  for (let i = 0, k = 0; k < data.ops.length; i++, k += 5) {
    t += data.ops[k + 1]!;
    model.opLane[i] = data.ops[k]!;
    model.opStart[i] = t;
    model.opEnd[i] = data.ops[k + 2]! < 0 ? data.end : t + data.ops[k + 2]!;
    model.opKind[i] = data.ops[k + 3]!;
    model.opLabel[i] = data.ops[k + 4]!;
  }
  return model;
}

/** What a drawing needs besides the model: the window [from, to] in µs, the canvas's size in CSS pixels, colours. */
export interface View {
  from: number;
  to: number;
  width: number;
  height: number;
  /** A message's index to draw highlighted, or -1. */
  hover: number;
  colors: { fg: string; muted: string; grid: string; fault: string; error: string; ok: string; info: string };
}

/** The part of a canvas's 2D context the drawing uses. */
export interface Canvas2D {
  fillStyle: string;
  strokeStyle: string;
  lineWidth: number;
  font: string;
  textAlign: string;
  textBaseline: string;
  setLineDash(segments: number[]): void;
  beginPath(): void;
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  stroke(): void;
  fill(): void;
  fillRect(x: number, y: number, w: number, h: number): void;
  strokeRect(x: number, y: number, w: number, h: number): void;
  clearRect(x: number, y: number, w: number, h: number): void;
  fillText(text: string, x: number, y: number): void;
  save(): void;
  restore(): void;
  rect(x: number, y: number, w: number, h: number): void;
  clip(): void;
}

/** Where things go: the axis's width, the header's height, each end's x (a replica's index, or -1 - a client lane). */
export function layout(
  model: Model,
  width: number,
): { left: number; top: number; clients: number; x: (end: number) => number } {
  const left = 64;
  const top = 28;
  const lane = 8;
  const clients = model.data.lanes > 0 ? Math.max(model.data.lanes * lane + 24, 64) : 0;
  const column = (width - left - clients) / Math.max(model.data.replicas.length, 1);
  return {
    left,
    top,
    clients,
    x: (end) => (end < 0 ? left + 12 + (-1 - end) * lane + lane / 2 : left + clients + column * (end + 0.5)),
  };
}

/** The first index whose value is at least `t` in a sorted array. */
export function lowerBound(values: Float64Array, t: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The colour of the `type`th type, the same in light and dark. */
export function hue(type: number): string {
  const colors = ["#0969da", "#bf3989", "#1a7f37", "#bc4c00", "#8250df", "#0a7f8f", "#9a6700", "#cf222e", "#57606a"];
  return colors[type % colors.length]!;
}

/**
 * Draws the window: faults as bands, a lifeline per replica and the clients'
 * lanes, each client operation a bar, each message an arrow from its send to
 * its receipt (replies dashed), a lost one a short stub ending in a cross.
 * Returns the indices of the messages drawn, for hovering.
 */
export function drawMessages(ctx: Canvas2D, model: Model, view: View, tick: typeof ticks): number[] {
  const { data } = model;
  const { from, to, width, height, colors } = view;
  const { left, top, clients, x } = layout(model, width);
  const plot = height - top - 8;
  const y = (t: number) => top + ((t - from) / (to - from)) * plot;
  const clamp = (v: number) => Math.min(Math.max(v, top - 2), height);
  ctx.clearRect(0, 0, width, height);
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  ctx.setLineDash([]);
  for (const [a, b, label, names] of data.faults) {
    if (b < from || a > to) continue;
    const y1 = clamp(y(a));
    const h = Math.max(clamp(y(b)) - y1, 2);
    ctx.fillStyle = colors.fault;
    ctx.fillRect(left, y1, width - left, h);
    for (const r of names) ctx.fillRect(x(r) - 14, y1, 28, h);
    ctx.fillStyle = colors.muted;
    ctx.textAlign = "right";
    ctx.fillText(label, width - 4, Math.max(y1 + 8, top + 8));
  }
  ctx.fillStyle = colors.fg;
  ctx.textAlign = "center";
  ctx.strokeStyle = colors.grid;
  ctx.lineWidth = 1;
  ctx.beginPath();
  data.replicas.forEach((name, r) => {
    ctx.fillText(name, x(r), top / 2);
    ctx.moveTo(x(r), top);
    ctx.lineTo(x(r), height);
  });
  ctx.stroke();
  if (data.lanes > 0) ctx.fillText("clients", left + clients / 2, top / 2);
  ctx.fillStyle = colors.muted;
  ctx.textAlign = "right";
  for (const { t, label } of tick(from, to, data.scale, false)) ctx.fillText(label, left - 8, y(t));
  ctx.fillText("ms", left - 8, top / 2);

  // What crosses the window's edges is cut there, clear of the names above.
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width - left, height - top);
  ctx.clip();
  // Client operations: a bar from invoke to completion.
  for (let i = 0; i < model.opStart.length; i++) {
    if (model.opEnd[i]! < from || model.opStart[i]! > to) continue;
    const kind = model.opKind[i]!;
    const y1 = clamp(y(model.opStart[i]!));
    const h = Math.max(clamp(y(model.opEnd[i]!)) - y1, 2);
    const bx = x(-1 - model.opLane[i]!) - 3;
    if (kind === 2) {
      ctx.strokeStyle = colors.muted;
      ctx.strokeRect(bx, y1, 6, h);
    } else {
      ctx.fillStyle = [colors.ok, colors.info, "", colors.error][kind]!;
      ctx.fillRect(bx, y1, 6, h);
    }
  }

  // Messages: those that cross the window, grouped by look so that each group is one path.
  const drawn: number[] = [];
  const groups = new Map<number, number[]>();
  const end = lowerBound(model.send, to + 1e-9);
  for (let i = lowerBound(model.send, from - model.flight); i < end; i++) {
    const r = model.receive[i]!;
    if (Number.isNaN(r) ? model.send[i]! < from : r < from) continue;
    drawn.push(i);
    let group = groups.get(model.kind[i]!);
    if (group === undefined) groups.set(model.kind[i]!, (group = []));
    group.push(i);
  }
  const heads = drawn.length <= 2000;
  const stub = (i: number): [number, number] => {
    const x1 = x(model.from[i]!);
    return [x1 + (x(model.to[i]!) - x1) / 3, y(model.send[i]!) + 10];
  };
  const arrow = (i: number) => {
    const x1 = x(model.from[i]!);
    const y1 = y(model.send[i]!);
    const lost = Number.isNaN(model.receive[i]!);
    const [x2, y2] = lost ? stub(i) : [x(model.to[i]!), y(model.receive[i]!)];
    ctx.moveTo(x1, y1);
    ctx.lineTo(x2, y2);
    if (heads && !lost) {
      const angle = Math.atan2(y2 - y1, x2 - x1);
      ctx.moveTo(x2 - 7 * Math.cos(angle - 0.4), y2 - 7 * Math.sin(angle - 0.4));
      ctx.lineTo(x2, y2);
      ctx.lineTo(x2 - 7 * Math.cos(angle + 0.4), y2 - 7 * Math.sin(angle + 0.4));
    }
  };
  for (const [kind, group] of groups) {
    ctx.strokeStyle = hue(kind >> 1);
    ctx.lineWidth = 1.2;
    ctx.setLineDash(kind & 1 ? [4, 3] : []);
    ctx.beginPath();
    for (const i of group) arrow(i);
    ctx.stroke();
  }
  ctx.setLineDash([]);
  ctx.strokeStyle = colors.error;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  for (const i of drawn) {
    if (!Number.isNaN(model.receive[i]!)) continue;
    const [cx, cy] = stub(i);
    ctx.moveTo(cx - 4, cy - 4);
    ctx.lineTo(cx + 4, cy + 4);
    ctx.moveTo(cx + 4, cy - 4);
    ctx.lineTo(cx - 4, cy + 4);
  }
  ctx.stroke();
  if (drawn.length <= 150) {
    ctx.fillStyle = colors.fg;
    ctx.textAlign = "center";
    for (const i of drawn) {
      if (Number.isNaN(model.receive[i]!)) continue;
      const mx = (x(model.from[i]!) + x(model.to[i]!)) / 2;
      const my = (y(model.send[i]!) + y(model.receive[i]!)) / 2;
      ctx.fillText(data.types[model.kind[i]! >> 1]!, mx, my - 7);
    }
  }
  if (view.hover >= 0) {
    ctx.strokeStyle = colors.fg;
    ctx.lineWidth = 3;
    ctx.setLineDash([]);
    ctx.beginPath();
    arrow(view.hover);
    ctx.stroke();
  }
  ctx.restore();
  return drawn;
}

/** What is under the point (x, y): a message drawn (`m`), else a client operation (`o`), else a fault (`f`). */
export function hit(
  model: Model,
  view: View,
  drawn: readonly number[],
  px: number,
  py: number,
): { m: number } | { o: number } | { f: number } | undefined {
  const { x, top } = layout(model, view.width);
  const plot = view.height - top - 8;
  const y = (t: number) => top + ((t - view.from) / (view.to - view.from)) * plot;
  let best = -1;
  let nearest = 5;
  for (const i of drawn) {
    const x1 = x(model.from[i]!);
    const y1 = y(model.send[i]!);
    const lost = Number.isNaN(model.receive[i]!);
    const x2 = lost ? x1 + (x(model.to[i]!) - x1) / 3 : x(model.to[i]!);
    const y2 = lost ? y1 + 10 : y(model.receive[i]!);
    const dx = x2 - x1;
    const dy = y2 - y1;
    const s = Math.max(0, Math.min(1, ((px - x1) * dx + (py - y1) * dy) / (dx * dx + dy * dy || 1)));
    const d = Math.hypot(px - x1 - s * dx, py - y1 - s * dy);
    if (d < nearest) [best, nearest] = [i, d];
  }
  if (best >= 0) return { m: best };
  const t = view.from + ((py - top) / plot) * (view.to - view.from);
  for (let i = 0; i < model.opStart.length; i++) {
    if (model.opStart[i]! <= t && t <= model.opEnd[i]! && Math.abs(px - x(-1 - model.opLane[i]!)) <= 4) return { o: i };
  }
  const fault = model.data.faults.findIndex(([a, b]) => a <= t && t <= b);
  return fault >= 0 ? { f: fault } : undefined;
}

/** The words for what hit() found. */
export function describe(model: Model, found: { m: number } | { o: number } | { f: number }): string {
  const { data } = model;
  const ms = (t: number) => (t / data.scale).toFixed(3);
  const name = (end: number) => (end < 0 ? "client" : data.replicas[end]!);
  if ("m" in found) {
    const i = found.m;
    const fields = model.fields[i]! >= 0 ? ` · ${data.fields[model.fields[i]!]}` : "";
    const kind = `${data.types[model.kind[i]! >> 1]}${model.kind[i]! & 1 ? " reply" : ""}`;
    const r = model.receive[i]!;
    const when = Number.isNaN(r)
      ? `sent at ${ms(model.send[i]!)} ms, lost`
      : `${ms(model.send[i]!)} → ${ms(r)} ms (${ms(r - model.send[i]!)} ms)`;
    return `${kind} ${name(model.from[i]!)} → ${name(model.to[i]!)} · ${when}${fields} · line ${model.line[i]}`;
  }
  if ("o" in found) {
    const i = found.o;
    const kind = ["ok", "info", "fail", "cannot be ordered"][model.opKind[i]!];
    return `${data.labels[model.opLabel[i]!]} · ${kind} · ${ms(model.opStart[i]!)} → ${ms(model.opEnd[i]!)} ms`;
  }
  const [a, b, label] = data.faults[found.f]!;
  return `${label} · ${ms(a)} → ${ms(b)} ms`;
}

/** What browse() uses of the page (this folder compiles without the DOM's types). */
interface Element {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  hidden: boolean;
  width: number;
  height: number;
  clientWidth: number;
  clientHeight: number;
  style: Record<string, string>;
  getContext(
    kind: "2d",
  ): (Canvas2D & { setTransform(a: number, b: number, c: number, d: number, e: number, f: number): void }) | null;
  getBoundingClientRect(): { left: number; top: number };
  addEventListener(type: string, listener: (event: PointerEvent) => void, options?: { passive: boolean }): void;
  setPointerCapture(id: number): void;
  hasPointerCapture(id: number): boolean;
}
interface PointerEvent {
  pointerId: number;
  clientX: number;
  clientY: number;
  deltaY: number;
  ctrlKey: boolean;
  metaKey: boolean;
  preventDefault(): void;
}
interface Page {
  document: {
    getElementById(id: string): Element | null;
    querySelectorAll(selector: string): Iterable<Element>;
    documentElement: Element;
  };
  devicePixelRatio: number;
  getComputedStyle(element: Element): { getPropertyValue(name: string): string };
  requestAnimationFrame(callback: () => void): void;
  addEventListener(type: string, listener: () => void): void;
}

/** The page's script: draws the window and moves it (drag or scroll the diagram or the strip beside it; ctrl+scroll and the buttons zoom), and says what is under the pointer. */
export function browse(): void {
  const page = globalThis as unknown as Page;
  const { document } = page;
  const data = JSON.parse(document.getElementById("mg-data")!.textContent!) as MessagesData;
  const model = decode(data);
  const canvas = document.getElementById("mg-canvas")!;
  const strip = document.getElementById("mg-overview")!;
  const tip = document.getElementById("mg-tip")!;
  const where = document.getElementById("mg-where")!;
  const css = page.getComputedStyle(document.documentElement);
  const color = (name: string) => css.getPropertyValue(name).trim();
  const view: View = {
    from: Number(canvas.dataset.from),
    to: Number(canvas.dataset.to),
    width: 0,
    height: 0,
    hover: -1,
    colors: {
      fg: color("--fg"),
      muted: color("--muted"),
      grid: color("--grid"),
      fault: color("--fault"),
      error: color("--error"),
      ok: color("--series"),
      info: color("--info"),
    },
  };
  let drawn: number[] = [];
  let queued = false;
  const paint = () => {
    queued = false;
    const ratio = page.devicePixelRatio || 1;
    view.width = canvas.clientWidth;
    view.height = canvas.clientHeight;
    for (const c of [canvas, strip]) {
      c.width = Math.round(c.clientWidth * ratio);
      c.height = Math.round(c.clientHeight * ratio);
    }
    const ctx = canvas.getContext("2d")!;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    drawn = drawMessages(ctx, model, view, ticks);
    // The strip: messages sent per pixel row over the whole run, faults shaded, the window framed.
    const s = strip.getContext("2d")!;
    s.setTransform(ratio, 0, 0, ratio, 0, 0);
    const w = strip.clientWidth;
    const h = strip.clientHeight;
    const rows = new Array<number>(Math.max(1, Math.round(h))).fill(0);
    for (let i = 0; i < model.count; i++)
      rows[Math.min(rows.length - 1, Math.floor((model.send[i]! / data.end) * rows.length))]!++;
    const most = Math.max(1, ...rows);
    s.clearRect(0, 0, w, h);
    s.fillStyle = view.colors.ok;
    rows.forEach((n, r) => n > 0 && s.fillRect(0, r, (n / most) * w, 1));
    s.fillStyle = view.colors.fault;
    for (const [a, b] of data.faults) s.fillRect(0, (a / data.end) * h, w, Math.max(((b - a) / data.end) * h, 1));
    s.strokeStyle = view.colors.fg;
    s.lineWidth = 1.5;
    s.strokeRect(1, (view.from / data.end) * h, w - 2, Math.max(((view.to - view.from) / data.end) * h, 2));
    const ms = (t: number) => (t / data.scale).toFixed(view.to - view.from < 10 * data.scale ? 3 : 1);
    where.textContent = `${ms(view.from)}–${ms(view.to)} ms of ${ms(data.end)} ms · ${drawn.length} messages shown`;
  };
  const render = () => {
    if (!queued) page.requestAnimationFrame(paint);
    queued = true;
  };
  const show = (a: number, b: number) => {
    const span = Math.min(Math.max(b - a, 10), data.end);
    view.from = Math.min(Math.max(a, 0), data.end - span);
    view.to = view.from + span;
    render();
  };
  const timeAt = (event: PointerEvent, element: Element, whole: boolean) => {
    const top = element.getBoundingClientRect().top;
    if (whole) return ((event.clientY - top) / element.clientHeight) * data.end;
    const plotTop = layout(model, view.width).top;
    return view.from + ((event.clientY - top - plotTop) / (view.height - plotTop - 8)) * (view.to - view.from);
  };
  const zoom = (factor: number, at: number) => show(at - (at - view.from) * factor, at + (view.to - at) * factor);
  let grab: { y: number; from: number } | undefined;
  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    grab = { y: event.clientY, from: view.from };
  });
  canvas.addEventListener("pointerup", () => (grab = undefined));
  canvas.addEventListener("pointermove", (event) => {
    const box = canvas.getBoundingClientRect();
    if (grab && canvas.hasPointerCapture(event.pointerId)) {
      const shift = ((grab.y - event.clientY) / view.height) * (view.to - view.from);
      show(grab.from + shift, grab.from + shift + (view.to - view.from));
      return;
    }
    const found = hit(model, view, drawn, event.clientX - box.left, event.clientY - box.top);
    const hover = found && "m" in found ? found.m : -1;
    if (hover !== view.hover) {
      view.hover = hover;
      render();
    }
    tip.hidden = found === undefined;
    if (found === undefined) return;
    tip.textContent = describe(model, found);
    tip.style.left = `${event.clientX - box.left + 14}px`;
    tip.style.top = `${event.clientY - box.top + 14}px`;
  });
  canvas.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      if (event.ctrlKey || event.metaKey) return zoom(Math.exp(event.deltaY / 300), timeAt(event, canvas, false));
      const shift = (event.deltaY / view.height) * (view.to - view.from);
      show(view.from + shift, view.to + shift);
    },
    { passive: false },
  );
  const centre = (event: PointerEvent) => {
    const t = timeAt(event, strip, true);
    show(t - (view.to - view.from) / 2, t + (view.to - view.from) / 2);
  };
  strip.addEventListener("pointerdown", (event) => {
    strip.setPointerCapture(event.pointerId);
    centre(event);
  });
  strip.addEventListener("pointermove", (event) => {
    if (strip.hasPointerCapture(event.pointerId)) centre(event);
  });
  for (const button of document.querySelectorAll("[data-zoom], [data-pan], [data-whole]")) {
    button.addEventListener("click", () => {
      const span = view.to - view.from;
      if (button.dataset.zoom) zoom(Number(button.dataset.zoom), (view.from + view.to) / 2);
      else if (button.dataset.pan)
        show(view.from + span * Number(button.dataset.pan), view.to + span * Number(button.dataset.pan));
      else show(0, data.end);
    });
  }
  page.addEventListener("resize", render);
  document.getElementById("mg-controls")!.hidden = false;
  render();
}
