// npm run bench:epaxos [-- --rounds N --duration S --warmup S --keys K --fsync always,never]
// The epaxos template against the paxos template under the same `consensus bench kv`: three
// replicas of each, a fresh cluster for every measurement, in turns, 16 and 64 clients. ePaxos's
// clients stay spread over all three replicas (each is a command leader); paxos's are --sticky:
// once redirected to the leader, they stay there, as a client of a leader-based store does. The
// keys rarely conflict (many of them), so nearly every ePaxos command should take the fast path:
// the share is read from the replicas' metrics lines (path.fast, path.slow). Medians over the
// rounds; ratios epaxos / paxos.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import type { ClientRecord, ServerRecord } from "../../src/workbench/results.js";
import { median } from "../support/median.js";
import { CONSENSUS_BIN } from "../support/paths.js";
import { environment } from "../support/project.js";
import { builtReplicaProject } from "../support/replica-project.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "5" },
    // As in bench:etcd: a fresh Node.js replica runs its first second or two at half speed.
    warmup: { type: "string", default: "3" },
    keys: { type: "string", default: "1000" },
    fsync: { type: "string", default: "always,never" },
  },
});
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const keys = Number(values.keys);
const modes = values.fsync.split(",").map((mode) => mode.trim());
if (!Number.isInteger(rounds) || rounds < 1) throw new Error("--rounds must be an integer ≥ 1");
if (!(duration > 0)) throw new Error("--duration must be a number of seconds > 0");
if (!(warmup >= 0)) throw new Error("--warmup must be a number of seconds ≥ 0");
if (!Number.isInteger(keys) || keys < 1) throw new Error("--keys must be an integer ≥ 1");
const bad = modes.find((mode) => !["always", "batch", "never"].includes(mode));
if (bad !== undefined) throw new Error(`--fsync: ${bad} is none of always, batch, never`);

const TEMPLATES = ["paxos", "epaxos"] as const;
type Template = (typeof TEMPLATES)[number];
const CLIENTS = [16, 64];

interface Measured {
  throughput: number;
  errors: number;
  p50: number;
  p99: number;
  /** ePaxos: commits on the fast path and on the slow path, over the replicas. */
  fast: number;
  slow: number;
}

console.log("building a paxos and an epaxos project …");
const projects = new Map<Template, string>();
for (const template of TEMPLATES) projects.set(template, await builtReplicaProject(template));
const dir = mkdtempSync(path.join(os.tmpdir(), "consensus-bench-epaxos-"));
const figures = new Map<string, Measured[]>();
let runs = 0;

/** One `consensus bench kv` of a fresh cluster of `template`, with `concurrency` clients. */
async function measure(template: Template, fsync: string, concurrency: number): Promise<Measured> {
  const results = path.join(dir, `${++runs}.jsonl`);
  const args = ["bench", "kv", "--duration", String(duration), "--warmup", String(warmup)];
  args.push("--concurrency", String(concurrency), "--keys", String(keys), "--fsync", fsync, "--results", results);
  if (template === "paxos") args.push("--sticky");
  await promisify(execFile)(process.execPath, [CONSENSUS_BIN, ...args], {
    cwd: projects.get(template),
    env: environment({}),
  });
  const lines = readFileSync(results, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as ClientRecord | ServerRecord);
  const client = lines.find((line): line is ClientRecord => line.metric === "client")!;
  const servers = lines.filter((line): line is ServerRecord => line.metric === "server");
  const sum = (name: string) => servers.reduce((total, server) => total + (server.counters?.[name] ?? 0), 0);
  const { throughput, errors, latency } = client;
  return { throughput, errors, p50: latency.p50, p99: latency.p99, fast: sum("path.fast"), slow: sum("path.slow") };
}

const label = (template: Template, fsync: string, concurrency: number) =>
  `${template}, fsync ${fsync}, ${concurrency} clients`;
try {
  for (let round = 1; round <= rounds; round++) {
    for (const fsync of modes) {
      for (const concurrency of CLIENTS) {
        for (const template of TEMPLATES) {
          const name = label(template, fsync, concurrency);
          const measured = await measure(template, fsync, concurrency);
          figures.set(name, [...(figures.get(name) ?? []), measured]);
          const errors = measured.errors > 0 ? ` (${measured.errors} errors)` : "";
          console.log(`round ${round}: ${name}: ${Math.round(measured.throughput)}/s${errors}`);
        }
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  for (const project of projects.values()) rmSync(path.dirname(project), { recursive: true, force: true });
}

const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;
const medians = (name: string) => {
  const list = figures.get(name)!;
  const fast = list.reduce((total, m) => total + m.fast, 0);
  const slow = list.reduce((total, m) => total + m.slow, 0);
  return {
    rate: median(list.map((m) => m.throughput)),
    p50: median(list.map((m) => m.p50)),
    p99: median(list.map((m) => m.p99)),
    share: fast + slow === 0 ? undefined : fast / (fast + slow),
  };
};
// Other work on the machine moves every figure: said beside them.
const load = os
  .loadavg()
  .map((x) => x.toFixed(1))
  .join(" ");
console.log(
  `\nmedians of ${rounds} rounds of ${duration} s after ${warmup} s of warm-up (operations/s, 50% reads on ${keys} keys); load average now ${load}`,
);
for (const fsync of modes) {
  for (const concurrency of CLIENTS) {
    for (const template of TEMPLATES) {
      const name = label(template, fsync, concurrency);
      const { rate, p50, p99, share } = medians(name);
      const fast = share === undefined ? "" : `  fast path ${(share * 100).toFixed(1)}%`;
      console.log(
        `${name.padEnd(36)} ${String(Math.round(rate)).padStart(6)}/s  p50 ${ms(p50)}  p99 ${ms(p99)}${fast}`,
      );
    }
  }
}
console.log("\nepaxos / paxos (throughput: higher is better; latency: lower is better)");
for (const fsync of modes) {
  for (const concurrency of CLIENTS) {
    const [a, b] = (["epaxos", "paxos"] as const).map((template) => medians(label(template, fsync, concurrency)));
    console.log(
      `${`fsync ${fsync}, ${concurrency} clients`.padEnd(28)} ` +
        `throughput ${(a!.rate / b!.rate).toFixed(2)}×  p50 ${(a!.p50 / b!.p50).toFixed(2)}×  p99 ${(a!.p99 / b!.p99).toFixed(2)}×`,
    );
  }
}
