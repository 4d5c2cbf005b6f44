// node dist/test/bench/profile.js <file.cpuprofile> [--top N] [--per COUNT]
// Where a process's CPU went, from a profile `node --cpu-prof` wrote: self time
// summed by caller (the innermost code outside node core that asked for it:
// grpc-js, protobuf, the project, or node's own event loop), by group (node
// core, grpc-js, protobuf, the project, GC, native code, start-up), by category
// (node's HTTP/2 and streams, grpc-js by source file, ...) and by function, as
// percentages of
// the busy (non-idle) time and, with --per, as microseconds per call when the
// profiled run answered COUNT calls.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "30" }, per: { type: "string" } },
});
if (positionals.length !== 1) throw new Error("usage: profile.js <file.cpuprofile> [--top N] [--per COUNT]");

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const profile = JSON.parse(readFileSync(positionals[0]!, "utf8")) as {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
};

/** Where a frame's code lives, coarsely: what a cut could remove. */
function category({ functionName, url }: Node["callFrame"]): string {
  if (url === "") return `(${functionName.replace(/[()]/g, "") || "native"})`;
  const grpc = /@grpc\/grpc-js\/build\/src\/(.+)\.js$/.exec(url);
  if (grpc) return `grpc-js ${grpc[1]}`;
  if (url.includes("@bufbuild/protobuf")) return "protobuf runtime";
  if (/\/dist\/src\/pb\//.test(url)) return "ts-proto stubs";
  if (url.includes("/node_modules/")) return `package ${/node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)![1]}`;
  if (url.startsWith("node:internal/http2")) return "node http2";
  if (url.startsWith("node:internal/streams") || url === "node:stream") return "node streams";
  if (url.startsWith("node:")) return `node ${url.slice(5).replace(/^internal\//, "")}`;
  return "project";
}

/** The coarse group of a category: what kind of work it is. */
function group(where: string): string {
  if (where.startsWith("node modules") || where.startsWith("node bootstrap") || where.includes("esm"))
    return "start-up";
  if (where.startsWith("grpc-js")) return "grpc-js";
  if (where === "protobuf runtime" || where === "ts-proto stubs") return "protobuf";
  if (where === "(garbage collector)") return "GC";
  if (where === "(program)") return "native (nghttp2, libuv, V8)";
  if (where.startsWith("node ") || where.startsWith("(")) return "node core";
  return where;
}

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<number, number>();
// timeDeltas[i] is the time from sample i-1 to sample i, spent where sample i was taken.
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + profile.timeDeltas[i]!));

const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

/** Who asked for a sample's work: the innermost frame outside node core (node's own work is charged to it). */
function caller(id: number): string {
  const leaf = category(byId.get(id)!.callFrame);
  if (["(idle)", "(garbage collector)", "(program)"].includes(leaf)) return leaf;
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const by = group(category(byId.get(at)!.callFrame));
    if (by === "node core") continue;
    if (by === "start-up" || at === id) return by;
    return `${by}: node core it calls (${leaf === "node http2" ? "HTTP/2" : "streams, events, timers..."})`;
  }
  return "node core from the event loop (HTTP/2 session, sockets)";
}

const byCaller = new Map<string, number>();
const byCategory = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const [id, time] of self) {
  const frame = byId.get(id)!.callFrame;
  const where = category(frame);
  const asked = caller(id);
  byCaller.set(asked, (byCaller.get(asked) ?? 0) + time);
  byCategory.set(where, (byCategory.get(where) ?? 0) + time);
  const file = frame.url.replace(/^.*\/(node_modules|dist)\//, "");
  const name = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + time);
}
const byGroup = new Map<string, number>();
for (const [where, time] of byCategory) {
  const name = where === "(idle)" ? where : group(where);
  byGroup.set(name, (byGroup.get(name) ?? 0) + time);
}
const idle = byCategory.get("(idle)") ?? 0;
const total = [...byCategory.values()].reduce((a, b) => a + b, 0);
const busy = total - idle;
const per = values.per === undefined ? undefined : Number(values.per);

function table(title: string, sums: Map<string, number>, top: number): void {
  console.log(`\n${title}`);
  const rows = [...sums].filter(([name]) => name !== "(idle)").sort((a, b) => b[1] - a[1]);
  for (const [name, time] of rows.slice(0, top)) {
    const share = `${((time / busy) * 100).toFixed(1)}%`.padStart(6);
    const micros = per === undefined ? "" : `${(time / per).toFixed(2)} µs`.padStart(11);
    console.log(`${share}${micros}  ${name}`);
  }
}

console.log(
  `${(total / 1e6).toFixed(2)} s profiled, ${(busy / 1e6).toFixed(2)} s busy` +
    (per === undefined ? "" : `: ${(busy / per).toFixed(1)} µs per call over ${per} calls`),
);
table("self time by caller", byCaller, Infinity);
table("self time by group", byGroup, Infinity);
table("self time by category", byCategory, Infinity);
table("self time by function", byFunction, Number(values.top));
