// npm run bench -- propose|dispatch|report [options]: measures a cluster (its
// own, or running replicas), prints the figures, appends them to a results
// file and can draw them as an HTML page.
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { count, micros } from "../bench/format.js";
import type { Measurement } from "../bench/measurement.js";
import { renderReport } from "../bench/report.js";
import type { Latency, Run } from "../bench/results.js";
import { readRun } from "../bench/results.js";
import { type BenchOptions, runBench } from "../bench/run.js";
import { flagError, integer, UsageError } from "../flags.js";

const USAGE = `usage: npm run bench -- <propose|dispatch|report> [options]

  propose                 closed-loop clients calling Propose
  dispatch                Dispatch streams pipelining BEACON requests, replies checked for type and order
  report                  draw a run of a results file as HTML (with --report)

  --target <list>         replicas to load: host:port, or r1,r2 of the bench's own cluster
                          (default: a cluster of --replicas; propose loads all, dispatch r1)
  --replicas <n>          size of the bench's own cluster             (default 3)
  --port <port>           its first port, 0 for free ones             (default 0)
  --duration <s>          seconds counted, after the warm-up          (default 10)
  --requests <n>          count this many answers instead of seconds
  --warmup <s>            seconds of load before counting             (default 1)
  --interval <s>          seconds per point of the throughput plot    (default 0.5)
  --timeout <ms>          a request unanswered this long is an error  (default 5000);
                          nothing answered for twice this ends the run
  --concurrency <n>       propose: clients at once                    (default 16)
  --size <bytes>          propose: bytes per value                    (default 64)
  --streams <n>           dispatch: streams                           (default 1)
  --window <n>            dispatch: requests in flight per stream, 1 is lockstep (default 64)
  --results <file>        JSON-lines results file to append to        (default bench.jsonl)
  --run <label>           this run's label (report: the run to draw; default the last)
  --report <file.html>    write the run as an HTML page
  --progress              a progress line even when the output is not a terminal
  -h, --help              print this help`;

type Flag = { type: "string" } | { type: "boolean"; short?: string };
const FLAGS: Record<string, Flag> = {
  target: { type: "string" },
  replicas: { type: "string" },
  port: { type: "string" },
  duration: { type: "string" },
  requests: { type: "string" },
  warmup: { type: "string" },
  interval: { type: "string" },
  timeout: { type: "string" },
  concurrency: { type: "string" },
  size: { type: "string" },
  streams: { type: "string" },
  window: { type: "string" },
  results: { type: "string" },
  run: { type: "string" },
  report: { type: "string" },
  progress: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(`error: ${(error as Error).message}${error instanceof UsageError ? " (see --help)" : ""}`);
  process.exitCode = 1;
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(flagError(error));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [bench, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
  const flag = (name: string) => values[name] as string | undefined;
  const results = flag("results") ?? "bench.jsonl";
  const reportFile = flag("report");

  if (bench === "report") {
    if (reportFile === undefined) throw new UsageError("report needs --report <file.html>");
    const run = await readRun(results, flag("run"));
    await writeFile(reportFile, renderReport(run));
    console.log(`run ${run.client.run} of ${results} drawn in ${reportFile}`);
    return 0;
  }
  if (bench !== "propose" && bench !== "dispatch") {
    throw new UsageError(bench === undefined ? "name a bench: propose or dispatch" : `unknown bench ${bench}`);
  }

  const options: BenchOptions = {
    bench,
    targets: (flag("target") ?? "")
      .split(",")
      .map((target) => target.trim())
      .filter(Boolean),
    replicas: integer(flag("replicas"), "--replicas", 3, 1, 64),
    port: integer(flag("port"), "--port", 0, 0, 65535),
    duration: seconds(flag("duration"), "--duration", 10),
    requests: integer(flag("requests"), "--requests", 0, 0),
    warmup: seconds(flag("warmup"), "--warmup", 1, 0),
    interval: seconds(flag("interval"), "--interval", 0.5),
    timeout: integer(flag("timeout"), "--timeout", 5000, 1),
    concurrency: integer(flag("concurrency"), "--concurrency", 16, 1, 10_000),
    size: integer(flag("size"), "--size", 64, 0, 4 * 1024 * 1024 - 64),
    streams: integer(flag("streams"), "--streams", 1, 1, 1000),
    window: integer(flag("window"), "--window", 64, 1, 100_000),
    results,
    run: flag("run") ?? `${bench}-${new Date().toISOString()}`,
  };

  // The first signal ends the counted part (the results are still written); a second one gives up.
  const aborter = new AbortController();
  const interrupt = () => (aborter.signal.aborted ? process.exit(130) : aborter.abort());
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const signal of signals) process.on(signal, interrupt);
  let progress: NodeJS.Timeout | undefined;
  let run: Run;
  try {
    run = await runBench(options, {
      log: process.stderr,
      signal: aborter.signal,
      started(measurement, targets) {
        console.log(`${describe(options, targets)}: ${options.warmup} s warm-up, then ${counted(options)}`);
        if (process.stdout.isTTY || values.progress) progress = showProgress(measurement, 500);
      },
    });
  } finally {
    clearInterval(progress);
    if (progress !== undefined) process.stdout.write("\r\x1b[K");
    for (const signal of signals) process.off(signal, interrupt);
  }
  print(run);
  console.log(`appended run ${run.client.run} to ${results}`);
  if (reportFile !== undefined) {
    await writeFile(reportFile, renderReport(run));
    console.log(`report written to ${reportFile}`);
  }
  if (run.client.errors > 0) {
    console.error(`error: ${run.client.errors} errors, the first: ${run.client.error}`);
    return 1;
  }
  return 0;
}

