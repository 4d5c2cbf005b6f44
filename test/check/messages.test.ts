// The message page: a trace read line by line (each bad line named), embedded
// in the page as it was given, drawn a window at a time (lost messages
// crossed, client operations and faults marked), its script running on its
// own, and 100,000 messages in a page of a reasonable size.
import assert from "node:assert/strict";
import { runInNewContext } from "node:vm";
import { describe, test } from "node:test";
import {
  checkHistory,
  messageFields,
  parseHistory,
  parseTrace,
  renderMessages,
  TraceError,
  TraceRecorder,
} from "../../src/check/index.js";
import {
  decode,
  drawMessages,
  lowerBound,
  type Canvas2D,
  type MessagesData,
  type View,
} from "../../src/check/messages-view.js";
import { ticks } from "../../src/check/timeline.js";

const ms = (t: number) => t * 1e6;

// Client 0 writes through r1, which sends ACCEPTs to r2 (answered) and r3 (lost), while r3 is crashed.
const TRACE = [
  { send: ms(1), receive: ms(2), from: 0, to: "r1", type: "PROPOSE", fields: { key: "x" } },
  { send: ms(2), receive: ms(3.5), from: "r1", to: "r2", type: "ACCEPT", fields: { ballot: 257, slot: 1 } },
  { send: ms(2), from: "r1", to: "r3", type: "ACCEPT", fields: { ballot: 257, slot: 1 } },
  { send: ms(3.5), receive: ms(5), from: "r2", to: "r1", type: "ACCEPT", reply: true, fields: { ok: true } },
  { send: ms(5), receive: ms(6), from: "r1", to: 0, type: "PROPOSE", reply: true },
];
const HISTORY = [
  { process: 0, type: "invoke", f: "write", key: "x", value: 1, time: ms(1) },
  { process: "nemesis", type: "info", f: "start", fault: "crash", value: "r3", time: ms(1.5) },
  { process: 0, type: "ok", f: "write", key: "x", value: 1, time: ms(6) },
  { process: "nemesis", type: "info", f: "stop", fault: "crash", value: "r3", time: ms(7) },
];
const text = (lines: readonly object[]) => lines.map((line) => JSON.stringify(line) + "\n").join("");

function embedded(html: string): MessagesData {
  const json = /<script type="application\/json" id="mg-data">(.*?)<\/script>/s.exec(html)![1]!;
  return JSON.parse(json) as MessagesData;
}

/** A canvas that records what is drawn: each path's segments with the stroke style they were stroked in. */
function recorder() {
  const segments: { from: [number, number]; to: [number, number]; style: string; dash: number }[] = [];
  const rects: { y: number; h: number; style: string }[] = [];
  const texts: string[] = [];
  let path: { from: [number, number]; to: [number, number] }[] = [];
  let at: [number, number] = [0, 0];
  let dash = 0;
  const ctx: Canvas2D = {
    fillStyle: "",
    strokeStyle: "",
    lineWidth: 1,
    font: "",
    textAlign: "",
    textBaseline: "",
    setLineDash: (d) => void (dash = d.length),
    beginPath: () => void (path = []),
    moveTo: (x, y) => void (at = [x, y]),
    lineTo: (x, y) => {
      path.push({ from: at, to: [x, y] });
      at = [x, y];
    },
    stroke: () => segments.push(...path.map((s) => ({ ...s, style: ctx.strokeStyle, dash }))),
    fill: () => undefined,
    fillRect: (_x, y, _w, h) => void rects.push({ y, h, style: ctx.fillStyle }),
    strokeRect: (_x, y, _w, h) => void rects.push({ y, h, style: ctx.strokeStyle }),
    clearRect: () => undefined,
    fillText: (t) => void texts.push(t),
    save: () => undefined,
    restore: () => undefined,
    rect: () => undefined,
    clip: () => undefined,
  };
  return { ctx, segments, rects, texts };
}

const COLORS = { fg: "fg", muted: "muted", grid: "grid", fault: "fault", error: "error", ok: "ok", info: "info" };
const view = (from: number, to: number): View => ({ from, to, width: 800, height: 600, hover: -1, colors: COLORS });

