// npm run bench:check [-- --rounds N --operations N --porcupine DIR]
// The linearizability checker, each scenario in a fresh Node process (so that
// its peak RSS is its own; the median check of `rounds` is reported):
// - generated histories (test/check/histories.ts) of `operations` operations
//   on 10 keys, 5% info, by 1, 10 and 50 processes: a register (read, write,
//   cas) and a kv store (read, write, append, as Porcupine's kv tests), each
//   as made (linearizable), with one read made stale, and with one read of a
//   value never written. Each must be decided; the 50-process kv history with
//   a stale read in under a second.
// - with --porcupine DIR (a copy of Porcupine's test_data folder, which is not
//   part of this repository): its Jepsen etcd logs (all together) and its kv
//   histories, against Porcupine's times measured earlier on this machine.
//   Porcupine itself does not run here (no Go module proxy).
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { checkHistory, type History, parseHistory } from "../../src/check/index.js";
import { type Event, generate, neverWrittenRead, staleRead } from "../check/histories.js";
import { fromJepsen, fromKv } from "../check/porcupine.js";
import { median } from "../support/median.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    operations: { type: "string", default: "10000" },
    porcupine: { type: "string" },
    scenario: { type: "string" },
  },
});
const rounds = Number(values.rounds);
const operations = Number(values.operations);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error("--rounds must be an integer ≥ 1");
if (!Number.isInteger(operations) || operations < 1) throw new Error("--operations must be an integer ≥ 1");

/** A check that runs past this is reported unknown: the bench always ends. */
const TIMEOUT = 60_000;
const MB = 1024 * 1024;
const MIXES = { register: { read: 5, write: 4, cas: 1 }, kv: { read: 4, write: 1, append: 4 } };
const CHANGES = ["as made", "stale read", "never-written read"] as const;
/**
 * Porcupine's seconds on its own corpus, measured on this machine (Porcupine
 * 0.x, Go; not in this run): all 102 etcd logs together, and kv histories.
 */
const PORCUPINE: Record<string, number> = {
  "jepsen/etcd_*.log (102)": 0.55,
  "kv/c50-bad.txt": 0.18,
  "kv/c50-ok.txt": 1.0,
};

interface Measured {
  name: string;
  verdict: string;
  events: number;
  check: number;
  peak: number;
}

/** Child: one scenario, its figures as one JSON line. */
async function measure(scenario: string): Promise<Measured> {
  const histories: History[] = [];
  let name = scenario;
  if (scenario.startsWith("porcupine:")) {
    const [, dir, file] = scenario.split(":") as [string, string, string];
    const files =
      file === "etcd" ? (await readdir(path.join(dir, "jepsen"))).filter((f) => /^etcd_\d+\.log$/.test(f)) : [file];
    for (const f of files.sort()) {
      const text = await readFile(path.join(dir, file === "etcd" ? "jepsen" : "kv", f), "utf8");
      histories.push(parseHistory(file === "etcd" ? fromJepsen(text) : fromKv(text)));
    }
    name = file === "etcd" ? `jepsen/etcd_*.log (${files.length})` : `kv/${file}`;
  } else {
    const [processes, mix, change] = scenario.split(":") as [string, keyof typeof MIXES, (typeof CHANGES)[number]];
    const events = generate({
      processes: Number(processes),
      keys: 10,
      operations,
      info: 0.05,
      seed: 1,
      mix: MIXES[mix],
    });
    const changed: Event[] =
      change === "stale read"
        ? staleRead(events).events
        : change === "never-written read"
          ? neverWrittenRead(events).events
          : events;
    histories.push(parseHistory(changed));
  }
  const times: number[] = [];
  const verdicts = new Map<string, number>();
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    verdicts.clear();
    for (const history of histories) {
      const { verdict } = await checkHistory(history, { timeout: TIMEOUT });
      verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1);
    }
    times.push(performance.now() - started);
  }
  const verdict =
    histories.length === 1 ? [...verdicts.keys()][0]! : [...verdicts].map(([v, n]) => `${n} ${v}`).join(", ");
  const events = histories.reduce((sum, h) => sum + h.events, 0);
  return { name, verdict, events, check: median(times), peak: process.resourceUsage().maxRSS * 1024 };
}

if (values.scenario !== undefined) {
  console.log(JSON.stringify(await measure(values.scenario)));
} else {
  const run = promisify(execFile);
  const self = fileURLToPath(import.meta.url);
  const child = async (scenario: string): Promise<Measured> => {
    const args = [self, "--scenario", scenario, "--rounds", `${rounds}`, "--operations", `${operations}`];
    return JSON.parse((await run(process.execPath, args, { maxBuffer: 1 << 20 })).stdout) as Measured;
  };
  console.log(`Node ${process.versions.node}; median check of ${rounds} rounds, each scenario in its own process`);
  console.log(`\nGenerated: ${operations} operations, 10 keys, 5% info`);
  const generated: string[][] = [["processes", "store", "history", "verdict", "events", "check", "peak RSS"]];
  let failed = false;
  for (const processes of [1, 10, 50]) {
    for (const mix of Object.keys(MIXES)) {
      for (const change of CHANGES) {
        const m = await child(`${processes}:${mix}:${change}`);
        const want = change === "as made" ? "linearizable" : "not linearizable";
        // The target of a 50-client kv history with a bad read: decided in under a second.
        const slow = processes === 50 && mix === "kv" && change === "stale read" && m.check >= 1000;
        if (m.verdict !== want || slow) failed = true;
        generated.push([
          `${processes}`,
          mix,
          change,
          m.verdict === want ? m.verdict : `${m.verdict} (expected ${want})`,
          `${m.events}`,
          `${m.check.toFixed(1)} ms${slow ? " (target: < 1 s)" : ""}`,
          `${(m.peak / MB).toFixed(0)} MB`,
        ]);
      }
    }
  }
  table(generated);
  if (values.porcupine === undefined) {
    console.log("\nPorcupine's corpus: skipped (give --porcupine <its test_data folder>)");
  } else {
    const dir = path.resolve(values.porcupine);
    const kv = (await readdir(path.join(dir, "kv")).catch(() => [])).filter((f) => f.endsWith(".txt")).sort();
    const etcd = (await readdir(path.join(dir, "jepsen")).catch(() => [])).some((f) => /^etcd_\d+\.log$/.test(f));
    console.log(
      `\nPorcupine's corpus (${dir}); Porcupine's times were measured earlier on this machine, not in this run`,
    );
    const rows: string[][] = [["history", "verdict", "events", "check", "Porcupine", "ratio", "peak RSS"]];
    for (const file of [...(etcd ? ["etcd"] : []), ...kv]) {
      const m = await child(`porcupine:${dir}:${file}`);
      const baseline = PORCUPINE[m.name];
      rows.push([
        m.name,
        m.verdict,
        `${m.events}`,
        `${m.check.toFixed(1)} ms`,
        baseline === undefined ? "-" : `${baseline} s`,
        baseline === undefined ? "-" : `${(m.check / 1000 / baseline).toFixed(2)}×`,
        `${(m.peak / MB).toFixed(0)} MB`,
      ]);
    }
    table(rows);
  }
  if (failed) process.exitCode = 1;
}

/** Rows under a header, each column as wide as its widest cell. */
function table(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows)
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    );
}
