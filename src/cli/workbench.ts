// The workbench's commands: cluster, bench, report. Their modules are loaded
// by the action that needs them: gRPC and the loads cost start-up time that
// `consensus protobuf` must not pay.
import type { Command } from "commander";
import { UserError } from "../core/errors.js";
import { count, micros } from "../workbench/format.js";
import type { Measurement } from "../workbench/measurement.js";
import type { FaultSpan, Latency, Run } from "../workbench/results.js";
import { fraction, integer, seconds } from "./flags.js";
import { out } from "./output.js";
import { interrupt } from "./run.js";

/** SIGTERM and SIGHUP end a cluster or a bench as Ctrl-C does (run.ts handles SIGINT). */
function onTermination(): () => void {
  const stop = () => (interrupt.signal.aborted ? process.exit(130) : interrupt.abort());
  const signals = ["SIGTERM", "SIGHUP"] as const;
  for (const signal of signals) process.on(signal, stop);
  return () => {
    for (const signal of signals) process.off(signal, stop);
  };
}

export function registerWorkbench(program: Command): void {
  program
    .command("cluster")
    .description("run a local quorum of this project's replicas, their lines prefixed by name; Ctrl-C stops all")
    .option("--replicas <n>", "how many replicas, r1..rN (1 to 64)", "3")
    .option("--host <host>", "address they listen on", "127.0.0.1")
    .option("--port <port>", "r1's port; rI listens on port+I-1, 0 for any", "3264")
    .option("--data <dir>", "rI keeps its durable state in <dir>/rI (--data)")
    .option("--metrics <file>", "each replica appends its metrics line here on exit")
    .option("--run <label>", "label of those lines")
    .option("--nemesis <faults>", "inject faults on a seeded schedule: kill,pause,partition,delay")
    .option("--nemesis-interval <s>", "seconds from one fault to the next", "5")
    .option("--seed <n>", "the nemesis schedule's seed (default: a random one, printed)")
    .action(async (flags: Record<string, string | undefined>) => {
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
          metrics: flags.metrics,
          run: flags.run,
          nemesis: nemesisOptions(nemesis, flags),
          signal: interrupt.signal,
          output: process.stdout,
          errorOutput: process.stderr,
        });
      } finally {
        release();
      }
    });

  program
    .command("bench")
    .description("load a cluster (the bench's own, or --target), print the figures, append them to a results file")
    .argument(
      "<load>",
      "propose: closed-loop clients calling Propose; dispatch: Dispatch streams pipelining BEACON; kv: reads and writes recorded in a history",
    )
    .option("--target <list>", "replicas to load: host:port, name=host:port, or r1,r2 of the bench's own cluster")
    .option("--replicas <n>", "size of the bench's own cluster", "3")
    .option("--port <port>", "its first port, 0 for free ones", "0")
    .option("--duration <s>", "seconds counted, after the warm-up", "10")
    .option("--requests <n>", "count this many answers instead of seconds")
    .option("--warmup <s>", "seconds of load before counting", "1")
    .option("--interval <s>", "seconds per point of the throughput plot", "0.5")
    .option(
      "--timeout <ms>",
      "a request unanswered this long is an error; nothing answered for twice this ends the run",
      "5000",
    )
    .option("--concurrency <n>", "propose, kv: clients at once", "16")
    .option("--size <bytes>", "propose: bytes per value", "64")
    .option("--streams <n>", "dispatch: streams", "1")
    .option("--window <n>", "dispatch: requests in flight per stream, 1 is lockstep", "64")
    .option("--keys <n>", "kv: keys k0 … kN-1", "8")
    .option("--reads <fraction>", "kv: the fraction of operations that are reads", "0.5")
    .option("--history <file>", "kv: the history to write (default: beside the results file, <name>-history.jsonl)")
    .option("--check", "kv: check the history for linearizability at the end; the run fails if it is not")
    .option("--nemesis <faults>", "inject faults into the bench's own cluster: kill,pause,partition,delay")
    .option("--nemesis-interval <s>", "seconds from one fault to the next", "5")
    .option("--seed <n>", "seeds the nemesis schedule and the kv clients' choices (default: random, printed)")
    .option("--results <file>", "JSON-lines results file to append to", "bench.jsonl")
    .option("--run <label>", "this run's label")
    .option("--report <file.html>", "write the run as an HTML page")
    .option("--progress", "a progress line even when the output is not a terminal")
    .action(
      async (load: string, flags: Record<string, string | undefined> & { progress?: boolean; check?: boolean }) => {
        if (flags.check && load !== "kv") throw new UserError("--check checks a kv run's history: bench kv --check");
        if (load !== "propose" && load !== "dispatch" && load !== "kv") {
          throw new UserError(`unknown load ${load}: propose, dispatch or kv`);
        }
        const [{ bench }, { parseTargets }, nemesis] = await Promise.all([
          import("../commands/bench.js"),
          import("../workbench/bench.js"),
          import("../workbench/nemesis.js"),
        ]);
        const results = flags.results!;
        const chaos = nemesisOptions(nemesis, flags);
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
          concurrency: integer(flags.concurrency!, "--concurrency", 1, 10_000),
          size: integer(flags.size!, "--size", 0, 4 * 1024 * 1024 - 64),
          streams: integer(flags.streams!, "--streams", 1, 1000),
          window: integer(flags.window!, "--window", 1, 100_000),
          keys: integer(flags.keys!, "--keys", 1, 1_000_000),
          reads: fraction(flags.reads!, "--reads"),
          history: flags.history ?? results.replace(/(\.jsonl?)?$/, "-history.jsonl"),
          seed: chaos?.seed ?? (flags.seed === undefined ? nemesis.randomSeed() : nemesis.parseSeed(flags.seed)),
          nemesis: chaos && { faults: chaos.faults, interval: chaos.interval },
          check: flags.check === true,
          results,
          run: flags.run ?? `${load}-${new Date().toISOString()}`,
          report: flags.report,
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
        if (run.client.errors > 0 && load !== "kv") {
          throw new UserError(`${run.client.errors} errors, the first: ${run.client.error}`);
        }
      },
    );

  program
    .command("report")
    .description("draw a run of a results file as one self-contained HTML page")
    .argument("[results]", "the results file", "bench.jsonl")
    .option("--run <label>", "the run to draw (default: the last)")
    .option("-o, --output <file.html>", "the page to write (default: the results file's name, .html)")
    .action(async (results: string, flags: { run?: string; output?: string }) => {
      const { report } = await import("../commands/bench.js");
      const { output, run } = await report({ results, ...flags });
      console.log(`${out.green("✔")} run ${run.client.run} of ${results} drawn in ${output}`);
    });
}

/** --nemesis, --nemesis-interval and --seed; undefined without --nemesis. */
function nemesisOptions(nemesis: typeof import("../workbench/nemesis.js"), flags: Record<string, string | undefined>) {
  if (flags.nemesis === undefined) return undefined;
  return {
    faults: nemesis.parseFaults(flags.nemesis),
    seed: flags.seed === undefined ? nemesis.randomSeed() : nemesis.parseSeed(flags.seed),
    interval: seconds(flags.nemesisInterval!, "--nemesis-interval", 0.1),
  };
}

function describeLoad(options: {
  bench: string;
  concurrency: number;
  size: number;
  streams: number;
  window: number;
  keys: number;
  reads: number;
}) {
  if (options.bench === "kv") {
    return `${options.concurrency} clients on ${options.keys} keys, ${Math.round(options.reads * 100)}% reads`;
  }
  return options.bench === "propose"
    ? `${options.concurrency} clients proposing ${options.size} bytes`
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
