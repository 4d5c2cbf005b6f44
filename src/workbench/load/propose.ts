// The Propose load: closed-loop clients, each sending its next proposal as
// soon as the last one is answered, spread over the target replicas in turn.
import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { ProposeReply, ProposeRequest } from "../pb/client.js";
import { ConsensusClient } from "../pb/service.js";
import type { Measurement } from "../measurement.js";

export interface ProposeLoad {
  /** host:port of each replica. */
  targets: string[];
  /** Clients proposing at once. */
  concurrency: number;
  /** Bytes of each proposal's value. */
  size: number;
  /** Deadline of each call, in milliseconds. */
  timeout: number;
}

/** A pause after a failed call, so that a replica that is down is not asked in a busy loop. */
const BACKOFF_MS = 10;

/** Runs the load until `measurement` stops; resolves when every client has its last answer. */
export async function proposeLoad(load: ProposeLoad, measurement: Measurement): Promise<void> {
  const clients = load.targets.map((target) => new ConsensusClient(target, grpc.credentials.createInsecure()));
  try {
    await Promise.all(
      Array.from({ length: load.concurrency }, (_, index) =>
        proposer(clients[index % clients.length]!, index + 1, load, measurement),
      ),
    );
  } finally {
    for (const client of clients) client.close();
  }
}

async function proposer(client: ConsensusClient, number: number, load: ProposeLoad, measurement: Measurement) {
  const request: ProposeRequest = { identity: `bench-${number}`, name: "bench", value: randomBytes(load.size) };
  while (!measurement.stopped) {
    const start = performance.now();
    try {
      const reply = await propose(client, request, load.timeout);
      const microseconds = (performance.now() - start) * 1000;
      measurement.answered(reply.success ? "success" : reply.redirect ? "redirect" : "decline", microseconds);
    } catch (error) {
      const { code, details } = error as grpc.ServiceError;
      measurement.failed(`client ${number}: ${grpc.status[code] ?? code}: ${details}`);
      await new Promise((resolve) => setTimeout(resolve, BACKOFF_MS));
    }
  }
}

/** One Propose call with a deadline `timeout` ms away. */
export function propose(client: ConsensusClient, request: ProposeRequest, timeout: number): Promise<ProposeReply> {
  return new Promise((resolve, reject) =>
    client.propose(request, new grpc.Metadata(), { deadline: Date.now() + timeout }, (error, reply) =>
      error ? reject(error) : resolve(reply),
    ),
  );
}
