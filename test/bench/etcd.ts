// npm run bench:etcd [-- --rounds N --duration S --warmup S]
// The paxos template against etcd under the same `consensus bench kv` (the same clients, workload
// and history): three etcd members (--target etcd=…) and the template's own cluster of three, a
// fresh one for every measurement, in turns, 16 and 64 clients. Pairs compared: etcd with its
// default fsync (one per batch of entries) against paxos --fsync always and batch, and etcd
// --unsafe-no-fsync against paxos never. Paxos's clients are --sticky: once redirected to the
// leader, they stay there. Medians over the rounds; ratios paxos / etcd.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import { etcdMissing, startEtcd } from "../support/etcd.js";
import { median } from "../support/median.js";
import { CONSENSUS_BIN } from "../support/paths.js";
import { environment } from "../support/project.js";
import { builtReplicaProject } from "../support/replica-project.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "5" },
    // A fresh Node.js replica runs its first second or two at half speed, until its hot code is
    // compiled (etcd's Go needs none of that): measuring from then on compares what each sustains.
    warmup: { type: "string", default: "3" },
  },
});
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const warmup = Number(values.warmup);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error("--rounds must be an integer ≥ 1");
if (!(duration > 0)) throw new Error("--duration must be a number of seconds > 0");
if (!(warmup >= 0)) throw new Error("--warmup must be a number of seconds ≥ 0");
const missing = etcdMissing();
if (missing !== undefined) {
  console.log(`bench:etcd skipped: ${missing}`);
  process.exit(0);
}

/** A system under load: etcd with or without fsync, or the paxos template with an --fsync mode. */
type System = { etcd: "fsync" | "no fsync" } | { paxos: "always" | "batch" | "never" };
const SYSTEMS: System[] = [
  { etcd: "fsync" },
  { paxos: "always" },
  { paxos: "batch" },
  { etcd: "no fsync" },
  { paxos: "never" },
];
const PAIRS: [System, System][] = [
  [{ paxos: "always" }, { etcd: "fsync" }],
  [{ paxos: "batch" }, { etcd: "fsync" }],
  [{ paxos: "never" }, { etcd: "no fsync" }],
];
const CLIENTS = [16, 64];
const describe = (system: System) => ("etcd" in system ? `etcd, ${system.etcd}` : `paxos, fsync ${system.paxos}`);

interface Line {
  throughput: number;
  errors: number;
  latency: { p50: number; p99: number };
}

console.log("building a paxos project …");
const project = await builtReplicaProject("paxos");
const dir = mkdtempSync(path.join(os.tmpdir(), "consensus-bench-etcd-"));
const figures = new Map<string, Line[]>();
let runs = 0;

/** One `consensus bench kv` of `system` with `concurrency` clients; its client line. */
async function measure(system: System, concurrency: number): Promise<Line> {
  const results = path.join(dir, `${++runs}.jsonl`);
  const args = ["bench", "kv", "--duration", String(duration), "--warmup", String(warmup)];
  args.push("--concurrency", String(concurrency));
  const run = (target: string[]) =>
    promisify(execFile)(process.execPath, [CONSENSUS_BIN, ...args, ...target, "--results", results], {
      cwd: project,
      env: environment({}),
    });
  if ("paxos" in system) {
    // Its clients stay with the leader once redirected there, as a client of a leader-based store does;
    // etcd's followers take any request and forward it to their leader.
    await run(["--sticky", "--fsync", system.paxos]);
  } else {
    const etcd = await startEtcd({ fsync: system.etcd === "fsync" });
    try {
      await run(["--target", `etcd=${etcd.endpoints.join(",")}`]);
    } finally {
      await etcd.stop();
    }
  }
  return JSON.parse(readFileSync(results, "utf8").trim().split("\n").at(-1)!) as Line;
}

try {
  for (let round = 1; round <= rounds; round++) {
    for (const concurrency of CLIENTS) {
      for (const system of SYSTEMS) {
        const name = `${describe(system)}, ${concurrency} clients`;
        const line = await measure(system, concurrency);
        figures.set(name, [...(figures.get(name) ?? []), line]);
        const errors = line.errors > 0 ? ` (${line.errors} errors)` : "";
        console.log(`round ${round}: ${name}: ${Math.round(line.throughput)}/s${errors}`);
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  rmSync(path.dirname(project), { recursive: true, force: true });
}

const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;
const medians = (name: string) => {
  const lines = figures.get(name)!;
  return {
    rate: median(lines.map((line) => line.throughput)),
    p50: median(lines.map((line) => line.latency.p50)),
    p99: median(lines.map((line) => line.latency.p99)),
  };
};
// Other work on the machine moves every figure: said beside them.
const load = os
  .loadavg()
  .map((x) => x.toFixed(1))
  .join(" ");
console.log(
  `\nmedians of ${rounds} rounds of ${duration} s after ${warmup} s of warm-up (operations/s, 50% reads on 8 keys); load average now ${load}`,
);
for (const concurrency of CLIENTS) {
  for (const system of SYSTEMS) {
    const name = `${describe(system)}, ${concurrency} clients`;
    const { rate, p50, p99 } = medians(name);
    console.log(`${name.padEnd(32)} ${String(Math.round(rate)).padStart(6)}/s  p50 ${ms(p50)}  p99 ${ms(p99)}`);
  }
}
console.log("\npaxos / etcd (throughput: higher is better; latency: lower is better)");
for (const concurrency of CLIENTS) {
  for (const [paxos, etcd] of PAIRS) {
    const [a, b] = [paxos, etcd].map((system) => medians(`${describe(system)}, ${concurrency} clients`));
    console.log(
      `${`${describe(paxos)} / ${describe(etcd)}, ${concurrency} clients`.padEnd(48)} ` +
        `throughput ${(a!.rate / b!.rate).toFixed(2)}×  p50 ${(a!.p50 / b!.p50).toFixed(2)}×  p99 ${(a!.p99 / b!.p99).toFixed(2)}×`,
    );
  }
}
