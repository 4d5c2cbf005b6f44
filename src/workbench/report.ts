// The HTML report of one bench run: a single self-contained page (inline CSS
// and SVG, nothing fetched; a kv run's history brings the small script that
// moves its window) so it opens from a CI artifact or a mail as is. It is a pure function of the run: no clock, no locale, so the
// same run renders the same bytes and two reports can be diffed.
import { HISTORY_STYLE, historyView } from "../check/html.js";
import { coord, escape, group, page } from "../check/markup.js";
import type { Checked } from "./bench.js";
import { count, counters, micros, rate, seconds } from "./format.js";
import type { ClientRecord, Latency, Run, ServerRecord } from "./results.js";

/**
 * The page of `run`: summary, throughput over time (faults shaded), latency by
 * percentile, servers, flags; and for a kv run its history, checked, or why it
 * is not there (`history` names the file that could not be read).
 */
export function renderReport(run: Run, history?: Checked | { missing: string }, messages?: string): string {
  const { client } = run;
  // ClientRecord.requests counts Propose calls, or Dispatch messages.
  const noun = client.bench === "dispatch" ? "messages" : "requests";
  const style = STYLE + (history && "result" in history ? HISTORY_STYLE : "");
  return page(`${client.bench} bench · ${client.run}`, style, [
    header(client, messages),
    "<main>",
    summary(client, noun),
    latencyTable(client.latency),
    throughputChart(client, noun),
    latencyChart(client.percentiles),
    ...(history ? [linearizability(history)] : []),
    servers(run.servers),
    flags(client.flags),
    "</main>",
  ]);
}

/** `messages`: the link to the page of the run's messages (--trace), from this page. */
function header(client: ClientRecord, messages: string | undefined): string {
  const targets =
    client.targets.length > 0 ? client.targets.map((t) => `<code>${escape(t)}</code>`).join(", ") : "none";
  return [
    "<header>",
    `<h1>${escape(client.bench)} bench <span class="run">${escape(client.run)}</span></h1>`,
    `<p class="meta">written ${escape(client.time)} · version ${escape(client.version)} · targets ${targets}</p>`,
    `<p class="meta">measured from ${escape(client.started)} to ${escape(client.finished)}</p>`,
    ...(messages === undefined
      ? []
      : [`<p class="meta"><a href="${escape(messages)}">the run's messages</a>, a column per replica</p>`]),
    "</header>",
  ].join("\n");
}

function summary(client: ClientRecord, noun: string): string {
  const rows: [string, string][] = [
    ["throughput", escape(`${rate(client.throughput)} ${noun}/s`)],
    [noun, escape(count(client.requests))],
    ["duration", escape(seconds(client.duration))],
    ["successes", escape(count(client.successes))],
    ["declines", escape(count(client.declines))],
    ["redirects", escape(count(client.redirects))],
    ["errors", escape(count(client.errors))],
  ];
  if (client.error !== undefined) rows.push(["first error", `<code class="error">${escape(client.error)}</code>`]);
  const body = rows.map(([name, html]) => `<tr><th scope="row">${escape(name)}</th><td>${html}</td></tr>`);
  return ["<section>", "<h2>Summary</h2>", '<table class="summary">', ...body, "</table>", "</section>"].join("\n");
}

const LATENCY_COLUMNS: [string, keyof Latency][] = [
  ["min", "min"],
  ["mean", "mean"],
  ["p50", "p50"],
  ["p90", "p90"],
  ["p99", "p99"],
  ["p99.9", "p999"],
  ["max", "max"],
];

function latencyTable(latency: Latency): string {
  const head = LATENCY_COLUMNS.map(([name]) => `<th scope="col">${escape(name)}</th>`).join("");
  const cells = LATENCY_COLUMNS.map(([, key]) => `<td>${escape(micros(latency[key]))}</td>`).join("");
  return [
    "<section>",
    "<h2>Latency</h2>",
    "<table>",
    `<tr>${head}</tr>`,
    `<tr>${cells}</tr>`,
    "</table>",
    "</section>",
  ].join("\n");
}

