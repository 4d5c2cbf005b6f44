// npm run bench:runtime [-- --rounds N --duration S --project DIR --only TEXT --no-pin]
// The generated replica against a plain @grpc/grpc-js server on the same
// ts-proto stubs (test/fixtures/runtime/plain-server.ts), and, for Propose, a
// bare responder on node:http2 (test/fixtures/runtime/http2-server.ts: what a
// server without grpc-js would gain), all loaded by the project's own bench
// client in the same run: each scenario in turns (the order of the servers
// rotating), a fresh server process per measurement, medians over the rounds.
// Server CPU per message comes from /proc/<pid>/stat around the counted run
// (a warm-up run goes before it). With taskset and two or more CPUs, the
// server runs on the last CPU and the client on the first, so neither waits
// for the other's core (--no-pin: both wherever the kernel puts them).
// --project measures an existing, installed project instead of a new one;
// --only runs the scenarios whose name contains TEXT.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
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
    pin: { type: "boolean", default: true },
  },
  allowNegative: true,
});
const rounds = Number(values.rounds);
const duration = Number(values.duration);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error("--rounds must be an integer ≥ 1");
if (!(duration > 0)) throw new Error("--duration must be a number of seconds > 0");

const SERVERS = ["replica", "plain", "http2"] as const;
type Server = (typeof SERVERS)[number];

const ALL_SCENARIOS: { name: string; args: string[]; servers: readonly Server[] }[] = [
  { name: "Dispatch W=1", args: ["dispatch", "--streams", "1", "--window", "1"], servers: ["replica", "plain"] },
  { name: "Dispatch W=64", args: ["dispatch", "--streams", "1", "--window", "64"], servers: ["replica", "plain"] },
  {
    name: "Dispatch 8 streams x W=64",
    args: ["dispatch", "--streams", "8", "--window", "64"],
    servers: ["replica", "plain"],
  },
  { name: "Propose, 16 callers x 1 connection", args: ["propose", "--concurrency", "16"], servers: SERVERS },
  {
    name: "Propose, 16 callers x 16 connections",
    args: ["propose", "--concurrency", "16", "--connections", "16"],
    servers: SERVERS,
  },
];
const SCENARIOS = ALL_SCENARIOS.filter(({ name }) => name.includes(values.only));
if (SCENARIOS.length === 0) throw new Error(`--only ${values.only} names no scenario`);
/** taskset's prefix that puts a process on one CPU, or nothing when unpinned or impossible here. */
const CPUS = os.availableParallelism();
const canPin = values.pin && CPUS >= 2 && spawnSync("taskset", ["-V"]).status === 0;
const pinned = (cpu: number, command: string[]) => (canPin ? ["taskset", "-c", String(cpu), ...command] : command);

const dir = mkdtempSync(path.join(os.tmpdir(), "consensus-bench-runtime-"));
const project = values.project === undefined ? path.join(dir, "project") : path.resolve(values.project);
const env = environment({});
if (values.project === undefined) {
  console.log("creating a project …");
  execFileSync(process.execPath, [CREATE_BIN, project, "--yes", "--no-git"], { cwd: dir, env, stdio: "ignore" });
}
/** The baselines, copied into the project's src/ and removed after. */
const FIXTURES = ["plain-server", "http2-server"];
for (const name of FIXTURES) {
  copyFileSync(path.join(REPO, `test/fixtures/runtime/${name}.ts`), path.join(project, `src/${name}.ts`));
}
execFileSync("npm", ["run", "build"], { cwd: project, env, stdio: ["ignore", "ignore", "inherit"] });

const COMMANDS: Record<Server, string[]> = {
  replica: ["dist/src/main.js", "--name", "r1", "--port", "0"],
  plain: ["dist/src/plain-server.js"],
  http2: ["dist/src/http2-server.js"],
};

/** Starts a server; resolves with it and its address once it prints its listening line. */
async function start(server: Server): Promise<{ child: ChildProcess; address: string }> {
  const [command, ...args] = pinned(CPUS - 1, [process.execPath, ...COMMANDS[server]]);
  // taskset execs the command, so the pid is the server's.
  const child = spawn(command!, args, { cwd: project, env, stdio: ["ignore", "pipe", "inherit"] });
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
  const [command, ...rest] = pinned(0, [
    process.execPath,
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
  ]);
  execFileSync(command!, rest, { cwd: project, env, stdio: ["ignore", "ignore", "inherit"] });
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
      // Each server goes first in turn.
      const shift = (round - 1) % scenario.servers.length;
      const order = [...scenario.servers.slice(shift), ...scenario.servers.slice(0, shift)];
      for (const server of order) {
        const sample = await measure(server, scenario.args);
        const key = `${scenario.name}/${server}`;
        samples.set(key, [...(samples.get(key) ?? []), sample]);
      }
    }
    process.stdout.write(`round ${round} of ${rounds} done\n`);
  }
} finally {
  // The baselines leave nothing behind, in a project of the user's least of all.
  rmSync(dir, { recursive: true, force: true });
  if (values.project !== undefined) {
    for (const name of FIXTURES) {
      for (const file of [`src/${name}.ts`, `dist/src/${name}.js`, `dist/src/${name}.js.map`]) {
        rmSync(path.join(project, file), { force: true });
      }
    }
  }
}

const pick = (scenario: string, server: Server, field: keyof Sample) =>
  median(samples.get(`${scenario}/${server}`)!.map((sample) => sample[field]));
const pad = (text: string | number, width: number) => String(text).padStart(width);

console.log(
  `\n${rounds} rounds of ${duration} s each, medians, ${canPin ? `servers on CPU ${CPUS - 1}, client on CPU 0` : "unpinned"}; ` +
    "msgs/s (requests/s for Propose), server CPU µs per message; ratios to plain grpc-js",
);
console.log(
  `${"scenario".padEnd(38)}${"server".padEnd(9)}${pad("msgs/s", 9)}${pad("ratio", 7)}${pad("CPU µs", 9)}${pad("CPU ratio", 11)}${pad("p99 µs", 9)}`,
);
for (const { name, servers } of SCENARIOS) {
  for (const server of servers) {
    const throughput = pick(name, server, "throughput");
    const cpu = pick(name, server, "cpu");
    console.log(
      `${(server === servers[0] ? name : "").padEnd(38)}${server.padEnd(9)}${pad(Math.round(throughput), 9)}` +
        `${pad((throughput / pick(name, "plain", "throughput")).toFixed(2), 7)}${pad(cpu.toFixed(1), 9)}` +
        `${pad((cpu / pick(name, "plain", "cpu")).toFixed(2), 11)}${pad(pick(name, server, "p99"), 9)}`,
    );
  }
}
console.log(
  "targets (replica): every ratio >= 0.95 and CPU ratio <= 1.0; pipelined Dispatch >= 1.5 with <= 12 µs CPU per message; " +
    "Propose over 16 connections at CPU ratio <= 0.75",
);