describe("parseTrace", () => {
  test("reads each line, blank lines skipped", () => {
    const trace = parseTrace(text(TRACE.slice(0, 2)) + "\n" + text(TRACE.slice(2, 3)));
    assert.deepEqual(
      trace.map((m) => [m.line, m.from, m.to, m.type, m.reply, m.send, m.receive, m.fields]),
      [
        [1, 0, "r1", "PROPOSE", false, ms(1), ms(2), { key: "x" }],
        [2, "r1", "r2", "ACCEPT", false, ms(2), ms(3.5), { ballot: 257, slot: 1 }],
        [4, "r1", "r3", "ACCEPT", false, ms(2), undefined, { ballot: 257, slot: 1 }],
      ],
    );
  });

  test("names the first bad line, in one line", () => {
    const good = JSON.stringify(TRACE[1]);
    const cases: [string, string][] = [
      ["{", "line 2: not JSON"],
      ["[1]", "line 2: not a JSON object"],
      ['{"to":"r1","type":"A","send":1}', "line 2: no from"],
      [
        '{"from":"","to":"r1","type":"A","send":1}',
        `line 2: from "" is not a replica's name or a client's process number`,
      ],
      [
        '{"from":-1,"to":"r1","type":"A","send":1}',
        "line 2: from -1 is not a replica's name or a client's process number",
      ],
      ['{"from":"r1","to":"r2","send":1}', "line 2: no type"],
      ['{"from":"r1","to":"r2","type":"A"}', "line 2: no send"],
      ['{"from":"r1","to":"r2","type":"A","send":"1"}', 'line 2: send "1" is not a time in ns'],
      ['{"from":"r1","to":"r2","type":"A","send":1,"receive":[]}', "line 2: receive [] is not a time in ns"],
      ['{"from":"r1","to":"r2","type":"A","send":1,"reply":1}', "line 2: reply 1 is not true or false"],
      ['{"from":"r1","to":"r2","type":"A","send":1,"fields":{"a":{"b":1}}}', 'line 2: field "a" is not a JSON scalar'],
    ];
    for (const [line, message] of cases) {
      assert.throws(
        () => parseTrace(`${good}\n${line}\n${good}\n`),
        (error: unknown) => error instanceof TraceError && error.message === message && error.line === 2,
        line,
      );
    }
  });
});