function throughputChart(client: ClientRecord, noun: string): string {
  const { interval, counts } = client.timeline;
  // A record without a usable interval still gets a chart, at one second per count.
  const step = Number.isFinite(interval) && interval > 0 ? interval : 1;
  const points = counts.map((n, i): Point => [i * step, n / step]);
  const mean = Number.isFinite(client.throughput) && client.throughput > 0 ? client.throughput : undefined;
  return chart({
    title: "Throughput over time",
    // One point still needs an x range: one interval wide.
    x: linearAxis(Math.max(step * (counts.length - 1), step), "seconds since start"),
    y: linearAxis(Math.max(maximum(points.map(([, y]) => y)), mean ?? 0), `${noun} per second`),
    series: "throughput",
    points,
    reference: mean === undefined ? undefined : { at: mean, label: `mean ${rate(mean)}/s` },
    bands: (client.faults ?? []).map(({ fault, value, start, end }) => ({
      from: start,
      to: end,
      label: `${fault} ${Array.isArray(value) ? value.map((side) => side.join(" ")).join(" | ") : value}`,
    })),
  });
}

/** HdrHistogram's percentile ticks: one decade of 1/(1−p) per nine. */
const PERCENTILE_TICKS = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"];

function latencyChart(percentiles: [number, number][]): string {
  // p = 100 is at infinity on this scale: left out of the range, and drawn on the last tick.
  const nines = percentiles.map(([p]) => (p < 100 ? -Math.log10(1 - Math.max(p, 0) / 100) : Infinity));
  // As many ticks as the data reaches (at least 90%); the slack keeps 99.9% from rounding up to a fourth decade.
  const decades = Math.min(Math.max(Math.ceil(maximum(nines) - 1e-9), 1), PERCENTILE_TICKS.length - 1);
  const top = maximum(percentiles.map(([, us]) => us));
  const ms = top >= 1000;
  const scale = ms ? 1000 : 1;
  return chart({
    title: "Latency by percentile",
    x: {
      max: decades,
      ticks: PERCENTILE_TICKS.slice(0, decades + 1).map((label, at) => ({ at, label })),
      label: "percentile",
    },
    y: linearAxis(top / scale, `latency (${ms ? "ms" : "µs"})`),
    series: "latency",
    points: percentiles.map(([, us], i): Point => [Math.min(nines[i]!, decades), us / scale]),
  });
}

function linearizability(history: Checked | { missing: string }): string {
  if ("missing" in history) {
    return [
      "<section>",
      "<h2>Linearizability</h2>",
      `<p class="note">The history of this run, <code>${escape(history.missing)}</code>, could not be read.</p>`,
      "</section>",
    ].join("\n");
  }
  const { result } = history;
  const keys = `${count(result.operations)} operations on ${count(result.keys.length)} keys`;
  return [
    "<section>",
    "<h2>Linearizability</h2>",
    `<p class="verdict ${result.verdict.replace(" ", "-")}">${escape(result.verdict)} <span class="note">(${keys})</span></p>`,
    "</section>",
    historyView(history.history, result),
  ].join("\n");
}

const UNCOMMITTED = "uncommitted";
const UNCOMMITTED_TITLE = "requests completed without a commit: declined, failed or redirected";

function servers(list: ServerRecord[]): string {
  if (list.length === 0) {
    return [
      "<section>",
      "<h2>Servers</h2>",
      '<p class="note">No server lines carry this run\'s label: the bench did not start the replicas, or they wrote no metrics.</p>',
      "</section>",
    ].join("\n");
  }
  // The replica's metric is named `drops`; what it counts is every request answered without a commit.
  // The protocol's own counters get a column when a replica counted any.
  const counted = counters(list) !== "";
  const head = ["name", "messages", "requests", "commits", UNCOMMITTED, "clients", "throughput", "duration"];
  if (counted) head.push("counted");
  const rows = list.map((server) => {
    const cells = [
      count(server.messages),
      count(server.requests),
      count(server.commits),
      count(server.drops),
      count(server.clients),
      `${rate(server.throughput)} commits/s`,
      seconds(server.duration),
      ...(counted ? [counters([server])] : []),
    ];
    const name = `<th scope="row">${escape(server.name ?? "—")}</th>`;
    return `<tr>${name}${cells.map((cell) => `<td>${escape(cell)}</td>`).join("")}</tr>`;
  });
  return [
    "<section>",
    "<h2>Servers</h2>",
    '<table class="servers">',
    `<tr>${head.map((name) => `<th scope="col"${name === UNCOMMITTED ? ` title="${UNCOMMITTED_TITLE}"` : ""}>${name}</th>`).join("")}</tr>`,
    ...rows,
    "</table>",
    ...(counted && list.length > 1 ? [`<p class="note">All replicas: ${escape(counters(list))}</p>`] : []),
    "</section>",
  ].join("\n");
}

