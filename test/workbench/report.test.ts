// The bench's HTML report: one page, two charts whose points follow the
// record, everything from the record escaped, nothing broken by empty data,
// and the same bytes for the same run. Read with regexes: the page is ours.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { checkHistory, parseHistory } from "../../src/check/index.js";
import { writePage } from "../../src/commands/page-file.js";
import { renderReport } from "../../src/workbench/report.js";
import { generate } from "../check/histories.js";
import type { ClientRecord, Run, ServerRecord } from "../../src/workbench/results.js";
import { consensus } from "../support/project.js";

const COUNTS = [
  812, 1630, 1702, 1688, 1715, 1690, 1540, 1722, 1731, 1699, 1705, 1650, 1718, 1724, 1702, 1311, 1690, 1711, 1707, 903,
];

/** HdrHistogram-style: two points per halving of the distance to 100%, then 100%. */
const PERCENTILES: [number, number][] = [
  ...Array.from({ length: 29 }, (_, k): [number, number] => [100 - 100 * 2 ** (-k / 2), 150 + 4 * k ** 2.2]),
  [100, 9876],
];

function client(overrides: Partial<ClientRecord> = {}): ClientRecord {
  return {
    metric: "client",
    version: "0.1.0",
    time: "2026-11-25T18:00:11.000000000Z",
    run: "nightly-42",
    bench: "dispatch",
    flags: { clients: 8, duration: 10, warmup: 1, window: 64, spawn: true, targets: "127.0.0.1:3264" },
    targets: ["127.0.0.1:3264", "127.0.0.1:3265"],
    started: "2026-11-25T18:00:01.000000000Z",
    finished: "2026-11-25T18:00:11.000000000Z",
    duration: 10,
    requests: 31450,
    throughput: 3145,
    successes: 31447,
    declines: 0,
    redirects: 0,
    errors: 3,
    error: "DEADLINE_EXCEEDED: deadline exceeded after 1.000s",
    latency: { min: 152, mean: 431.7, p50: 388, p90: 702, p99: 1250, p999: 4210, max: 9876 },
    timeline: { interval: 0.5, counts: COUNTS },
    percentiles: PERCENTILES,
    ...overrides,
  };
}

function server(name: string, commits: number): ServerRecord {
  return {
    metric: "server",
    version: "0.1.0",
    started: "2026-11-25T18:00:00.500000000Z",
    finished: "2026-11-25T18:00:11.100000000Z",
    requests: commits,
    commits,
    drops: 0,
    clients: 8,
    messages: 4 * commits,
    throughput: commits / 10.6,
    duration: 10.6,
    name,
    run: "nightly-42",
  };
}

const RUN: Run = { client: client(), servers: [server("r1", 15800), server("r2", 15650)] };

/** The viewBox [x, y, width, height] of the svg holding `series`, and the series' points. */
function series(html: string, name: string): { box: number[]; points: number[][] } {
  const svg = new RegExp(`<svg[^>]*viewBox="([^"]*)"(?:(?!</svg>)[\\s\\S])*?<polyline[^>]*data-series="${name}"[^>]*>`);
  const found = svg.exec(html);
  assert.ok(found, `no ${name} series`);
  const points = /points="([^"]*)"/.exec(found[0].slice(found[0].lastIndexOf("<polyline")))![1]!;
  return {
    box: found[1]!.split(/\s+/).map(Number),
    points: points === "" ? [] : points.split(" ").map((point) => point.split(",").map(Number)),
  };
}

function assertInside(box: number[], points: number[][]): void {
  const [left, top, width, height] = box as [number, number, number, number];
  for (const [x, y] of points) {
    assert.ok(Number.isFinite(x) && Number.isFinite(y), `${x},${y}`);
    assert.ok(
      x! >= left && x! <= left + width && y! >= top && y! <= top + height,
      `${x},${y} outside ${box.join(" ")}`,
    );
  }
}