describe("renderMessages", () => {
  const html = renderMessages(parseTrace(text(TRACE)), parseHistory(HISTORY), "seed 7");
  const data = embedded(html);
  const model = decode(data);

  test("embeds every message as the trace has it, in send order, times in µs from the run's start", () => {
    assert.deepEqual(data.replicas, ["r1", "r2", "r3"]);
    assert.deepEqual(data.types, ["ACCEPT", "PROPOSE"]);
    const name = (end: number) => (end < 0 ? "client" : data.replicas[end]);
    const decoded = Array.from({ length: model.count }, (_, i) => [
      model.line[i],
      name(model.from[i]!),
      name(model.to[i]!),
      data.types[model.kind[i]! >> 1],
      (model.kind[i]! & 1) === 1,
      model.send[i],
      Number.isNaN(model.receive[i]!) ? undefined : model.receive[i],
      model.fields[i]! < 0 ? "" : data.fields[model.fields[i]!],
    ]);
    assert.deepEqual(decoded, [
      [1, "client", "r1", "PROPOSE", false, 0, 1000, "process=0 key=x"],
      [2, "r1", "r2", "ACCEPT", false, 1000, 2500, "ballot=257 slot=1"],
      [3, "r1", "r3", "ACCEPT", false, 1000, undefined, "ballot=257 slot=1"],
      [4, "r2", "r1", "ACCEPT", true, 2500, 4000, "ok=true"],
      [5, "r1", "client", "PROPOSE", true, 4000, 5000, "process=0"],
    ]);
    assert.equal(data.end, 6000);
    assert.match(
      html,
      /<p class="meta">5 messages · 1 lost · 3 replicas · 1 client operation · 1 fault · 6\.0 ms<\/p>/,
    );
    assert.match(html, /<tr><td>ACCEPT<\/td><td>2<\/td><td>1<\/td><td>1<\/td><\/tr>/);
  });

  test("marks the client operations and the faults, on the replicas they name", () => {
    assert.deepEqual(data.ops, [0, 0, 5000, 0, 0]);
    assert.deepEqual(data.labels, ["process 0 · x: write 1"]);
    assert.deepEqual(data.faults, [[500, 6000, "crash r3", [2]]]);
    const { ctx, rects, texts } = recorder();
    drawMessages(ctx, model, view(0, data.end), ticks);
    assert.deepEqual(
      texts.filter((t) => /^(r\d|clients)$/.test(t)),
      ["r1", "r2", "r3", "clients"],
    );
    const faults = rects.filter((r) => r.style === "fault");
    assert.equal(faults.length, 2, "a band across the run, and its replica's column");
    assert.ok(
      rects.some((r) => r.style === "ok" && r.h > 400),
      "the write's bar",
    );
  });

  test("crosses a lost message where its stub ends, and draws no arrow to its receiver", () => {
    const { ctx, segments } = recorder();
    const drawn = drawMessages(ctx, model, view(0, data.end), ticks);
    assert.deepEqual(drawn, [0, 1, 2, 3, 4]);
    const crosses = segments.filter((s) => s.style === "error");
    assert.equal(crosses.length, 2, "one cross of two strokes");
    // The lost ACCEPT ends a third of the way to r3, 10 px below its send.
    const [cx, cy] = [(crosses[0]!.from[0] + crosses[0]!.to[0]) / 2, (crosses[0]!.from[1] + crosses[0]!.to[1]) / 2];
    const stub = segments.find((s) => s.style !== "error" && s.to[0] === cx && s.to[1] === cy);
    assert.ok(stub, "a stub ends at the cross");
    assert.equal(stub.to[1] - stub.from[1], 10);
    assert.equal(segments.filter((s) => s.dash > 0).length > 0, true, "replies dashed");
  });

  test("visits only the messages that cross the window", () => {
    const { ctx } = recorder();
    // 3.0–3.6 ms of the run: the answered ACCEPT arrives in it, the reply leaves in it; the rest are outside.
    assert.deepEqual(drawMessages(ctx, model, view(2000, 2600), ticks), [1, 3]);
    assert.deepEqual(drawMessages(ctx, model, view(5500, 6000), ticks), []);
  });

  test("runs its script on its own, drawing the window it opens on", () => {
    const { ctx, segments } = recorder();
    const elements = new Map<string, Record<string, unknown>>();
    const element = (id: string) => {
      let e = elements.get(id);
      if (e === undefined) {
        e = {
          id,
          dataset: {},
          style: {},
          hidden: true,
          clientWidth: 800,
          clientHeight: 600,
          textContent: id === "mg-data" ? JSON.stringify(data) : "",
          getContext: () => Object.assign(ctx, { setTransform: () => undefined }),
          getBoundingClientRect: () => ({ left: 0, top: 0 }),
          addEventListener: () => undefined,
        };
        elements.set(id, e);
      }
      return e;
    };
    element("mg-canvas").dataset = { from: "0", to: String(data.end) };
    const script = /<script>(.*?)<\/script>/s.exec(html)![1]!;
    runInNewContext(script, {
      document: {
        getElementById: element,
        querySelectorAll: () => [],
        documentElement: {},
      },
      devicePixelRatio: 2,
      getComputedStyle: () => ({ getPropertyValue: () => "x" }),
      requestAnimationFrame: (callback: () => void) => callback(),
      addEventListener: () => undefined,
    });
    assert.equal(elements.get("mg-controls")!.hidden, false);
    assert.equal(elements.get("mg-where")!.textContent, "0.000–6.000 ms of 6.000 ms · 5 messages shown");
    assert.ok(segments.length > 10, `${segments.length} segments`);
  });

  test("escapes what the trace names, and renders the same bytes twice", () => {
    const odd = [{ send: 0, receive: 1000, from: "<r1>", to: "r2", type: "</script><b>", fields: { x: "</script>" } }];
    const page = renderMessages(parseTrace(odd), undefined, "<seed>");
    assert.doesNotMatch(page, /<\/script><b>/);
    assert.match(page, /<h1>&lt;seed&gt;<\/h1>/);
    assert.deepEqual(embedded(page).replicas, ["<r1>", "r2"]);
    assert.equal(renderMessages(parseTrace(odd), undefined, "<seed>"), page);
  });

  test("draws the operations that cannot be ordered in red, and opens on the first", async () => {
    const trace = Array.from({ length: 1_000 }, (_, i) => ({
      send: ms(i),
      receive: ms(i + 1),
      from: "r1",
      to: "r2",
      type: "A",
    }));
    const history = parseHistory([
      { process: 0, type: "invoke", f: "write", key: "x", value: 1, time: ms(100) },
      { process: 0, type: "ok", f: "write", key: "x", value: 1, time: ms(101) },
      { process: 1, type: "invoke", f: "read", key: "x", value: null, time: ms(600) },
      { process: 1, type: "ok", f: "read", key: "x", value: null, time: ms(601) },
    ]);
    const result = await checkHistory(history);
    assert.equal(result.verdict, "not linearizable");
    const page = renderMessages(parseTrace(trace), history, "stale", result);
    assert.deepEqual(
      embedded(page).ops.filter((_, k) => k % 5 === 3),
      [0, 3],
    );
    assert.match(page, /cannot be ordered/);
    // The 200 messages around the stale read's invoke.
    assert.match(page, /data-from="500000" data-to="700000"/);
    const { ctx, rects } = recorder();
    drawMessages(ctx, decode(embedded(page)), view(500_000, 700_000), ticks);
    assert.ok(rects.some((r) => r.style === "error"));
    // Without the result, the first 200.
    assert.match(renderMessages(parseTrace(trace), history, "stale"), /data-from="0" data-to="200000"/);
  });

  test("a page of 100,000 messages stays a few MB, and opens on its first 200", () => {
    // 10 clients, 5,000 operations, each with a Propose and its answer among the replicas' messages.
    const events: object[] = [];
    const trace: object[] = [];
    for (let i = 0; i < 5_000; i++) {
      const [process, invoke] = [i % 10, ms(i)];
      events.push({ process, type: "invoke", f: "write", key: "k", value: i, time: invoke });
      events.push({ process, type: "ok", f: "write", key: "k", value: i, time: invoke + ms(2.5) });
      trace.push({ send: invoke + 1, receive: invoke + ms(0.1), from: process, to: "r1", type: "PROPOSE" });
      trace.push({
        send: invoke + ms(2.4),
        receive: invoke + ms(2.5),
        from: "r1",
        to: process,
        type: "PROPOSE",
        reply: true,
      });
    }
    events.sort((a, b) => (a as { time: number }).time - (b as { time: number }).time);
    for (let i = 0; i < 90_000; i++) {
      const send = ms(i * 0.05);
      trace.push({
        send,
        ...(i % 97 === 0 ? {} : { receive: send + ms(1 + (i % 5) * 0.3) }),
        from: `r${(i % 5) + 1}`,
        to: `r${((i + 1) % 5) + 1}`,
        type: ["PREPARE", "ACCEPT", "COMMIT"][i % 3]!,
        reply: i % 2 === 1,
        fields: { ballot: 257 + Math.floor(i / 5000), slot: Math.floor(i / 4) },
      });
    }
    const page = renderMessages(parseTrace(trace), parseHistory(events), "big");
    assert.ok(page.length < 4_000_000, `${page.length} bytes`);
    const big = embedded(page);
    assert.equal(big.messages.length, 7 * 100_000);
    assert.equal(big.ops.length, 5 * 5_000);
    const model = decode(big);
    // Operations overlap: three lanes, and each Propose leaves from its operation's.
    assert.equal(big.lanes, 3);
    const proposals = [...model.kind.keys()].filter((i) => model.kind[i] === 2 * big.types.indexOf("PROPOSE"));
    assert.deepEqual(
      proposals.map((i) => -1 - model.from[i]!),
      [...model.opLane],
    );
    const [, from, to] = /data-from="(\d+)" data-to="(\d+)"/.exec(page)!.map(Number);
    assert.equal(from, 0);
    assert.equal(lowerBound(model.send, to! + 1), 201);
    const { ctx } = recorder();
    const drawn = drawMessages(ctx, model, view(1_000_000, 1_001_000), ticks);
    assert.ok(drawn.length > 0 && drawn.length < 100, `${drawn.length} drawn`);
  });
});

