// The history page: bars where the events put them (by position, or by time
// when every event has one), faults shaded, everything from the file escaped,
// and the same bytes for the same history.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { DomUtils, parseDocument } from "htmlparser2";
import type { Element } from "domhandler";
import { checkHistory, parseHistory, renderHistory } from "../../src/check/index.js";
import { REPO } from "../support/paths.js";
import { generate, staleRead } from "./histories.js";

async function page(events: object[], title = "h.jsonl") {
  const history = parseHistory(events);
  const html = renderHistory(history, await checkHistory(history), title);
  const document = parseDocument(html);
  const groups = (kind: string) =>
    DomUtils.findAll(
      (element) => element.name === "g" && (element.attribs.class ?? "").split(" ").includes(kind),
      document.children,
    );
  /** [x, width] of each bar of `kind`. */
  const bars = (kind: string) =>
    groups(kind).map((g) => {
      const rect = DomUtils.findOne((element) => element.name === "rect", g.children)!;
      return [Number(rect.attribs.x), Number(rect.attribs.width)];
    });
  return { html, document, groups, bars };
}

// A write, a pause, a read of a value never written, and a write that never completes; the page
// drawn of it is kept byte for byte beside it (npm run golden:update rewrites it).
const GOLDEN = path.join(REPO, "test/golden/check/history");
const events = readFileSync(`${GOLDEN}.jsonl`, "utf8")
  .split("\n")
  .filter(Boolean)
  .map((line) => JSON.parse(line) as Record<string, unknown>);

describe("renderHistory", () => {
  test("draws a bar per operation from invoke to completion, on the time axis when every event has a time", async () => {
    const { html, groups, bars } = await page(events);
    const [write] = bars("ok");
    const [read] = bars("blocked");
    const [open] = bars("info");
    // 10 ms across: the write spans 0–3, the read 2–9; the write that never completed runs to the end.
    assert.ok(write && read && open);
    assert.ok(Math.abs(read[0]! + read[1]! - (open[0]! + open[1]!)) > 1, "the read ends before the end");
    assert.ok(Math.abs(write[1]! / read[1]! - 3 / 7) < 0.01, `${write[1]} / ${read[1]}`);
    assert.ok(Math.abs((read[0]! - write[0]!) / write[1]! - 2 / 3) < 0.01);
    // In the overview of the run and in the detail of its window (here the whole run), each naming its kind.
    assert.deepEqual(
      groups("nemesis").map((g) => g.attribs["data-fault"]),
      ["pause", "pause"],
    );
    assert.match(html, /ms since the first event/);
    assert.match(html, /<title>x: read → 7 \(process 1, lines 3–5\)<\/title>/);
  });

  test("uses the events' order when some event has no time", async () => {
    const untimed = events.map(({ time, ...event }) => (time === 3_000_000 ? event : { ...event, time }));
    const { html, bars } = await page(untimed);
    const [write] = bars("ok");
    const [read] = bars("blocked");
    // Events 0–3 and 2–4 of 0–5.
    assert.ok(Math.abs(write![1]! / read![1]! - 3 / 2) < 0.01, `${write![1]} / ${read![1]}`);
    assert.match(html, />event<\/text>/);
  });

  test("escapes what comes from the file", async () => {
    const hostile = [
      { process: "<p>", type: "invoke", f: "write", key: "<b>&", value: "</svg><script>x</script>" },
      { process: "<p>", type: "ok", f: "write", key: "<b>&", value: "</svg><script>x</script>" },
    ];
    const { html, document } = await page(hostile, "<i>title</i>");
    assert.equal(DomUtils.findAll((element) => ["b", "i"].includes(element.name), document.children).length, 0);
    // Only the page's own two scripts: the data (where `<` is written \u003c) and the one that draws it.
    const scripts = DomUtils.findAll((element) => element.name === "script", document.children);
    assert.equal(scripts.length, 2);
    assert.ok(DomUtils.textContent(scripts[0]!).includes("\\u003c/svg>\\u003cscript>"));
    assert.ok(html.includes("&lt;i&gt;title&lt;/i&gt;"));
  });

  test("renders the same bytes for the same history", async () => {
    const { html } = await page(events, "history.jsonl");
    assert.match(html, /<p class="verdict not-linearizable">not linearizable<\/p>/);
    // After an intended change of the page: npm run golden:update.
    assert.equal(html, readFileSync(`${GOLDEN}.html`, "utf8"));
  });

  test("draws an empty history", async () => {
    const { html } = await page([]);
    assert.match(html, /<p class="verdict linearizable">linearizable<\/p>/);
  });
});

