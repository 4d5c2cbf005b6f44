// One bench run: start a cluster unless the targets are running replicas,
// load them for the warm-up and the counted part, stop the cluster (each
// replica appends its metrics line to the results file), then append the
// client line. Knows nothing of the terminal: the command prints.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { type CheckResult, checkHistory, type History as ParsedHistory } from "../check/index.js";
import { UserError } from "../core/errors.js";
import { isHostPort } from "./address.js";
import { rfc3339 } from "./clock.js";
import { Cluster, describeExit, type StartCommand } from "./cluster.js";
import type { Fsync } from "./fsync.js";
import { History, readHistory } from "./history.js";
import { dispatchLoad } from "./load/dispatch.js";
import { EtcdStore } from "./load/etcd.js";
import { kvLoad, ReplicaStore } from "./load/kv.js";
import { proposeLoad } from "./load/propose.js";
import { Measurement, type MeasurementOptions } from "./measurement.js";
import { cutsLinks, type Fault, Nemesis, type NemesisEvent, schedule } from "./nemesis.js";
import { appendResult, type ClientRecord, type FaultSpan, readRun, type Run } from "./results.js";
import { drawRun } from "./trace.js";

export type Load = "propose" | "dispatch" | "kv";

/**
 * What to load: a replica of the bench's own cluster (by name), one running elsewhere, or an etcd
 * cluster's members (the kv load through etcd's KV API).
 */
export type Target = { own: string } | { name: string | undefined; address: string } | { etcd: string[] };

/** What begins `--target` to name etcd's members rather than replicas. */
const ETCD = "etcd=";

/**
 * Reads `--target`: `host:port`, `name=host:port` (a replica running elsewhere, named so that
 * redirects to that name are followed), or `r2`, a replica of the cluster the bench starts; or
 * `etcd=host:port,…`, every entry then a member of one etcd cluster.
 */
export function parseTargets(list: string): Target[] {
  if (list.trim().startsWith(ETCD)) {
    const given = list.trim().slice(ETCD.length);
    const endpoints = given
      .split(",")
      .map((entry) => entry.trim())
      .filter(Boolean);
    if (endpoints.length === 0) throw new UserError(`--target ${list}: give etcd's members, etcd=host:port[,…]`);
    const bad = endpoints.find((endpoint) => !isHostPort(endpoint));
    if (bad !== undefined) throw new UserError(`--target ${list}: ${bad} is not host:port`);
    return [{ etcd: endpoints }];
  }
  return list
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.indexOf("=");
      const [name, address] = at < 0 ? [undefined, entry] : [entry.slice(0, at), entry.slice(at + 1)];
      if (!address.includes(":")) {
        if (name !== undefined) throw new UserError(`--target ${entry}: ${address} is not host:port`);
        return { own: entry };
      }
      if (!isHostPort(address)) throw new UserError(`--target ${entry}: ${address} is not host:port`);
      if (name === "etcd") throw new UserError(`--target ${list}: etcd=host:port,… names etcd's members alone`);
      if (name !== undefined && !/^[^\s=,]+$/.test(name))
        throw new UserError(`--target ${entry}: "${name}" is not a replica name`);
      return { name, address };
    });
}

export interface BenchOptions extends MeasurementOptions {
  bench: Load;
  /** Replicas to load; none: the whole cluster (propose) or r1 (dispatch) of a cluster the bench starts. */
  targets: Target[];
  /** How the project's replicas start, for a cluster of the bench's own (undefined outside a project). */
  start: StartCommand | undefined;
  /** The project's version, for the results line. */
  version: string;
  /** Size of the cluster the bench starts when a target is not an address. */
  replicas: number;
  /** First port of that cluster; 0: free ports. */
  port: number;
  /** Propose, kv: clients at once, and the HTTP/2 connections per replica they spread over. */
  concurrency: number;
  connections: number;
  /** Propose: bytes per value. */
  size: number;
  /** Dispatch: streams, and requests in flight on each. */
  streams: number;
  window: number;
  /** kv: keys, the fraction of reads, the history file, and the seed of the clients' choices. */
  keys: number;
  reads: number;
  /** kv: a client answered after a redirect starts its next operations where the redirect led. */
  sticky: boolean;
  history: string;
  seed: number;
  /** kv: check the history for linearizability once the run is over. */
  check: boolean;
  /** Faults injected into the bench's own cluster, one every `interval` seconds, drawn from `seed`. */
  nemesis?: { faults: Fault[]; interval: number };
  /** The results file the client line and the cluster's server lines are appended to. */
  results: string;
  /** This run's label. */
  run: string;
  /** Folder of the bench's own replicas' traces, merged and drawn once they stop (messages.jsonl, messages.html). */
  trace?: string;
  /** When the bench's own replicas sync their durable state (their --fsync; default: their own). */
  fsync?: Fsync;
}

