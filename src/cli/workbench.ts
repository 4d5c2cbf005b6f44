// The workbench's commands (cluster, bench, report) as the command line defines them. What they
// do is in workbench-actions.ts, loaded when one runs: gRPC, the loads and their printing cost
// start-up time that `consensus protobuf` must not pay.
import { type Command, Option } from "commander";
import { FSYNC } from "../workbench/fsync.js";

export function registerWorkbench(program: Command): void {
  program
    .command("cluster")
    .description("run a local quorum of this project's replicas, their lines prefixed by name; Ctrl-C stops all")
    .option("--replicas <n>", "how many replicas, r1..rN (1 to 64)", "3")
    .option("--host <host>", "address they listen on", "127.0.0.1")
    .option("--port <port>", "r1's port; rI listens on port+I-1, 0 for any", "3264")
    .option("--data <dir>", "rI keeps its durable state in <dir>/rI (--data)")
    .addOption(new Option("--fsync <when>", "when the replicas sync their durable state (--fsync)").choices(FSYNC))
    .option("--metrics <file>", "each replica appends its metrics line here on exit")
    .option("--run <label>", "label of those lines")
    .option(
      "--trace <dir>",
      "each replica traces its Dispatch messages in <dir>/rI.jsonl; on stop, drawn in <dir>/messages.html",
    )
    .option("--nemesis <faults>", "inject faults on a seeded schedule: kill,pause,partition,delay")
    .option("--nemesis-interval <s>", "seconds from one fault to the next", "5")
    .option("--seed <n>", "the nemesis schedule's seed (default: a random one, printed)")
    .action((flags) => import("./workbench-actions.js").then(({ clusterAction }) => clusterAction(flags)));

  program
    .command("bench")
    .description("load a cluster (the bench's own, or --target), print the figures, append them to a results file")
    .argument(
      "<load>",
      "propose: closed-loop clients calling Propose; dispatch: Dispatch streams pipelining BEACON; kv: reads and writes recorded in a history",
    )
    .option(
      "--target <list>",
      "replicas to load: host:port, name=host:port, or r1,r2 of the bench's own cluster; kv: etcd=host:port,… loads etcd's members",
    )
    .option("--replicas <n>", "size of the bench's own cluster", "3")
    .option("--port <port>", "its first port, 0 for free ones", "0")
    .addOption(
      new Option("--fsync <when>", "when the bench's own replicas sync their durable state (--fsync)").choices(FSYNC),
    )
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
    .option("--connections <n>", "propose, kv: HTTP/2 connections per replica the clients spread over", "1")
    .option("--size <bytes>", "propose: bytes per value", "64")
    .option("--streams <n>", "dispatch: streams", "1")
    .option("--window <n>", "dispatch: requests in flight per stream, 1 is lockstep", "64")
    .option("--keys <n>", "kv: keys k0 … kN-1", "8")
    .option("--reads <fraction>", "kv: the fraction of operations that are reads", "0.5")
    .option(
      "--sticky",
      "kv: a client redirected to the leader starts its next operations there (default: at its own replica)",
    )
    .option("--history <file>", "kv: the history to write (default: beside the results file, <name>-history.jsonl)")
    .option("--check", "kv: check the history for linearizability at the end; the run fails if it is not")
    .option("--nemesis <faults>", "inject faults into the bench's own cluster: kill,pause,partition,delay")
    .option("--nemesis-interval <s>", "seconds from one fault to the next", "5")
    .option("--seed <n>", "seeds the nemesis schedule and the kv clients' choices (default: random, printed)")
    .option(
      "--trace <dir>",
      "the bench's own replicas trace their Dispatch messages in <dir>/rI.jsonl; drawn in <dir>/messages.html, linked from the report",
    )
    .option("--results <file>", "JSON-lines results file to append to", "bench.jsonl")
    .option("--run <label>", "this run's label")
    .option("--report <file.html>", "write the run as an HTML page")
    .option("--force", "let --report replace a file that is there")
    .option("--progress", "a progress line even when the output is not a terminal")
    .action((load, flags) => import("./workbench-actions.js").then(({ benchAction }) => benchAction(load, flags)));

  program
    .command("report")
    .description("draw a run of a results file as one self-contained HTML page")
    .argument("[results]", "the results file", "bench.jsonl")
    .option("--run <label>", "the run to draw (default: the last)")
    .option("-o, --output <file.html>", "the page to write (default: the results file's name, .html)")
    .option("--force", "replace the page if it is there")
    .action((results, flags) =>
      import("./workbench-actions.js").then(({ reportAction }) => reportAction(results, flags)),
    );
}