describe("TraceRecorder", () => {
  test("writes each message as it left and arrived, and keeps only the last ones", () => {
    let now = 0;
    const recorder = new TraceRecorder(() => now, 3);
    const request = { type: 0, sender: "r1", message: { $case: "beacon", value: { timestamp: "" } } };
    const sent = [1, 2, 3, 4, 5].map((t) => ((now = t * 1e6), recorder.sent("r1", "r2", "BEACON", request, false)));
    now = 6e6;
    recorder.arrived(sent[0]!);
    recorder.arrived(sent[4]!);
    recorder.sent("r2", 7, "PROPOSE", { success: true, value: Buffer.from("12") }, true);
    assert.deepEqual(recorder.size, { sent: 6, kept: 3 });
    const lines = recorder.text();
    assert.deepEqual(
      parseTrace(lines).map(({ line: _, ...m }) => m),
      [
        { send: 4e6, from: "r1", to: "r2", type: "BEACON", reply: false, fields: {} },
        { send: 5e6, receive: 6e6, from: "r1", to: "r2", type: "BEACON", reply: false, fields: {} },
        { send: 6e6, from: "r2", to: 7, type: "PROPOSE", reply: true, fields: { success: true, value: "12" } },
      ],
    );
  });

  test("reads an envelope's member, or a message's own scalars; lists by their length, bytes as text when printable", () => {
    const accept = {
      type: 2,
      sender: "r1",
      success: true,
      message: { $case: "accept", value: { ballot: 257n, slot: 3n, commands: [{}, {}], commit: 2n, acknowledged: [] } },
    };
    assert.deepEqual(messageFields(accept), {
      success: true,
      ballot: 257,
      slot: 3,
      commands: "[2]",
      commit: 2,
      acknowledged: "[0]",
    });
    const propose = { identity: "kv-3", name: "k1", value: new Uint8Array([0, 1, 2]), seq: 2n ** 60n, redirect: "" };
    assert.deepEqual(messageFields(propose), {
      identity: "kv-3",
      name: "k1",
      value: "3 bytes",
      seq: "1152921504606846976",
    });
  });
});