describe("a history of thousands of operations", () => {
  const events = generate({ processes: 40, keys: 8, operations: 8000, info: 0.02, seed: 3 }, true);
  const { events: stale, index } = staleRead(events);
  // The stale read's invoke: its process's last before its completion (lines are events, 1-based).
  const line = stale.findLastIndex((e, i) => i < index && e.process === stale[index]!.process) + 1;

  test("draws the whole run as an overview and opens the detail on the window around the first violation", async () => {
    const { html, document } = await page(stale);
    const detail = DomUtils.findOne((element) => element.attribs.id === "tl-detail", document.children)!;
    const within = (test: (element: Element) => boolean) => DomUtils.findAll(test, [detail]);
    const ops = within((element) => element.name === "g" && (element.attribs.class ?? "").startsWith("op "));
    // A window, not the run: a readable number of bars, the one that cannot be ordered among them.
    assert.ok(ops.length >= 30 && ops.length <= 400, `${ops.length} bars`);
    assert.deepEqual(
      ops.filter((g) => g.attribs.class === "op blocked").map((g) => g.attribs["data-line"]),
      [String(line)],
    );
    // Rows only for the processes with a bar in the window.
    const rows = within((element) => element.name === "text" && element.attribs.class === "process");
    assert.deepEqual(
      rows.map((text) => DomUtils.textContent(text)).sort(),
      [...new Set(ops.map((g) => `process ${g.attribs["data-process"]}`))].sort(),
    );
    // Real ticks on the window's axis, and the overview's frame where the window is.
    const ticks = within((element) => element.name === "text" && element.attribs.class === "tick");
    assert.ok(ticks.length >= 3, `${ticks.length} ticks`);
    assert.match(html, /<rect id="tl-window" class="window" x="[\d.]+"/);
    // The run's data once, in a few bytes per operation.
    assert.ok(html.length < 40 * 8000, `${html.length} bytes`);
  });

  test("opens on the first fault when nothing is wrong", async () => {
    const fault = (f: string, at: number) => ({
      process: "nemesis",
      type: "info",
      f,
      fault: "kill",
      value: "r2",
      time: at,
    });
    const middle = Math.floor(events.length / 2);
    const timed = (i: number) => events[i]!.time as number;
    const faulty = [
      ...events.slice(0, middle),
      fault("start", timed(middle) - 1),
      ...events.slice(middle),
      fault("stop", timed(events.length - 1) + 1),
    ];
    const { document } = await page(faulty);
    const detail = DomUtils.findOne((element) => element.attribs.id === "tl-detail", document.children)!;
    const [from, to] = [Number(detail.attribs["data-from"]), Number(detail.attribs["data-to"])];
    // In µs from the first event; the fault starts within the window, labelled with its kind and replica.
    const start = (timed(middle) - 1 - timed(0)) / 1000;
    assert.ok(from <= start && start <= to, `${from} ≤ ${start} ≤ ${to}`);
    assert.match(DomUtils.getOuterHTML(detail), /<text [^>]*>kill r2<\/text>/);
  });

  test("its script moves and zooms the window and follows a link to an operation", async () => {
    const { html, document } = await page(stale);
    const byId = (id: string) => DomUtils.findOne((element) => element.attribs.id === id, document.children)!;
    const [data, code] = DomUtils.findAll((element) => element.name === "script", document.children);
    /** An element as far as the script touches it. */
    const element = (attributes: Record<string, string> = {}, dataset: Record<string, string> = {}) => {
      const listeners = new Map<string, (event: { pointerId: number; clientX: number }) => void>();
      return {
        dataset,
        textContent: "",
        innerHTML: "",
        hidden: true,
        listeners,
        setAttribute: (name: string, value: string) => void (attributes[name] = value),
        getAttribute: (name: string) => attributes[name] ?? null,
        getBoundingClientRect: () => ({ left: 0, width: 900 }),
        addEventListener: (type: string, listener: (event: { pointerId: number; clientX: number }) => void) =>
          void listeners.set(type, listener),
        setPointerCapture: () => undefined,
        hasPointerCapture: () => true,
      };
    };
    const strip = byId("tl-overview").attribs;
    const ids = {
      "tl-data": { ...element(), textContent: DomUtils.textContent(data!) },
      "tl-detail": element(
        {},
        { from: byId("tl-detail").attribs["data-from"]!, to: byId("tl-detail").attribs["data-to"]! },
      ),
      "tl-window": element(),
      // htmlparser2 lowercases attribute names.
      "tl-overview": element({ viewBox: strip.viewbox! }, { left: strip["data-left"]!, plot: strip["data-plot"]! }),
      "tl-where": element(),
      "tl-controls": element(),
    };
    const zoomIn = element({}, { zoom: "0.5" });
    const windowListeners = new Map<string, () => void>();
    const globals = {
      document: { getElementById: (id: keyof typeof ids) => ids[id], querySelectorAll: () => [zoomIn] },
      location: { hash: "" },
      addEventListener: (type: string, listener: () => void) => void windowListeners.set(type, listener),
    };
    Object.assign(globalThis, globals);
    try {
      new Function(DomUtils.textContent(code!))();
    } finally {
      for (const name of Object.keys(globals)) delete (globalThis as Record<string, unknown>)[name];
    }
    const view = ids["tl-detail"];
    const bars = () => view.innerHTML.match(/<g class="op /g)?.length ?? 0;
    // It draws the window the page opened on as the page did, and shows its buttons.
    assert.ok(html.includes(view.innerHTML));
    assert.equal(ids["tl-controls"].hidden, false);
    const opened = bars();
    const width = Number(ids["tl-window"].getAttribute("width"));
    zoomIn.listeners.get("click")!({ pointerId: 1, clientX: 0 });
    assert.ok(bars() < opened, `${bars()} bars after zooming in on ${opened}`);
    assert.ok(Math.abs(Number(ids["tl-window"].getAttribute("width")) - width / 2) < 0.5);
    // Dragging on the overview's right end moves the window to the end of the run.
    ids["tl-overview"].listeners.get("pointerdown")!({ pointerId: 1, clientX: 899 });
    const lastLine = stale.findLastIndex((e) => e.type === "invoke") + 1;
    assert.match(view.innerHTML, new RegExp(`data-line="${lastLine}"`));
    // A link to the violation's line brings it back.
    globals.location.hash = `#line-${line}`;
    windowListeners.get("hashchange")!();
    assert.match(view.innerHTML, new RegExp(`class="op blocked" id="line-${line}"`));
  });
});