function flags(record: ClientRecord["flags"]): string {
  // Sorted with < rather than localeCompare, which depends on the machine's locale.
  const keys = Object.keys(record).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const body =
    keys.length === 0
      ? ['<p class="note">none</p>']
      : [
          '<table class="flags">',
          ...keys.map(
            (key) =>
              `<tr><th scope="row"><code>--${escape(key)}</code></th><td><code>${escape(String(record[key]))}</code></td></tr>`,
          ),
          "</table>",
        ];
  return ["<section>", "<h2>Flags</h2>", ...body, "</section>"].join("\n");
}

// Charts ---------------------------------------------------------------------

type Point = [x: number, y: number];

/** An axis from 0 to `max`, in data units. */
interface Axis {
  max: number;
  ticks: { at: number; label: string }[];
  label: string;
}

interface Chart {
  title: string;
  x: Axis;
  y: Axis;
  /** The `data-series` of the line, for tools and tests that read the page. */
  series: string;
  points: Point[];
  /** A dashed horizontal line, such as the mean. */
  reference?: { at: number; label: string } | undefined;
  /** Shaded spans of x, such as the nemesis's faults, each with its label. */
  bands?: { from: number; to: number; label: string }[];
}

const WIDTH = 760;
const HEIGHT = 320;
const MARGIN = { top: 40, right: 40, bottom: 52, left: 76 };
const PLOT_WIDTH = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_HEIGHT = HEIGHT - MARGIN.top - MARGIN.bottom;
const BOTTOM = HEIGHT - MARGIN.bottom;
const RIGHT = WIDTH - MARGIN.right;

function chart(c: Chart): string {
  const px = (x: number) => coord(MARGIN.left + fraction(x, c.x.max) * PLOT_WIDTH);
  const py = (y: number) => coord(BOTTOM - fraction(y, c.y.max) * PLOT_HEIGHT);
  const middleX = coord(MARGIN.left + PLOT_WIDTH / 2);
  const middleY = coord(MARGIN.top + PLOT_HEIGHT / 2);
  const parts = [
    `<figure><svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img">`,
    `<title>${escape(c.title)}</title>`,
    `<text class="title" x="${MARGIN.left}" y="22">${escape(c.title)}</text>`,
    ...c.y.ticks.flatMap(({ at, label }) => [
      `<line class="grid" x1="${MARGIN.left}" x2="${RIGHT}" y1="${py(at)}" y2="${py(at)}"/>`,
      `<text class="tick" x="${MARGIN.left - 8}" y="${py(at)}" dy="0.32em" text-anchor="end">${escape(label)}</text>`,
    ]),
    ...c.x.ticks.flatMap(({ at, label }) => [
      `<line class="axis" x1="${px(at)}" x2="${px(at)}" y1="${BOTTOM}" y2="${BOTTOM + 5}"/>`,
      `<text class="tick" x="${px(at)}" y="${BOTTOM + 18}" text-anchor="middle">${escape(label)}</text>`,
    ]),
    // Under the series: a fault is the background of what it did to the throughput.
    ...(c.bands ?? []).map(({ from, to, label }) => {
      const at = (x: number) => MARGIN.left + fraction(x, c.x.max) * PLOT_WIDTH;
      const width = coord(Math.max(at(to) - at(from), 1));
      return `<rect class="band" x="${px(from)}" y="${MARGIN.top}" width="${width}" height="${PLOT_HEIGHT}"><title>${escape(label)}</title></rect>`;
    }),
    `<path class="axis" d="M${MARGIN.left} ${MARGIN.top}V${BOTTOM}H${RIGHT}"/>`,
    `<text class="label" x="${middleX}" y="${HEIGHT - 10}" text-anchor="middle">${escape(c.x.label)}</text>`,
    `<text class="label" transform="translate(16 ${middleY}) rotate(-90)" text-anchor="middle">${escape(c.y.label)}</text>`,
  ];
  if (c.reference !== undefined) {
    const y = py(c.reference.at);
    // Its label goes in a legend by the title, where the series cannot run over it.
    parts.push(
      `<line class="reference" x1="${MARGIN.left}" x2="${RIGHT}" y1="${y}" y2="${y}"/>`,
      `<line class="reference" x1="${RIGHT - 24}" x2="${RIGHT}" y1="18" y2="18"/>`,
      `<text class="reference" x="${RIGHT - 30}" y="22" text-anchor="end">${escape(c.reference.label)}</text>`,
    );
  }
  const points = c.points.map(([x, y]) => `${px(x)},${py(y)}`);
  parts.push(`<polyline class="series" data-series="${escape(c.series)}" points="${points.join(" ")}"/>`);
  // A polyline of one point draws nothing: mark it.
  if (points.length === 1)
    parts.push(`<circle class="dot" cx="${px(c.points[0]![0])}" cy="${py(c.points[0]![1])}" r="3"/>`);
  if (points.length === 0) {
    parts.push(`<text class="empty" x="${middleX}" y="${middleY}" text-anchor="middle">no data</text>`);
  }
  parts.push("</svg></figure>");
  return parts.join("\n");
}

