// npm run bench:check [-- --rounds N --operations N]
// The linearizability checker on generated kv histories (8 keys, 5% info;
// test/check/histories.ts): 1, 10 and 50 processes, each history as made
// (linearizable) and with one read near the middle made stale (not). Each
// scenario runs in a fresh Node process, so that its peak RSS is its own:
// parse once, then check `rounds` times; the median check time is reported.
// For scale: Porcupine (Go) decides a 50-client kv history of ~9k events in
// ~0.12 s (NOTES.md).
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { checkHistory, parseHistory } from "../../src/check/index.js";
import { generate, jsonLines, staleRead } from "../check/histories.js";
import { median } from "../support/median.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "7" },
    operations: { type: "string", default: "10000" },
    scenario: { type: "string" },
  },
});
const rounds = Number(values.rounds);
const operations = Number(values.operations);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error("--rounds must be an integer ≥ 1");
if (!Number.isInteger(operations) || operations < 1) throw new Error("--operations must be an integer ≥ 1");

interface Measured {
  processes: number;
  history: "linearizable" | "stale read";
  verdict: string;
  events: number;
  parse: number;
  check: number;
  /** RSS once the history is parsed, before any check, and the process's peak: bytes. */
  before: number;
  peak: number;
}

const MB = 1024 * 1024;

if (values.scenario !== undefined) {
  // A child: one scenario, its figures as one JSON line.
  const [processes, stale] = values.scenario.split(":");
  const events = generate({ processes: Number(processes), keys: 8, operations, info: 0.05, seed: 1 });
  const text = jsonLines(stale === "stale" ? staleRead(events).events : events);
  let started = performance.now();
  const history = parseHistory(text);
  const parse = performance.now() - started;
  globalThis.gc?.();
  const before = process.memoryUsage.rss();
  const times: number[] = [];
  let verdict = "";
  for (let i = 0; i < rounds; i++) {
    started = performance.now();
    verdict = (await checkHistory(history)).verdict;
    times.push(performance.now() - started);
  }
  const measured: Measured = {
    processes: Number(processes),
    history: stale === "stale" ? "stale read" : "linearizable",
    verdict,
    events: history.events,
    parse,
    check: median(times),
    before,
    peak: process.resourceUsage().maxRSS * 1024,
  };
  console.log(JSON.stringify(measured));
} else {
  const run = promisify(execFile);
  const self = fileURLToPath(import.meta.url);
  console.log(
    `Node ${process.versions.node}: ${operations} operations, 8 keys, 5% info; median check of ${rounds} rounds, each scenario in its own process`,
  );
  const rows: Measured[] = [];
  for (const processes of [1, 10, 50]) {
    for (const stale of ["ok", "stale"]) {
      const { stdout } = await run(
        process.execPath,
        [
          "--expose-gc",
          self,
          "--scenario",
          `${processes}:${stale}`,
          "--rounds",
          `${rounds}`,
          "--operations",
          `${operations}`,
        ],
        { maxBuffer: 1 << 20 },
      );
      rows.push(JSON.parse(stdout) as Measured);
    }
  }
  const table = [
    ["processes", "history", "verdict", "events", "parse", "check (median)", "RSS before", "peak RSS"],
    ...rows.map((r) => [
      `${r.processes}`,
      r.history,
      r.verdict,
      `${r.events}`,
      `${r.parse.toFixed(1)} ms`,
      `${r.check.toFixed(1)} ms`,
      `${(r.before / MB).toFixed(0)} MB`,
      `${(r.peak / MB).toFixed(0)} MB`,
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  "));
}