describe("renderReport", () => {
  const html = renderReport(RUN);

  test("is one HTML5 page with two inline SVG charts and nothing fetched", () => {
    assert.ok(html.startsWith("<!doctype html>"));
    assert.equal(html.match(/<svg\b/g)?.length, 2);
    assert.equal(html.match(/role="img"/g)?.length, 2);
    assert.doesNotMatch(html, /<script|<link|src=|href=|url\(/);
    assert.match(html, /<title>Throughput over time<\/title>/);
    assert.match(html, /<title>Latency by percentile<\/title>/);
  });

  test("summarises the run, latencies from 1000 µs in ms, and one row per server", () => {
    assert.match(html, /dispatch bench/);
    assert.match(html, /nightly-42/);
    assert.match(html, /3,145 messages\/s/);
    assert.match(html, /<td>388 µs<\/td>/);
    assert.match(html, /<td>1.25 ms<\/td>/);
    assert.match(html, /<td>9.88 ms<\/td>/);
    assert.match(html, /<th scope="row">r1<\/th><td>63,200<\/td><td>15,800<\/td>/);
    // Requests without a commit are declines and redirects as much as drops.
    assert.match(
      html,
      /<th scope="col">commits<\/th><th scope="col" title="requests completed without a commit: [^"]*">uncommitted<\/th>/,
    );
    assert.doesNotMatch(html, /drops/);
    assert.match(html, /<th scope="row">r2<\/th><td>62,600<\/td><td>15,650<\/td>/);
    assert.match(html, /<code>--window<\/code><\/th><td><code>64<\/code>/);
  });

  test("what the replicas counted of their own gets a column, summed over them, a group's parts with their shares", () => {
    assert.doesNotMatch(html, /counted/, "no column where nothing was counted");
    const servers = [
      { ...server("r1", 100), counters: { "path.fast": 97, "path.slow": 3, elections: 1 } },
      { ...server("r2", 100), counters: { "path.fast": 99, "path.slow": 1 } },
      server("r3", 0),
    ];
    const page = renderReport({ client: client(), servers });
    assert.match(page, /<th scope="col">counted<\/th><\/tr>/);
    assert.match(page, /<td>elections 1, path.fast 97 \(97.0%\), path.slow 3 \(3.0%\)<\/td><\/tr>/);
    assert.match(page, /<th scope="row">r3<\/th>(<td>[^<]*<\/td>){7}<td><\/td><\/tr>/);
    assert.match(page, /All replicas: elections 1, path.fast 196 \(98.0%\), path.slow 4 \(2.0%\)/);
    // A counter that is not a number (a line not written by a generated replica) is left out.
    const odd = renderReport({
      client: client(),
      servers: [{ ...server("r1", 1), counters: { x: "7" as unknown as number } }],
    });
    assert.doesNotMatch(odd, /counted/);
  });

  test("the throughput series has one point per timeline count, inside the chart, following the counts", () => {
    const { box, points } = series(html, "throughput");
    assert.equal(points.length, COUNTS.length);
    assertInside(box, points);
    const xs = points.map(([x]) => x!);
    const gaps = xs.slice(1).map((x, i) => x - xs[i]!);
    for (const gap of gaps) assert.ok(gap > 0 && Math.abs(gap - gaps[0]!) <= 0.2, `uneven x: ${xs.join(" ")}`);
    // SVG's y grows downwards: the busiest interval is the highest point, the quietest the lowest.
    const ys = points.map(([, y]) => y!);
    assert.equal(ys.indexOf(Math.min(...ys)), COUNTS.indexOf(Math.max(...COUNTS)));
    assert.equal(ys.indexOf(Math.max(...ys)), COUNTS.indexOf(Math.min(...COUNTS)));
  });

  test("the nemesis's faults are shaded bands of the throughput chart, where they happened, labelled", () => {
    assert.doesNotMatch(html, /class="band"/, "a run without faults has no band");
    const faults = [
      { fault: "partition", value: [["r1", "r2"], ["r3"]], start: 2, end: 4 },
      { fault: "kill", value: "<r2>", start: 6, end: 6.5 },
    ];
    const page = renderReport({ ...RUN, client: client({ faults }) });
    const bands = [
      ...page.matchAll(/<rect class="band" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"[^>]*><title>([^<]*)<\/title>/g),
    ];
    assert.deepEqual(
      bands.map((band) => band[3]),
      ["partition r1 r2 | r3", "kill &lt;r2&gt;"],
    );
    const { points } = series(page, "throughput");
    // Point i is at i intervals: a band starts where its fault's second falls on that scale.
    const perSecond = (points[1]![0]! - points[0]![0]!) / RUN.client.timeline.interval;
    for (const [i, fault] of faults.entries()) {
      const [x, width] = [Number(bands[i]![1]), Number(bands[i]![2])];
      assert.ok(Math.abs(x - (points[0]![0]! + fault.start * perSecond)) < 0.2, `band ${i} at ${x}`);
      assert.ok(Math.abs(width - Math.max((fault.end - fault.start) * perSecond, 1)) < 0.2, `band ${i} ${width} wide`);
    }
    assert.equal(points.length, COUNTS.length, "the series is drawn as without faults");
  });

  test("the latency series has one point per percentile, x rising, p = 100 on the last tick", () => {
    const { box, points } = series(html, "latency");
    assert.equal(points.length, PERCENTILES.length);
    assertInside(box, points);
    for (let i = 1; i < points.length; i++) assert.ok(points[i]![0]! > points[i - 1]![0]!, `x not rising at ${i}`);
    for (let i = 1; i < points.length; i++) assert.ok(points[i]![1]! <= points[i - 1]![1]!, `y not rising at ${i}`);
    // The data reaches 99.99%, so the axis goes to 99.999% and ends there.
    assert.match(html, />99\.999%<\/text>/);
    const lastTick = /<text class="tick" x="([\d.]+)"[^>]*>99\.999%<\/text>/.exec(html)![1];
    assert.equal(points.at(-1)![0], Number(lastTick));
  });

  test("escapes every string of the record", () => {
    const evil = '<b onclick="x">&\'</b>';
    const page = renderReport({
      client: client({
        run: evil,
        flags: { [evil]: evil },
        error: `<script>alert("x")</script> & more`,
        targets: [evil],
      }),
      servers: [server(evil, 1)],
    });
    assert.doesNotMatch(page, /<b |<script>|onclick="/);
    assert.match(page, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; more/);
    assert.match(page, /&lt;b onclick=&quot;x&quot;&gt;&amp;&#39;&lt;\/b&gt;/);
  });

  test("an empty run renders without NaN or Infinity, and notes the missing servers", () => {
    const empty = client({
      requests: 0,
      throughput: 0,
      duration: 0,
      successes: 0,
      errors: 0,
      error: undefined,
      latency: { min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 },
      timeline: { interval: 1, counts: [] },
      percentiles: [],
    });
    const page = renderReport({ client: empty, servers: [] });
    assert.doesNotMatch(page, /NaN|Infinity|undefined/);
    assert.equal(page.match(/<svg\b/g)?.length, 2);
    assert.deepEqual(series(page, "throughput").points, []);
    assert.deepEqual(series(page, "latency").points, []);
    assert.match(page, /No server lines/);
    assert.doesNotMatch(page, /first error/);
  });

  test("one timeline point, equal latencies and a zero interval stay finite and inside the chart", () => {
    for (const interval of [1, 0]) {
      const flat = client({
        timeline: { interval, counts: [42] },
        percentiles: [
          [0, 250],
          [50, 250],
          [100, 250],
        ],
      });
      const page = renderReport({ client: flat, servers: [] });
      assert.doesNotMatch(page, /NaN|Infinity/);
      const throughput = series(page, "throughput");
      assert.equal(throughput.points.length, 1);
      assertInside(throughput.box, throughput.points);
      const latency = series(page, "latency");
      assert.equal(latency.points.length, 3);
      assertInside(latency.box, latency.points);
      assert.equal(new Set(latency.points.map(([, y]) => y)).size, 1);
    }
  });

  test("the same run renders the same bytes", () => {
    assert.equal(renderReport(structuredClone(RUN)), html);
  });
});

describe("a kv run's history", () => {
  test("is drawn as the run's overview and a window opening on its first fault, in bounded bytes", async () => {
    const events = generate({ processes: 16, keys: 8, operations: 20_000, info: 0.01, seed: 9 }, true);
    const at = (i: number) => events[i]!.time as number;
    const fault = (f: string, time: number) => ({
      process: "nemesis",
      type: "info",
      f,
      fault: "pause",
      value: "r3",
      time,
    });
    const history = parseHistory([
      ...events.slice(0, 25_000),
      fault("start", at(25_000) - 1),
      ...events.slice(25_000),
      fault("stop", at(events.length - 1) + 1),
    ]);
    const page = renderReport(RUN, { history, result: await checkHistory(history) });
    const detail = /<div id="tl-detail" data-from="(\d+)" data-to="(\d+)">([\s\S]*?)<\/div>/.exec(page)!;
    const start = (at(25_000) - 1 - at(0)) / 1000;
    assert.ok(Number(detail[1]) <= start && start <= Number(detail[2]), `${detail[1]} ≤ ${start} ≤ ${detail[2]}`);
    assert.match(detail[3]!, /<text [^>]*>pause r3<\/text>/);
    const bars = detail[3]!.match(/<g class="op /g)!.length;
    assert.ok(bars >= 30 && bars <= 400, `${bars} bars`);
    assert.match(page, /<svg id="tl-overview"/);
    assert.ok(page.length < 40 * 20_000, `${page.length} bytes`);
  });
});

describe("a page that is there", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "consensus-report-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const results = path.join(dir, "bench.jsonl");
  writeFileSync(results, [RUN.client, ...RUN.servers].map((record) => JSON.stringify(record) + "\n").join(""));

  test("consensus report refuses to replace it, naming it and --force, and --force replaces it", async () => {
    const kept = path.join(dir, "kept.html");
    writeFileSync(kept, "mine");
    const refused = await consensus(["report", "bench.jsonl", "--output", "kept.html"], dir);
    assert.deepEqual(
      [refused.code, refused.stdout, refused.stderr],
      [1, "", "error: kept.html exists: give --force to overwrite it\n"],
    );
    assert.equal(readFileSync(kept, "utf8"), "mine");
    // The default page, bench.html, likewise once it is there.
    assert.equal((await consensus(["report", "bench.jsonl"], dir)).code, 0);
    const again = await consensus(["report", "bench.jsonl"], dir);
    assert.equal(again.stderr, "error: bench.html exists: give --force to overwrite it\n");

    const forced = await consensus(["report", "bench.jsonl", "--output", "kept.html", "--force"], dir);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(readFileSync(kept, "utf8"), renderReport(RUN));
  });

  test("the write itself puts a page in place whole, and never over one that came meanwhile", async () => {
    const page = path.join(dir, "late.html");
    await writePage(page, "first", false);
    // There since the early check: the write refuses and keeps it.
    await assert.rejects(writePage(page, "second", false), { message: `${page} exists: give --force to overwrite it` });
    assert.equal(readFileSync(page, "utf8"), "first");
    await writePage(page, "third", true);
    assert.equal(readFileSync(page, "utf8"), "third");
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.startsWith("late.html")),
      ["late.html"],
      "no file of the write left beside it",
    );
  });

  test("bench --report refuses before the run starts", async () => {
    const kept = path.join(dir, "run.html");
    writeFileSync(kept, "mine");
    const args = ["bench", "propose", "--target", "127.0.0.1:1", "--duration", "1", "--warmup", "0"];
    const run = await consensus([...args, "--results", "run.jsonl", "--report", "run.html"], dir);
    assert.deepEqual([run.code, run.stderr], [1, "error: run.html exists: give --force to overwrite it\n"]);
    assert.equal(readFileSync(kept, "utf8"), "mine");
    // Nothing ran: no results were appended.
    assert.equal(existsSync(path.join(dir, "run.jsonl")), false);
  });
});
