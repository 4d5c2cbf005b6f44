// What the workbench's commands do once parsed (src/cli/workbench.ts defines them): loaded only
// when one runs, with the printing of their figures, so that other commands do not load it.
import path from "node:path";
import { UserError } from "../core/errors.js";
import { count, counters, micros } from "../workbench/format.js";
import type { BenchOptions } from "../workbench/bench.js";
import type { Fsync } from "../workbench/fsync.js";
import type { Measurement } from "../workbench/measurement.js";
import type { FaultSpan, Latency, Run } from "../workbench/results.js";
import { fraction, integer, seconds } from "./flags.js";
import { out } from "./output.js";
import { interrupt } from "./run.js";

type Flags = Record<string, string | undefined>;

/** SIGTERM and SIGHUP end a cluster or a bench as Ctrl-C does (run.ts handles SIGINT). */
function onTermination(): () => void {
  const stop = () => (interrupt.signal.aborted ? process.exit(130) : interrupt.abort());
  const signals = ["SIGTERM", "SIGHUP"] as const;
  for (const signal of signals) process.on(signal, stop);
  return () => {
    for (const signal of signals) process.off(signal, stop);
  };
}

/** `consensus cluster`. */
export async function clusterAction(flags: Flags): Promise<void> {
  const [{ cluster }, nemesis] = await Promise.all([
    import("../commands/cluster.js"),
    import("../workbench/nemesis.js"),
  ]);
  const release = onTermination();
  try {
    process.exitCode = await cluster({
      cwd: process.cwd(),
      replicas: integer(flags.replicas!, "--replicas", 0),
      host: flags.host!,
      port: integer(flags.port!, "--port", 0),
      data: flags.data,
      fsync: flags.fsync as Fsync | undefined,
      metrics: flags.metrics,
      run: flags.run,
      trace: flags.trace,
      nemesis: nemesisOptions(nemesis, flags, seedOf(nemesis, flags)),
      signal: interrupt.signal,
      output: process.stdout,
      errorOutput: process.stderr,
    });
  } finally {
    release();
  }
}

/** `consensus bench <load>`. */
export async function benchAction(
  load: string,
  flags: Flags & { progress?: boolean; check?: boolean; force?: boolean; sticky?: boolean },
): Promise<void> {
  if (flags.check && load !== "kv") throw new UserError("--check checks a kv run's history: bench kv --check");
  if (flags.sticky && load !== "kv")
    throw new UserError("--sticky is for kv clients (propose clients always stay): bench kv --sticky");
  if (load !== "propose" && load !== "dispatch" && load !== "kv") {
    throw new UserError(`unknown load ${load}: propose, dispatch or kv`);
  }
  const [{ bench }, { parseTargets }, nemesis] = await Promise.all([
    import("../commands/bench.js"),
    import("../workbench/bench.js"),
    import("../workbench/nemesis.js"),
  ]);
  const results = flags.results!;
  const concurrency = integer(flags.concurrency!, "--concurrency", 1, 10_000);
  const connections = integer(flags.connections!, "--connections", 1, 10_000);
  if (connections > concurrency) {
    throw new UserError(
      `--connections ${connections}: more connections than the ${concurrency} clients (--concurrency)`,
    );
  }
  const seed = seedOf(nemesis, flags);
  const chaos = nemesisOptions(nemesis, flags, seed);
  const options = {
    cwd: process.cwd(),
    bench: load,
    targets: parseTargets(flags.target ?? ""),
    replicas: integer(flags.replicas!, "--replicas", 1, 64),
    port: integer(flags.port!, "--port", 0, 65535),
    duration: seconds(flags.duration!, "--duration"),
    requests: flags.requests === undefined ? 0 : integer(flags.requests, "--requests", 0),
    warmup: seconds(flags.warmup!, "--warmup", 0),
    interval: seconds(flags.interval!, "--interval"),
    timeout: integer(flags.timeout!, "--timeout", 1),
    concurrency,
    connections,
    size: integer(flags.size!, "--size", 0, 4 * 1024 * 1024 - 64),
    streams: integer(flags.streams!, "--streams", 1, 1000),
    window: integer(flags.window!, "--window", 1, 100_000),
    keys: integer(flags.keys!, "--keys", 1, 1_000_000),
    reads: fraction(flags.reads!, "--reads"),
    sticky: flags.sticky === true,
    history: flags.history ?? results.replace(/(\.jsonl?)?$/, "-history.jsonl"),
    seed,
    nemesis: chaos && { faults: chaos.faults, interval: chaos.interval },
    check: flags.check === true,
    results,
    run: flags.run ?? `${load}-${new Date().toISOString()}`,
    trace: flags.trace,
    fsync: flags.fsync as Fsync | undefined,
    report: flags.report,
    force: flags.force === true,
  } as const;
  // The first signal ends the counted part (the results are still written); a second one gives up.
  const release = onTermination();
  let progress: NodeJS.Timeout | undefined;
  let run: Run;
  try {
    run = await bench(options, {
      log: process.stderr,
      signal: interrupt.signal,
      started(measurement, targets) {
        console.log(
          `${load} ${targets.join(" ")}: ${describeLoad(options)}: ${options.warmup} s warm-up, then ${counted(options)}`,
        );
        if (options.nemesis) {
          console.log(
            `nemesis: ${options.nemesis.faults.join(",")} every ${options.nemesis.interval} s, seed ${options.seed} (--seed ${options.seed} replays it)`,
          );
        } else if (load === "kv")
          console.log(`seed ${options.seed} (--seed ${options.seed} replays the clients' choices)`);
        if (process.stdout.isTTY || flags.progress) progress = showProgress(measurement, 500);
      },
      fault(event) {
        // On a line of its own, above the progress line (which the next tick writes again).
        if (progress !== undefined) process.stdout.write("\r\x1b[K");
        console.log(nemesis.describeEvent(event));
      },
    });
  } finally {
    clearInterval(progress);
    if (progress !== undefined) process.stdout.write("\r\x1b[K");
    release();
  }
  print(run);
  if (run.client.faults) {
    for (const span of run.client.faults) console.log(`${"fault".padEnd(10)} ${describeFault(span)}`);
  }
  console.log(`appended run ${run.client.run} to ${options.results}`);
  if (run.client.history !== undefined) console.log(`history written to ${options.history}`);
  if (run.client.messages !== undefined) console.log(`messages drawn in ${path.join(options.trace!, "messages.html")}`);
  const { check } = run.client;
  if (check) {
    const mark = check.verdict === "linearizable" ? out.green("✔") : out.red("✖");
    console.log(`${mark} ${check.verdict} (${count(check.operations)} operations)`);
    for (const violation of check.violations) console.log(`  ${violation}`);
  }
  if (options.report !== undefined) console.log(`report written to ${options.report}`);
  if (check && check.verdict !== "linearizable") {
    throw new UserError(`the history of run ${run.client.run} is ${check.verdict}: see ${options.history}`);
  }
  // A kv operation that ends in an error is indeterminate: the history says so, and only a check can fail it.
  // Under a nemesis errors are what was asked for: the figures and the faults tell the run.
  if (run.client.errors > 0 && load !== "kv" && !options.nemesis) {
    throw new UserError(`${run.client.errors} errors, the first: ${run.client.error}`);
  }
}

