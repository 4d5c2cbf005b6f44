// The history page: bars where the events put them (by position, or by time
// when every event has one), faults shaded, everything from the file escaped,
// and the same bytes for the same history.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DomUtils, parseDocument } from "htmlparser2";
import { checkHistory, parseHistory, renderHistory } from "../../src/check/index.js";

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

const events = [
  { process: 0, type: "invoke", f: "write", key: "x", value: 1, time: 0 },
  { process: "nemesis", type: "info", f: "start", fault: "pause", value: "r2", time: 1_000_000 },
  { process: 1, type: "invoke", f: "read", key: "x", value: null, time: 2_000_000 },
  { process: 0, type: "ok", f: "write", key: "x", value: 1, time: 3_000_000 },
  { process: 1, type: "ok", f: "read", key: "x", value: 7, time: 9_000_000 },
  { process: 2, type: "invoke", f: "write", key: "x", value: 2, time: 10_000_000 },
];

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
    assert.equal(groups("nemesis").length, 1);
    assert.match(html, /ms since the first event/);
    assert.match(html, /<title>key &quot;x&quot;: read → 7 \(process 1, lines 3–5\)<\/title>/);
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
    assert.equal(
      DomUtils.findAll((element) => ["script", "b", "i"].includes(element.name), document.children).length,
      0,
    );
    assert.ok(html.includes("&lt;i&gt;title&lt;/i&gt;"));
  });

  test("renders the same bytes for the same history", async () => {
    assert.equal((await page(events)).html, (await page(events)).html);
  });

  test("draws an empty history", async () => {
    const { html } = await page([]);
    assert.match(html, /linearizable/);
  });
});
