// A Propose as the Propose and kv loads make it: sent to a replica and, when
// that replica answers with a redirect, sent again where the redirect points,
// a bounded number of times. Redirects name replicas (SPEC §5), so the loads
// resolve names through the replicas they were given.
import * as grpc from "@grpc/grpc-js";
import { isHostPort } from "../address.js";
import type { ProposeReply, ProposeRequest } from "../pb/client.js";
import { ConsensusClient } from "../pb/service.js";

/** Redirects one proposal follows before it gives up (an error of that call). */
export const MAX_HOPS = 3;

/** The channels to one replica, and how many callers have been given one of them so far. */
interface Pool {
  channels: ConsensusClient[];
  callers: number;
}

/**
 * The grpc-js clients of a load, shared by its callers: up to `connections` per address, each its
 * own HTTP/2 connection, made on first use (a redirect may name a new address). The callers that
 * reach an address take its connections in turn, in the order they first call it.
 */
export class Replicas {
  private readonly pools = new Map<string, Pool>();
  /** `caller address` → the channel that caller uses there. */
  private readonly assigned = new Map<string, ConsensusClient>();
  private readonly byAddress = new Map<string, string>();

  /** `known`: name → host:port of every replica a redirect may name. */
  constructor(
    private readonly known: Map<string, string>,
    private readonly connections = 1,
  ) {
    for (const [name, address] of known) this.byAddress.set(address, name);
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
    const key = `${caller} ${address}`;
    let client = this.assigned.get(key);
    if (client !== undefined) return client;
    let pool = this.pools.get(address);
    if (pool === undefined) this.pools.set(address, (pool = { channels: [], callers: 0 }));
    const slot = pool.callers++ % this.connections;
    // grpc-js shares one connection among the channels to an address with the same options;
    // a subchannel pool of each channel's own makes each channel a connection of its own.
    pool.channels[slot] ??= new ConsensusClient(address, grpc.credentials.createInsecure(), {
      "grpc.use_local_subchannel_pool": 1,
    });
    client = pool.channels[slot];
    this.assigned.set(key, client);
    return client;
  }

  close(): void {
    for (const pool of this.pools.values()) for (const client of pool.channels) client.close();
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
