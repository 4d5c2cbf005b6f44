// A Propose as the Propose and kv loads make it: sent to a replica and, when
// that replica answers with a redirect, sent again where the redirect points,
// a bounded number of times. Redirects name replicas (SPEC §5), so the loads
// resolve names through the replicas they were given.
import * as grpc from "@grpc/grpc-js";
import { isHostPort } from "../address.js";
import type { ProposeReply, ProposeRequest } from "../pb/client.js";
import { ConsensusClient } from "../pb/service.js";
import { Channels, OWN_CONNECTION } from "./channels.js";

/** Redirects one proposal follows before it gives up (an error of that call). */
export const MAX_HOPS = 3;

/**
 * The replicas of a load and the grpc-js clients its callers reach them with (Channels: up to
 * `connections` per replica, made on first use, since a redirect may name a new address).
 */
export class Replicas {
  private readonly channels: Channels<ConsensusClient>;
  private readonly byAddress = new Map<string, string>();

  /** `known`: name → host:port of every replica a redirect may name. */
  constructor(
    private readonly known: Map<string, string>,
    connections = 1,
  ) {
    for (const [name, address] of known) this.byAddress.set(address, name);
    this.channels = new Channels(
      (address) => new ConsensusClient(address, grpc.credentials.createInsecure(), OWN_CONNECTION),
      connections,
    );
  }

  /** A replica given as a name or as host:port, or undefined when it is neither. */
  resolve(replica: string): { name: string; address: string } | undefined {
    const address = this.known.get(replica);
    if (address !== undefined) return { name: replica, address };
    if (isHostPort(replica)) return { name: this.byAddress.get(replica) ?? replica, address: replica };
    return undefined;
  }

  /** The channel caller `caller` (an index) uses to reach `address`. */
  client(address: string, caller: number): ConsensusClient {
    return this.channels.get(address, caller);
  }

  close(): void {
    this.channels.close();
  }
}

/**
 * How a proposal ended, at `replica` (a name, or host:port when it has none): a reply that is not a
 * redirect, or an error (a gRPC error, a deadline, too many redirects, a redirect to no known replica).
 */
export type Ended = { reply: ProposeReply; replica: string } | { error: string; replica: string };

/**
 * Proposes `request` for caller `caller` at `replica` (resolved through `replicas`; the caller
 * knows it resolves), following up to MAX_HOPS redirects; calls `redirected` for each one followed.
 */
export async function proposeFollowing(
  replicas: Replicas,
  caller: number,
  request: ProposeRequest,
  replica: string,
  timeout: number,
  redirected: () => void,
): Promise<Ended> {
  let { name, address } = replicas.resolve(replica)!;
  for (let hops = 0; ; hops++) {
    let reply: ProposeReply;
    try {
      reply = await propose(replicas.client(address, caller), request, timeout);
    } catch (error) {
      const { code, details } = error as grpc.ServiceError;
      return { error: `${grpc.status[code] ?? code}: ${details}`, replica: name };
    }
    if (reply.success || !reply.redirect) return { reply, replica: name };
    if (hops === MAX_HOPS) return { error: `more than ${MAX_HOPS} redirects`, replica: name };
    const next = replicas.resolve(reply.redirect);
    if (next === undefined)
      return { error: `redirect to unknown replica ${JSON.stringify(reply.redirect)}`, replica: name };
    redirected();
    ({ name, address } = next);
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