/** `consensus report [results]`. */
export async function reportAction(
  results: string,
  flags: { run?: string; output?: string; force?: boolean },
): Promise<void> {
  const { report } = await import("../commands/bench.js");
  const { output, run } = await report({ results, ...flags });
  console.log(`${out.green("✔")} run ${run.client.run} of ${results} drawn in ${output}`);
}

type NemesisModule = typeof import("../workbench/nemesis.js");

/** --seed, or a random seed (printed by the command, so that the run can be replayed). */
function seedOf(nemesis: NemesisModule, flags: Flags): number {
  return flags.seed === undefined ? nemesis.randomSeed() : nemesis.parseSeed(flags.seed);
}

/** --nemesis and --nemesis-interval with the run's seed; undefined without --nemesis. */
function nemesisOptions(nemesis: NemesisModule, flags: Flags, seed: number) {
  if (flags.nemesis === undefined) return undefined;
  return {
    faults: nemesis.parseFaults(flags.nemesis),
    seed,
    interval: seconds(flags.nemesisInterval!, "--nemesis-interval", 0.1),
  };
}

function describeLoad(
  options: Pick<
    BenchOptions,
    "bench" | "concurrency" | "connections" | "size" | "streams" | "window" | "keys" | "reads" | "sticky"
  >,
) {
  const spread = options.connections > 1 ? ` over ${options.connections} connections per replica` : "";
  if (options.bench === "kv") {
    const kept = options.sticky ? ", staying where a redirect leads" : "";
    return `${options.concurrency} clients on ${options.keys} keys, ${Math.round(options.reads * 100)}% reads${spread}${kept}`;
  }
  return options.bench === "propose"
    ? `${options.concurrency} clients proposing ${options.size} bytes${spread}`
    : `${options.streams} stream${options.streams === 1 ? "" : "s"} × window ${options.window}`;
}

/** `partition r1 r2 | r3 from 2.1 s to 4.3 s`. */
function describeFault({ fault, value, start, end }: FaultSpan): string {
  const what = Array.isArray(value)
    ? value.map((side) => side.join(" ")).join(" | ")
    : typeof value === "number"
      ? `${value} ms`
      : value;
  return `${fault} ${what} from ${start.toFixed(1)} s to ${end.toFixed(1)} s`;
}

function counted(options: { requests: number; duration: number }): string {
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
    const own = counters([server]);
    console.log(
      `${(server.name ?? "server").padEnd(10)} ${count(server.messages)} messages, ` +
        `${count(server.requests)} requests, ${count(server.commits)} commits, ${count(server.drops)} uncommitted, ` +
        `${server.clients} clients${own === "" ? "" : `; ${own}`}`,
    );
  }
  const all = counters(servers);
  if (all !== "" && servers.length > 1) console.log(`${"counted".padEnd(10)} ${all}`);
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
