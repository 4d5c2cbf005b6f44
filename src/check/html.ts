// A history drawn as one self-contained HTML page (inline CSS and SVG, one
// small inline script, nothing fetched), in the look of the bench report: the
// run's overview and a window of it in detail (timeline.ts), one row per
// process, each operation a bar from its invoke to its completion, the ones
// that cannot be ordered in red, `info` ones hatched, faults shaded. A pure
// function of its input: the same history renders the same bytes.
import type { History, Operation } from "./history.js";
import type { CheckResult } from "./index.js";
import { escape, group, page } from "./markup.js";
import { detail, embed, overview, script, ticks, timelineData } from "./timeline.js";
import { describeCall } from "./witness.js";

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

function timeline(history: History, result: CheckResult): string {
  const { data, window } = timelineData(history, result);
  const [from, to] = window;
  const shown = from === 0 && to === data.end ? "the whole run" : "a window of the run";
  return [
    '<section class="history">',
    "<h2>History</h2>",
    '<p class="legend"><span class="swatch ok"></span>ok <span class="swatch info"></span>info (may or may not have happened) ' +
      '<span class="swatch fail"></span>fail (did not happen) <span class="swatch blocked"></span>cannot be ordered ' +
      '<span class="swatch nemesis"></span>fault</p>',
    "<figure>",
    overview(data, window),
    '<p id="tl-controls" class="controls" hidden><button type="button" data-pan="-0.5">◀</button> ' +
      '<button type="button" data-zoom="0.5">zoom in</button> <button type="button" data-zoom="2">zoom out</button> ' +
      '<button type="button" data-pan="0.5">▶</button> <span id="tl-where"></span> · drag on the strip to move the window</p>',
    `<noscript><p class="note">Below, ${shown}${shown === "the whole run" ? "" : " (around the first operation that cannot be ordered, or the first fault)"}; with script the window moves and zooms.</p></noscript>`,
    `<div id="tl-detail" data-from="${from}" data-to="${to}">`,
    detail(data, from, to, ticks, escape),
    "</div>",
    "</figure>",
    `<script type="application/json" id="tl-data">${embed(data)}</script>`,
    `<script>${script()}</script>`,
    "</section>",
  ].join("\n");
}

function lines(op: Operation): string {
  return op.complete ? `${op.invoke.line}–${op.complete.line}` : `${op.invoke.line}–`;
}

function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${group(String(n))} ${n === 1 ? noun : nouns}`;
}

/** The bench report's palette and type, which the message page shares. */
export const STYLE = `
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
.history figure { margin: 1rem 0 0; padding: 0.5rem; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
.history svg { width: 100%; height: auto; }
.history .controls { margin: 0.2rem 0; color: var(--muted); font-size: 0.9em; }
.history .controls button { font: inherit; padding: 0.1rem 0.6rem; }
#tl-detail { max-height: 70vh; overflow: auto; }
svg .density { fill: var(--series); opacity: 0.7; }
svg .window { fill: none; stroke: var(--fg); stroke-width: 1.5; cursor: grab; }
svg.overview { cursor: pointer; touch-action: none; }
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