export interface BenchHooks {
  /** Called when the load starts, with what it measures into and the addresses it loads. */
  started?(measurement: Measurement, targets: string[]): void;
  /** Where the lines the cluster's replicas write on stderr go (default: dropped). */
  log?: NodeJS.WritableStream;
  /** Ends the counted part early (Ctrl-C): the load drains, the cluster stops, the results are written. */
  signal?: AbortSignal;
  /** Called with each fault's start and stop as the nemesis records them. */
  fault?(event: NemesisEvent): void;
}

/** A history and the checker's verdict on it. */
export interface Checked {
  history: ParsedHistory;
  result: CheckResult;
}

/** A run, and for kv with --check its checked history (to draw in the report). */
export interface BenchRun extends Run {
  checked?: Checked;
}

/** Reads and checks the history `file` (a HistoryFileError when it cannot be read or is not one). */
export async function checkHistoryFile(file: string): Promise<Checked> {
  const history = await readHistory(file);
  return { history, result: await checkHistory(history) };
}

/** Runs the bench; resolves with its client line (appended to the results file) and its server lines. */
export async function runBench(options: BenchOptions, hooks: BenchHooks = {}): Promise<BenchRun> {
  const names = options.targets.flatMap((target) => ("own" in target ? [target.own] : []));
  const stranger = names.find(
    (name) => !/^r\d+$/.test(name) || Number(name.slice(1)) < 1 || Number(name.slice(1)) > options.replicas,
  );
  if (stranger !== undefined) {
    throw new UserError(`no replica ${stranger} in a cluster of ${options.replicas} (r1 … r${options.replicas})`);
  }
  const etcd = options.targets.flatMap((target) => ("etcd" in target ? target.etcd : []));
  if (etcd.length > 0 && options.bench !== "kv") {
    throw new UserError(`--target etcd=… loads etcd's KV API, which only bench kv speaks (not ${options.bench})`);
  }
  const needsCluster = options.targets.length === 0 || names.length > 0;
  if (options.nemesis && !needsCluster) {
    throw new UserError(
      "--nemesis breaks the bench's own cluster: name its replicas (r1,r2) in --target, or give none",
    );
  }
  if (options.trace !== undefined && !needsCluster) {
    throw new UserError("--trace traces the bench's own replicas: name them (r1,r2) in --target, or give none");
  }
  if (options.fsync !== undefined && !needsCluster) {
    throw new UserError("--fsync sets the bench's own replicas: name them (r1,r2) in --target, or give none");
  }
  if (needsCluster && options.start === undefined) {
    throw new UserError(
      "no consensus.json here or above to start replicas from: run inside a project, or --target host:port",
    );
  }
  // Checked before anything starts: the schedule refuses a fault the cluster is too small for.
  const episodes =
    options.nemesis &&
    schedule({
      ...options.nemesis,
      seed: options.seed,
      replicas: Array.from({ length: options.replicas }, (_, i) => `r${i + 1}`),
    });
  // Made first, so that an abort while the cluster starts still ends the run at once.
  const measurement = new Measurement(options);
  hooks.signal?.addEventListener("abort", () => measurement.stop());
  // A fresh folder of durable state per replica for the run: one the nemesis kills comes back with
  // what it had promised and accepted, as a crash would leave it (without, it would restart blank).
  const data = needsCluster ? await mkdtemp(path.join(os.tmpdir(), "consensus-bench-")) : undefined;
  const cluster = needsCluster
    ? await Cluster.start({
        start: options.start!,
        data,
        fsync: options.fsync,
        replicas: options.replicas,
        firstPort: options.port,
        metrics: options.results,
        run: options.run,
        trace: options.trace,
        links: options.nemesis && cutsLinks(options.nemesis.faults),
        output: discard(),
        errorOutput: hooks.log ?? discard(),
      }).catch(async (error: unknown) => {
        await removeData(data);
        throw error;
      })
    : undefined;
  const members = new Map(cluster?.members.map((member) => [member.name, member.address]));
  // By name: redirects name replicas. An unnamed target is known by its address.
  let named: [string, string][] = options.targets.flatMap((target): [string, string][] =>
    "etcd" in target
      ? target.etcd.map((address) => [address, address])
      : "own" in target
        ? [[target.own, members.get(target.own)!]]
        : [[target.name ?? target.address, target.address]],
  );
  if (named.length === 0) named = [...members];
  if (options.bench === "dispatch" && options.targets.length === 0) named = named.slice(0, 1);
  const targets = named.map(([, address]) => address);
  // Every replica a redirect may name: the cluster's, and the targets by their names.
  const known = new Map([...members, ...named]);
  let history: History | undefined;
  /** When the history's clock started, in wall-clock ns: the replicas' traces are on the wall clock. */
  let origin = 0;
  const faults: FaultSpan[] = [];
  let nemesis: Nemesis | undefined;
  let load: Promise<void> | undefined;
  try {
    history = options.bench === "kv" ? await History.open(options.history) : undefined;
    // As the replicas read the wall clock (their --trace).
    origin = Math.round((performance.timeOrigin + performance.now()) * 1e6);
    const written = history;
    load =
      options.bench === "propose"
        ? proposeLoad({ ...options, targets: named.map(([name]) => name), replicas: known }, measurement)
        : options.bench === "dispatch"
          ? dispatchLoad({ ...options, targets }, measurement)
          : kvLoad(
              {
                ...options,
                store:
                  etcd.length > 0
                    ? new EtcdStore(etcd, options.connections)
                    : new ReplicaStore(known, options.connections),
              },
              measurement,
              written!,
            );
    if (episodes && cluster) {
      nemesis = new Nemesis({
        schedule: episodes,
        target: cluster,
        record(event) {
          // In the history on its clock, among the operations the fault overlapped.
          written?.record({ ...event, time: written.now() });
          if (event.f === "start")
            faults.push({ fault: event.fault, value: event.value, start: event.time, end: event.time });
          else faults.at(-1)!.end = event.time;
          hooks.fault?.(event);
        },
        now: () => performance.now(),
      });
      void nemesis.failed.then((error) => {
        measurement.failed(`the nemesis failed: ${error.message}`);
        measurement.stop();
      });
    }
    // A replica of the cluster dying ends the run: what it measured is then wrong. (The nemesis's kills are not deaths.)
    void cluster?.died.then((exit) => {
      measurement.failed(`${exit.name} ${describeExit(exit)} during the run`);
      measurement.stop();
    });
    measurement.start();
    nemesis?.start();
    hooks.started?.(measurement, targets);
    await load;
  } finally {
    // After a failure part-way, the load still drains before its history closes.
    measurement.stop();
    await load?.catch(() => undefined);
    await nemesis?.stop();
    await history?.close();
    const exits = (await cluster?.stop()) ?? [];
    await removeData(data);
    // A replica that did not drain and dump its line cleanly makes the run's figures suspect.
    for (const exit of exits)
      if (exit.code !== 0) measurement.failed(`${exit.name} ${describeExit(exit)} when stopped`);
  }
  // The cluster's flags only where the bench started one.
  const { results: _results, run, bench, replicas, port, start: _start, version, targets: given, ...rest } = options;
  const { keys, reads, sticky, history: historyFile, seed, nemesis: nemesisOptions, check, ...flags } = rest;
  // Once the cluster is down: the search may take all of a core.
  const checked = history && check ? await checkHistoryFile(historyFile) : undefined;
  const folder = path.dirname(path.resolve(options.results));
  const messages =
    options.trace !== undefined && cluster
      ? await drawRun(options.trace, {
          names: cluster.members.map((member) => member.name),
          title: `${bench} bench · ${run}: messages`,
          history: history && {
            history: checked?.history ?? (await readHistory(historyFile)),
            result: checked?.result,
            origin,
          },
        })
      : undefined;
  const client: ClientRecord = {
    metric: "client",
    version,
    time: rfc3339(),
    run,
    bench,
    flags: {
      ...flags,
      ...(cluster ? { replicas, port } : {}),
      ...(bench === "kv" ? { keys, reads, sticky, history: historyFile, check } : {}),
      ...(bench === "kv" || nemesisOptions ? { seed } : {}),
      ...(nemesisOptions ? { nemesis: nemesisOptions.faults.join(","), nemesisInterval: nemesisOptions.interval } : {}),
      targets: given.map(describeTarget).join(","),
    },
    targets,
    ...measurement.figures(),
    ...(nemesisOptions
      ? {
          faults: faults.map((span) => ({
            ...span,
            start: measurement.secondsAt(span.start),
            end: measurement.secondsAt(span.end),
          })),
        }
      : {}),
    // Relative to the results file, so that a report drawn from elsewhere finds it.
    ...(history ? { history: path.relative(folder, path.resolve(historyFile)) } : {}),
    ...(messages ? { messages: path.relative(folder, messages) } : {}),
    ...(checked ? { check: verdictOf(checked.result) } : {}),
  };
  await appendResult(options.results, client);
  return { ...(await readRun(options.results, run)), checked };
}

/** A target as --target gives it. */
export function describeTarget(target: Target): string {
  if ("etcd" in target) return `${ETCD}${target.etcd.join(",")}`;
  if ("own" in target) return target.own;
  return target.name === undefined ? target.address : `${target.name}=${target.address}`;
}

async function removeData(folder: string | undefined): Promise<void> {
  if (folder !== undefined) await rm(folder, { recursive: true, force: true });
}

function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}

/** What the results line keeps of a check: the verdict, and what cannot be ordered. */
export function verdictOf(result: CheckResult): NonNullable<ClientRecord["check"]> {
  return {
    verdict: result.verdict,
    operations: result.operations,
    violations: result.violations.map((violation) => violation.message),
  };
}