function describe(options: BenchOptions, targets: string[]): string {
  const load =
    options.bench === "propose"
      ? `${options.concurrency} clients proposing ${options.size} bytes`
      : `${options.streams} stream${options.streams === 1 ? "" : "s"} × window ${options.window}`;
  return `${options.bench} ${targets.join(" ")}: ${load}`;
}

function counted(options: BenchOptions): string {
  return options.requests > 0 ? `${options.requests} answers counted` : `${options.duration} s counted`;
}

/** Writes, every `ms`, one line in place: the rate since the last one, answers so far, p99, errors. */
function showProgress(measurement: Measurement, ms: number): NodeJS.Timeout {
  let last = { at: performance.now(), answers: 0 };
  return setInterval(() => {
    const now = performance.now();
    const rate = ((measurement.answers - last.answers) * 1000) / (now - last.at);
    last = { at: now, answers: measurement.answers };
    const line =
      measurement.answers === 0
        ? `warming up…  errors ${measurement.errors}`
        : `${count(rate)}/s  ${count(measurement.answers)} answered  p99 ${micros(measurement.histogram.at(99))}  errors ${measurement.errors}`;
    process.stdout.write(`\r\x1b[K${line}`);
  }, ms);
}

function print({ client, servers }: Run): void {
  const unit = client.bench === "dispatch" ? "messages" : "requests";
  console.log(
    `${unit.padEnd(10)} ${count(client.requests)} in ${client.duration.toFixed(2)} s: ${count(client.throughput)}/s`,
  );
  console.log(`${"latency".padEnd(10)} ${latency(client.latency)}`);
  console.log(
    `${"answers".padEnd(10)} ${count(client.successes)} successes, ${count(client.declines)} declines, ` +
      `${count(client.redirects)} redirects, ${count(client.errors)} errors`,
  );
  for (const server of servers) {
    console.log(
      `${(server.name ?? "server").padEnd(10)} ${count(server.messages)} messages, ` +
        `${count(server.requests)} requests, ${count(server.commits)} commits, ${count(server.drops)} drops, ` +
        `${server.clients} clients`,
    );
  }
}

function latency(l: Latency): string {
  const pairs: [string, number][] = [
    ["p50", l.p50],
    ["p90", l.p90],
    ["p99", l.p99],
    ["p99.9", l.p999],
    ["max", l.max],
  ];
  return `${pairs.map(([name, value]) => `${name} ${micros(value)}`).join("  ")}  (min ${micros(l.min)}, mean ${micros(l.mean)})`;
}

function seconds(value: string | undefined, flag: string, fallback: number, min = 0.001): number {
  if (value === undefined) return fallback;
  const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
  if (!(n >= min) || n > 86_400) throw new UsageError(`${flag} ${JSON.stringify(value)} is not a number of seconds`);
  return n;
}