/** An axis from 0 to a round number at or above `max` (1 when there is nothing to show). */
function linearAxis(max: number, label: string): Axis {
  const top = Number.isFinite(max) && max > 0 ? max : 1;
  // The step is 1, 2 or 5 times a power of ten, for about five intervals.
  const exponent = Math.floor(Math.log10(top / 5));
  const magnitude = 10 ** exponent;
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s * 5 >= top) ?? 10 * magnitude;
  const intervals = Math.ceil(top / step - 1e-9);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const ticks = Array.from({ length: intervals + 1 }, (_, i) => ({
    at: i * step,
    label: group((i * step).toFixed(decimals)),
  }));
  return { max: intervals * step, ticks, label };
}

/** Where `value` falls between 0 and `max`, clamped to the plot so no point leaves it. */
function fraction(value: number, max: number): number {
  return Number.isFinite(value) && max > 0 ? Math.min(Math.max(value / max, 0), 1) : 0;
}

// Formatting -----------------------------------------------------------------
// Every figure goes through one of these, so a missing or broken number in a
// record shows as a dash, never as NaN or Infinity.

/** The largest finite value, or 0. */
function maximum(values: number[]): number {
  return values.reduce((max, value) => (Number.isFinite(value) && value > max ? value : max), 0);
}

const STYLE = `
:root {
  color-scheme: light dark;
  --fg: #1f2328; --muted: #59636e; --bg: #ffffff; --panel: #f6f8fa;
  --line: #d1d9e0; --grid: #e8ecf0; --series: #0969da; --reference: #bf3989; --error: #cf222e;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --panel: #151b23;
    --line: #3d444d; --grid: #262c36; --series: #4493f8; --reference: #db61a2; --error: #f85149;
  }
}
body { margin: 0 auto; max-width: 960px; padding: 1.5rem 1rem 3rem; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
h1 { margin: 0 0 0.25rem; font-size: 1.6rem; }
h1 .run { color: var(--muted); font-weight: normal; }
h2 { margin: 2rem 0 0.5rem; font-size: 1.15rem; }
.meta, .note { margin: 0.1rem 0; color: var(--muted); }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.error { color: var(--error); overflow-wrap: anywhere; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 0.3rem 0.9rem 0.3rem 0; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
th { font-weight: 600; }
th[scope="row"], .summary td, .flags td { text-align: left; }
.summary th, .flags th { color: var(--muted); font-weight: normal; }
figure { margin: 2rem 0 0; padding: 0.5rem; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
svg { display: block; width: 100%; height: auto; font-size: 12px; }
svg text { fill: var(--fg); }
svg .title { font-size: 15px; font-weight: 600; }
svg .tick, svg .empty { fill: var(--muted); }
svg .axis { fill: none; stroke: var(--muted); stroke-width: 1; }
svg .grid { stroke: var(--grid); stroke-width: 1; }
svg .series { fill: none; stroke: var(--series); stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
svg .dot { fill: var(--series); }
svg rect.band { fill: var(--reference); opacity: 0.15; }
svg line.reference { stroke: var(--reference); stroke-width: 1; stroke-dasharray: 5 4; }
svg text.reference { fill: var(--reference); }
`;
