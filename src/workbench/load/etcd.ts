// etcd as a store of the kv load (`bench kv --target etcd=host:port,…`): a write is a Put, a read
// a Range of the one key, over etcd's KV gRPC API (the few messages of etcd-pb/). Range's
// default (serializable false) is linearizable: the member asks the leader for its commit index
// and answers once it has applied that far, so the history means what a replica's does. Any
// member takes any request (a follower forwards writes to the leader): nothing is redirected,
// nothing declined; an error (a timeout, no leader) leaves the operation indeterminate.
import * as grpc from "@grpc/grpc-js";
import { KVClient } from "../etcd-pb/rpc.js";
import { Channels, OWN_CONNECTION } from "./channels.js";
import type { KvAnswer, KvOperation, KvStore } from "./kv.js";

export class EtcdStore implements KvStore {
  private readonly channels: Channels<KVClient>;

  /** `endpoints`: the members' host:port, clients spread over them; `connections` per member. */
  constructor(
    readonly endpoints: string[],
    connections?: number,
  ) {
    this.channels = new Channels(
      (address) => new KVClient(address, grpc.credentials.createInsecure(), OWN_CONNECTION),
      connections,
    );
  }

  async perform({ caller, key, value, endpoint, timeout }: KvOperation): Promise<KvAnswer> {
    const client = this.channels.get(endpoint, caller);
    const options = { deadline: Date.now() + timeout };
    const bytes = Buffer.from(key, "utf8");
    try {
      if (value !== null) {
        await new Promise((resolve, reject) =>
          client.put({ key: bytes, value }, new grpc.Metadata(), options, (error, reply) =>
            error ? reject(error) : resolve(reply),
          ),
        );
        return { value, endpoint };
      }
      const range = await new Promise<{ kvs: { value: Buffer }[] }>((resolve, reject) =>
        client.range({ key: bytes, serializable: false }, new grpc.Metadata(), options, (error, reply) =>
          error ? reject(error) : resolve(reply),
        ),
      );
      // No kvs: the key was never written, as an empty value says in the contract.
      return { value: range.kvs[0]?.value ?? Buffer.alloc(0), endpoint };
    } catch (error) {
      const { code, details } = error as grpc.ServiceError;
      return { error: `${grpc.status[code] ?? code}: ${details}`, endpoint };
    }
  }

  close(): void {
    this.channels.close();
  }
}
