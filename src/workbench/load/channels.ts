// The grpc-js clients of a load, shared by its callers: up to `connections` per address, each its
// own HTTP/2 connection, made on first use. The callers that reach an address take its connections
// in turn, in the order they first call it. The Propose and kv loads share it, whatever service
// their clients speak (a replica's Consensus, etcd's KV).
import type * as grpc from "@grpc/grpc-js";

/** Options that make each channel a connection of its own: grpc-js shares one among the channels to an address with the same options, unless each has a subchannel pool of its own. */
export const OWN_CONNECTION: grpc.ClientOptions = { "grpc.use_local_subchannel_pool": 1 };

/** The channels to one address, and how many callers have been given one of them so far. */
interface Pool<C> {
  channels: C[];
  callers: number;
}

export class Channels<C extends grpc.Client> {
  private readonly pools = new Map<string, Pool<C>>();
  /** `caller address` → the channel that caller uses there. */
  private readonly assigned = new Map<string, C>();

  /** `open` makes a channel to an address, on a connection of its own (OWN_CONNECTION). */
  constructor(
    private readonly open: (address: string) => C,
    private readonly connections = 1,
  ) {}

  /** The channel caller `caller` (an index) uses to reach `address`. */
  get(address: string, caller: number): C {
    const key = `${caller} ${address}`;
    let channel = this.assigned.get(key);
    if (channel !== undefined) return channel;
    let pool = this.pools.get(address);
    if (pool === undefined) this.pools.set(address, (pool = { channels: [], callers: 0 }));
    const slot = pool.callers++ % this.connections;
    channel = pool.channels[slot] ??= this.open(address);
    this.assigned.set(key, channel);
    return channel;
  }

  close(): void {
    for (const pool of this.pools.values()) for (const channel of pool.channels) channel.close();
  }
}
