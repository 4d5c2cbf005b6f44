// npm run bench:runtime [-- --rounds N --duration S --project DIR --only TEXT]
// The generated replica against a plain @grpc/grpc-js server on the same
// ts-proto stubs (test/fixtures/runtime/plain-server.ts), both loaded by the
// project's own bench client in the same run: each scenario in turns
// (alternating which server goes first), a fresh server process per
// measurement, medians over the rounds. Server CPU per message comes from
// /proc/<pid>/stat around the counted run (a warm-up run goes before it).
// --project measures an existing, installed project instead of a new one;
// --only runs the scenarios whose name contains TEXT.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { CONSENSUS_BIN, CREATE_BIN, REPO } from "../support/paths.js";
import { environment } from "../support/project.js";
import { median } from "../support/median.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "3" },
    project: { type: "string" },
    only: { type: "string", default: "" },
  },
});
const rounds = Number(values.rounds);
const duration = Number(values.duration);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error("--rounds must be an integer ≥ 1");
if (!(duration > 0)) throw new Error("--duration must be a number of seconds > 0");

const ALL_SCENARIOS: { name: string; args: string[] }[] = [
  { name: "Dispatch W=1", args: ["dispatch", "--streams", "1", "--window", "1"] },
  { name: "Dispatch W=64", args: ["dispatch", "--streams", "1", "--window", "64"] },
  { name: "Dispatch 8 streams x W=64", args: ["dispatch", "--streams", "8", "--window", "64"] },
  { name: "Propose, 16 callers x 1 connection", args: ["propose", "--concurrency", "16"] },
  { name: "Propose, 16 callers x 16 connections", args: ["propose", "--concurrency", "16", "--connections", "16"] },
];
const SCENARIOS = ALL_SCENARIOS.filter(({ name }) => name.includes(values.only));
if (SCENARIOS.length === 0) throw new Error(`--only ${values.only} names no scenario`);
const SERVERS = ["replica", "plain"] as const;
type Server = (typeof SERVERS)[number];

const dir = mkdtempSync(path.join(os.tmpdir(), "consensus-bench-runtime-"));
const project = values.project === undefined ? path.join(dir, "project") : path.resolve(values.project);
const env = environment({});
if (values.project === undefined) {
  console.log("creating a project …");
  execFileSync(process.execPath, [CREATE_BIN, project, "--yes", "--no-git"], { cwd: dir, env, stdio: "ignore" });
}
copyFileSync(path.join(REPO, "test/fixtures/runtime/plain-server.ts"), path.join(project, "src/plain-server.ts"));
execFileSync("npm", ["run", "build"], { cwd: project, env, stdio: ["ignore", "ignore", "inherit"] });

const COMMANDS: Record<Server, string[]> = {
  replica: ["dist/src/main.js", "--name", "r1", "--port", "0"],
  plain: ["dist/src/plain-server.js"],
};

/** Starts a server; resolves with it and its address once it prints its listening line. */
async function start(server: Server): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, COMMANDS[server], { cwd: project, env, stdio: ["ignore", "pipe", "inherit"] });
  const [line] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
  const address = / on (\S+)$/.exec(line)?.[1];
  if (address === undefined) throw new Error(`${server} printed ${line}`);
  return { child, address };
}

/** Clock ticks per second of /proc/<pid>/stat. */
const TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

/** User plus system CPU seconds of process `pid` so far. */
function cpu(pid: number): number {
  // The fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

interface Sample {
  throughput: number;
  /** Server CPU microseconds per message. */
  cpu: number;
  p99: number;
}

/** Runs the project's bench client with `args` against `address`; resolves with its client line. */
function bench(args: string[], address: string, seconds: number, warmup: number) {
  const results = path.join(dir, "results.jsonl");
  rmSync(results, { force: true });
  execFileSync(
    process.execPath,
    [
      CONSENSUS_BIN,
      "bench",
      ...args,
      "--target",
      address,
      "--duration",
      String(seconds),
      "--warmup",
      String(warmup),
      "--results",
      results,
    ],
    { cwd: project, env, stdio: ["ignore", "ignore", "inherit"] },
  );
  const record = JSON.parse(readFileSync(results, "utf8").trim().split("\n").at(-1)!);
  if (record.errors > 0) throw new Error(`${args.join(" ")} against ${address}: ${record.error}`);
  return record as { requests: number; throughput: number; latency: { p99: number } };
}

async function measure(server: Server, args: string[]): Promise<Sample> {
  const { child, address } = await start(server);
  try {
    bench(args, address, 1, 0);
    const before = cpu(child.pid!);
    const record = bench(args, address, duration, 0);
    const used = cpu(child.pid!) - before;
    return { throughput: record.throughput, cpu: (used * 1e6) / record.requests, p99: record.latency.p99 };
  } finally {
    child.kill("SIGKILL");
    await once(child, "exit");
  }
}

const samples = new Map<string, Sample[]>();
try {
  for (let round = 1; round <= rounds; round++) {
    for (const scenario of SCENARIOS) {
      const order = round % 2 === 1 ? SERVERS : [...SERVERS].reverse();
      for (const server of order) {
        const sample = await measure(server, scenario.args);
        const key = `${scenario.name}/${server}`;
        samples.set(key, [...(samples.get(key) ?? []), sample]);
      }
    }
    process.stdout.write(`round ${round} of ${rounds} done\n`);
  }
} finally {
  // The baseline leaves nothing behind, in a project of the user's least of all.
  rmSync(dir, { recursive: true, force: true });
  if (values.project !== undefined) {
    for (const file of ["src/plain-server.ts", "dist/src/plain-server.js", "dist/src/plain-server.js.map"]) {
      rmSync(path.join(project, file), { force: true });
    }
  }
}

const pick = (scenario: string, server: Server, field: keyof Sample) =>
  median(samples.get(`${scenario}/${server}`)!.map((sample) => sample[field]));
const pad = (text: string | number, width: number) => String(text).padStart(width);

console.log(
  `\n${rounds} rounds of ${duration} s each, medians; msgs/s (requests/s for Propose), server CPU µs per message`,
);
console.log(
  `${"scenario".padEnd(38)}${pad("replica", 10)}${pad("plain", 10)}${pad("ratio", 7)}${pad("CPU replica", 13)}${pad("CPU plain", 11)}${pad("p99 replica", 13)}${pad("p99 plain", 11)}`,
);
for (const { name } of SCENARIOS) {
  const [a, b] = [pick(name, "replica", "throughput"), pick(name, "plain", "throughput")];
  console.log(
    `${name.padEnd(38)}${pad(Math.round(a), 10)}${pad(Math.round(b), 10)}${pad((a / b).toFixed(2), 7)}` +
      `${pad(pick(name, "replica", "cpu").toFixed(1), 13)}${pad(pick(name, "plain", "cpu").toFixed(1), 11)}` +
      `${pad(pick(name, "replica", "p99"), 13)}${pad(pick(name, "plain", "p99"), 11)}`,
  );
}
console.log("targets: every ratio >= 0.95; pipelined Dispatch >= 1.5 with <= 12 µs server CPU per message");
