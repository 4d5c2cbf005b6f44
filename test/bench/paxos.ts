// npm run bench:paxos [-- --rounds N --duration S]
// Commits per second and latency of the paxos template under `consensus bench
// propose` (its own cluster of three, clients following redirects to the
// leader), with --fsync never and batch, against the blank template's replica
// answering the same load at once (no consensus: the cost of the unary path
// alone). Scenarios in turns, medians over the rounds, in one run.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import { CONSENSUS_BIN } from "../support/paths.js";
import { environment } from "../support/project.js";
import { median } from "../support/median.js";
import { builtReplicaProject } from "../support/replica-project.js";

const { values } = parseArgs({
  options: { rounds: { type: "string", default: "3" }, duration: { type: "string", default: "5" } },
});
const rounds = Number(values.rounds);
const duration = Number(values.duration);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error("--rounds must be an integer ≥ 1");
if (!(duration > 0)) throw new Error("--duration must be a number of seconds > 0");

console.log("building a paxos and a blank project …");
const projects = { paxos: await builtReplicaProject("paxos"), blank: await builtReplicaProject("blank") };
const SCENARIOS = [16, 64].flatMap((concurrency) => [
  { name: `blank (no consensus), ${concurrency} clients`, project: projects.blank, fsync: "never", concurrency },
  { name: `paxos, fsync never, ${concurrency} clients`, project: projects.paxos, fsync: "never", concurrency },
  { name: `paxos, fsync batch, ${concurrency} clients`, project: projects.paxos, fsync: "batch", concurrency },
]);

interface Line {
  throughput: number;
  successes: number;
  declines: number;
  latency: { p50: number; p99: number };
}

const dir = mkdtempSync(path.join(os.tmpdir(), "consensus-bench-paxos-"));
const figures = new Map<string, Line[]>(SCENARIOS.map(({ name }) => [name, []]));
try {
  for (let round = 1; round <= rounds; round++) {
    for (const { name, project, fsync, concurrency } of SCENARIOS) {
      const results = path.join(dir, `${figures.get(name)!.length}.jsonl`);
      const args = ["bench", "propose", "--duration", String(duration), "--concurrency", String(concurrency)];
      args.push("--fsync", fsync, "--results", results);
      await promisify(execFile)(process.execPath, [CONSENSUS_BIN, ...args], { cwd: project, env: environment({}) });
      const line = JSON.parse(readFileSync(results, "utf8").trim().split("\n").at(-1)!) as Line;
      figures.get(name)!.push(line);
      console.log(`round ${round}: ${name}: ${Math.round(line.throughput)}/s`);
    }
  }
} finally {
  for (const folder of [dir, ...Object.values(projects).map((project) => path.dirname(project))]) {
    rmSync(folder, { recursive: true, force: true });
  }
}

const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;
console.log(`\nmedians of ${rounds} rounds of ${duration} s (answers/s; paxos: commits/s)`);
for (const concurrency of [16, 64]) {
  const base = median(figures.get(`blank (no consensus), ${concurrency} clients`)!.map((line) => line.throughput));
  for (const [name, lines] of figures) {
    if (!name.endsWith(`, ${concurrency} clients`)) continue;
    const rate = median(lines.map((line) => line.throughput));
    const p50 = median(lines.map((line) => line.latency.p50));
    const p99 = median(lines.map((line) => line.latency.p99));
    console.log(
      `${name.padEnd(36)} ${String(Math.round(rate)).padStart(6)}/s  p50 ${ms(p50)}  p99 ${ms(p99)}  ${(rate / base).toFixed(2)}× blank`,
    );
  }
}
