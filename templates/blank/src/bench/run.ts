// One bench run: start a cluster unless the targets are running replicas,
// load them for the warm-up and the counted part, stop the cluster (each
// replica appends its metrics line to the results file), then append the
// client line. Knows nothing of the terminal: the command prints.
import { Writable } from "node:stream";
import { rfc3339 } from "../clock.js";
import { Cluster, describeExit } from "../cluster.js";
import { projectVersion } from "../metrics.js";
import { dispatchLoad } from "./dispatch.js";
import { Measurement, type MeasurementOptions } from "./measurement.js";
import { proposeLoad } from "./propose.js";
import { appendResult, type ClientRecord, readRun, type Run } from "./results.js";

export interface BenchOptions extends MeasurementOptions {
  bench: "propose" | "dispatch";
  /** Replicas to load: host:port addresses, or names of the cluster's replicas (r1 …); none: the whole cluster (propose) or r1 (dispatch). */
  targets: string[];
  /** Size of the cluster the bench starts when a target is not an address. */
  replicas: number;
  /** First port of that cluster; 0: free ports. */
  port: number;
  /** Propose: clients at once, and bytes per value. */
  concurrency: number;
  size: number;
  /** Dispatch: streams, and requests in flight on each. */
  streams: number;
  window: number;
  /** The results file the client line and the cluster's server lines are appended to. */
  results: string;
  /** This run's label. */
  run: string;
}

export interface BenchHooks {
  /** Called when the load starts, with what it measures into and the addresses it loads. */
  started?(measurement: Measurement, targets: string[]): void;
  /** Where the lines the cluster's replicas write on stderr go (default: dropped). */
  log?: NodeJS.WritableStream;
  /** Ends the counted part early (Ctrl-C): the load drains, the cluster stops, the results are written. */
  signal?: AbortSignal;
}

/** Runs the bench; resolves with its client line (appended to the results file) and its server lines. */
export async function runBench(options: BenchOptions, hooks: BenchHooks = {}): Promise<Run> {
  const names = options.targets.filter((target) => !target.includes(":"));
  const stranger = names.find(
    (name) => !/^r\d+$/.test(name) || Number(name.slice(1)) < 1 || Number(name.slice(1)) > options.replicas,
  );
  if (stranger !== undefined) {
    throw new Error(`no replica ${stranger} in a cluster of ${options.replicas} (r1 … r${options.replicas})`);
  }
  // Made first, so that an abort while the cluster starts still ends the run at once.
  const measurement = new Measurement(options);
  hooks.signal?.addEventListener("abort", () => measurement.stop());
  const needsCluster = options.targets.length === 0 || names.length > 0;
  const cluster = needsCluster
    ? await Cluster.start({
        replicas: options.replicas,
        firstPort: options.port,
        metrics: options.results,
        run: options.run,
        output: discard(),
        errorOutput: hooks.log ?? discard(),
      })
    : undefined;
  const members = new Map(cluster?.members.map((member) => [member.name, member.address]));
  let targets: string[];
  try {
    targets = options.targets.map((target) => (target.includes(":") ? target : members.get(target)!));
    if (targets.length === 0) targets = cluster!.members.map((member) => member.address);
    if (options.bench === "dispatch" && options.targets.length === 0) targets = targets.slice(0, 1);

    const load =
      options.bench === "propose"
        ? proposeLoad({ ...options, targets }, measurement)
        : dispatchLoad({ ...options, targets }, measurement);
    // A replica of the cluster dying ends the run: what it measured is then wrong.
    void cluster?.died.then((exit) => {
      measurement.failed(`${exit.name} ${describeExit(exit)} during the run`);
      measurement.stop();
    });
    measurement.start();
    hooks.started?.(measurement, targets);
    await load;
  } finally {
    const exits = (await cluster?.stop()) ?? [];
    // A replica that did not drain and dump its line cleanly makes the run's figures suspect.
    for (const exit of exits)
      if (exit.code !== 0) measurement.failed(`${exit.name} ${describeExit(exit)} when stopped`);
  }
  // The cluster's flags only where the bench started one.
  const { results: _results, run, bench, replicas, port, ...flags } = options;
  const client: ClientRecord = {
    metric: "client",
    version: projectVersion(),
    time: rfc3339(),
    run,
    bench,
    flags: { ...flags, ...(cluster ? { replicas, port } : {}), targets: options.targets.join(",") },
    targets,
    ...measurement.figures(),
  };
  await appendResult(options.results, client);
  return readRun(options.results, run);
}

function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}
