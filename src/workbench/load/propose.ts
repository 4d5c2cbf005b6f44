// The Propose load: closed-loop clients, each sending its next proposal as
// soon as the last one is answered. Clients start spread over the targets in
// turn; a client redirected to the leader re-sends its proposal there and
// stays there, so the load lands on the leader.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { ProposeRequest } from "../pb/client.js";
import type { Measurement } from "../measurement.js";
import { proposeFollowing, Replicas } from "./redirects.js";

export interface ProposeLoad {
  /** The replicas clients start at: names in `replicas`, or host:port. */
  targets: string[];
  /** name → host:port of the replicas a redirect may name (none: redirects by host:port only). */
  replicas?: Map<string, string>;
  /** Clients proposing at once. */
  concurrency: number;
  /** HTTP/2 connections per replica the clients spread over, 1 … concurrency (default 1). */
  connections?: number;
  /** Bytes of each proposal's value. */
  size: number;
  /** Deadline of each call, in milliseconds. */
  timeout: number;
}

/** A pause after a failed call, so that a replica that is down is not asked in a busy loop. */
const BACKOFF_MS = 10;

/** Runs the load until `measurement` stops; resolves when every client has its last answer. */
export async function proposeLoad(load: ProposeLoad, measurement: Measurement): Promise<void> {
  const replicas = new Replicas(load.replicas ?? new Map(), load.connections);
  const unknown = load.targets.find((target) => replicas.resolve(target) === undefined);
  if (unknown !== undefined) throw new Error(`target ${unknown} is neither a known replica nor host:port`);
  try {
    await Promise.all(
      Array.from({ length: load.concurrency }, (_, index) => proposer(replicas, index, load, measurement)),
    );
  } finally {
    replicas.close();
  }
}

/**
 * Client `index` (0-based): a proposal's latency runs from its first send to its final answer,
 * redirects followed included.
 */
async function proposer(replicas: Replicas, index: number, load: ProposeLoad, measurement: Measurement) {
  const request: ProposeRequest = { identity: `bench-${index + 1}`, name: "bench", value: randomBytes(load.size) };
  let home = index % load.targets.length;
  let at = load.targets[home]!;
  while (!measurement.stopped) {
    const start = performance.now();
    const ended = await proposeFollowing(replicas, index, request, at, load.timeout, () => measurement.redirected());
    if ("reply" in ended) {
      measurement.answered(ended.reply.success ? "success" : "decline", (performance.now() - start) * 1000);
      // Where a redirect led: the next proposals go straight there.
      at = ended.replica;
      continue;
    }
    measurement.failed(`client ${index + 1}: ${ended.replica}: ${ended.error}`);
    // That replica may be down or cut off: start over at the next target, which redirects again if need be.
    home = (home + 1) % load.targets.length;
    at = load.targets[home]!;
    await sleep(BACKOFF_MS);
  }
}
