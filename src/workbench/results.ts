// The results file of the bench: JSON lines, one per client run
// (`metric: "client"`) and one per replica of a cluster the bench started
// (`metric: "server"`, written by the replica on exit), tied by `run`.
import { appendFile, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { jsonLines } from "../check/json-lines.js";
import { UserError } from "../core/errors.js";

/** Latency figures in microseconds. */
export interface Latency {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** A fault the nemesis injected during a run, in seconds from the start of the counted part (negative: in the warm-up). */
export interface FaultSpan {
  fault: string;
  /** What it struck: a replica, the sides of a partition, a latency in ms. */
  value: string | number | string[][];
  start: number;
  end: number;
}

/** The line a bench run appends. */
export interface ClientRecord {
  metric: "client";
  /** The version in this project's package.json. */
  version: string;
  /** RFC 3339 time the line was written. */
  time: string;
  /** This run's label; the server lines of a cluster the bench started carry it too. */
  run: string;
  bench: "propose" | "dispatch" | "kv";
  /** The options the run used, after defaults. */
  flags: Record<string, string | number | boolean>;
  /** host:port of each replica the clients talked to. */
  targets: string[];
  /** RFC 3339 start and end of the measured part (after the warm-up). */
  started: string;
  finished: string;
  /** Seconds measured. */
  duration: number;
  /** Requests (propose), operations (kv) or messages (dispatch) answered in the measured part, redirects followed within. */
  requests: number;
  /** Requests per second over `duration`. */
  throughput: number;
  /** Answered with success (a Dispatch reply of the right type, in order). */
  successes: number;
  /** Propose answered `success=false` without a redirect. */
  declines: number;
  /** Redirects followed (propose, kv): each sent the request again to the replica it named. */
  redirects: number;
  /** Calls that failed (a gRPC status, a deadline, a Dispatch reply of the wrong type or order). */
  errors: number;
  /** The first error message, if any. */
  error?: string;
  latency: Latency;
  /** Requests answered in each interval of `interval` seconds, from `started`. */
  timeline: { interval: number; counts: number[] };
  /** The latency distribution: [percentile (0–100), microseconds], rising. */
  percentiles: [number, number][];
  /** With --nemesis: the faults, as they started and ended. */
  faults?: FaultSpan[];
  /** kv: the history file of the run, relative to the results file's folder. */
  history?: string;
  /** With --trace: the page of the run's messages, relative to the results file's folder. */
  messages?: string;
  /** kv with --check: the checker's verdict on the history, the operations checked, what cannot be ordered. */
  check?: { verdict: string; operations: number; violations: string[] };
}

/** The line a replica appends on exit (`--metrics`, SPEC §3), with the name and run it was dumped with. */
export interface ServerRecord {
  metric: "server";
  /** The version in the replica's project's package.json. */
  version: string;
  /** RFC 3339 time of the first request, or null before any. */
  started: string | null;
  /** RFC 3339 time of the last request or completion, or null before any. */
  finished: string | null;
  requests: number;
  commits: number;
  drops: number;
  /** Number of distinct client identities. */
  clients: number;
  /** Dispatch requests handled (from peers, or a bench). */
  messages: number;
  /** Commits per second between started and finished. */
  throughput: number;
  /** Seconds between started and finished. */
  duration: number;
  /** What the protocol counts of its own, by name (absent from replicas that were not generated here). */
  counters?: Record<string, number>;
  name?: string;
  run?: string;
}

export type ResultRecord = ClientRecord | ServerRecord;

/** One run of a results file: its client line and the server lines with the same `run`. */
export interface Run {
  client: ClientRecord;
  servers: ServerRecord[];
}

/** Appends `record` as one line to `file`, creating it and its folder. */
export async function appendResult(file: string, record: ClientRecord): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await appendFile(file, `${JSON.stringify(record)}\n`);
}

/** The run labelled `label` in results `file`, or its last run; a one-line Error when there is none. */
export async function readRun(file: string, label?: string): Promise<Run> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new UserError(`cannot read results file ${file} (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  const records: ResultRecord[] = [];
  for (const { line, value } of jsonLines(text, (line) => new UserError(`${file}:${line}: not a JSON line`))) {
    const metric = (value as { metric?: unknown } | null)?.metric;
    if (metric !== "client" && metric !== "server") {
      throw new UserError(`${file}:${line}: not a results line (metric is neither "client" nor "server")`);
    }
    records.push(value as ResultRecord);
  }
  const clients = records.filter((record): record is ClientRecord => record.metric === "client");
  const client = label === undefined ? clients.at(-1) : clients.findLast((record) => record.run === label);
  if (client === undefined) {
    throw new UserError(label === undefined ? `${file} holds no bench run` : `${file} holds no run labelled ${label}`);
  }
  const servers = records.filter(
    (record): record is ServerRecord => record.metric === "server" && record.run === client.run,
  );
  return { client, servers };
}
