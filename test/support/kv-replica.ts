// A key-value replica for the workbench's tests, with the command line of a
// generated project's replica (SPEC §3) and the kv semantics of SPEC §5, but no
// consensus: r1 is the leader for good. Followers redirect writes to it; it
// applies them, answers, and copies them to the followers asynchronously over
// Dispatch, as BEACON requests whose `timestamp` carries the write as JSON (a
// hack that keeps the fixture on the stock envelope). Through --peers, so a
// partition between replicas stops the copying. With --stale-reads followers
// answer reads from their own copy, which is not linearizable (a partition, or
// just the replication lag, shows it); without it they redirect reads too.
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { rfc3339 } from "../../src/workbench/clock.js";
import type { ProposeReply } from "../../src/workbench/pb/client.js";
import { type PeerReply, type PeerRequest, Type } from "../../src/workbench/pb/envelope.js";
import { ConsensusClient, type ConsensusServer, ConsensusService } from "../../src/workbench/pb/service.js";

const LEADER = "r1";
/** Pause before reopening a stream to a follower. */
const RETRY_MS = 200;

/** A write as the leader copies it: the value's bytes in base64, and its log index. */
interface Write {
  key: string;
  value: string;
  seq: number;
}

const { values: flags } = parseArgs({
  options: {
    name: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    peers: { type: "string", default: "" },
    "stale-reads": { type: "boolean", default: false },
  },
  // --data, --metrics, --run, --config and the like: accepted, of no use here.
  strict: false,
});
const name = String(flags.name ?? "");
const host = String(flags.host);
const port = Number(flags.port);
const staleReads = flags["stale-reads"] === true;
if (!name || !Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error("kv-replica: --name and --port (1-65535) are required");
  process.exit(1);
}
const peers = String(flags.peers)
  .split(",")
  .filter(Boolean)
  .map((peer) => peer.slice(peer.indexOf("=") + 1));
/** The number in the name (r2 → 2), for ProposeReply.leader. */
const number = Number(/\d+$/.exec(name)?.[0] ?? 0);

/** Each key's value and the index of the write that set it. */
const store = new Map<string, { value: Buffer; seq: number }>();
let seq = 0;

/** A follower, fed by the leader over one Dispatch stream, reopened whenever it breaks. */
class Follower {
  private readonly client: ConsensusClient;
  private stream: grpc.ClientDuplexStream<PeerRequest, PeerReply> | undefined;

  constructor(address: string) {
    // Keepalive notices a link that went silent (a partition), which a stream alone would wait on forever.
    this.client = new ConsensusClient(address, grpc.credentials.createInsecure(), {
      "grpc.keepalive_time_ms": 1000,
      "grpc.keepalive_timeout_ms": 1000,
    });
    this.open();
  }

  private open(): void {
    const stream = this.client.dispatch();
    const broken = () => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      stream.cancel();
      setTimeout(() => this.open(), RETRY_MS);
    };
    stream.on("data", () => undefined);
    stream.on("error", broken);
    stream.on("end", broken);
    this.stream = stream;
    // Whatever was lost with the last stream: followers skip what they have already.
    for (const [key, { value, seq }] of store) this.send({ key, value: value.toString("base64"), seq });
  }

  send(write: Write): void {
    this.stream?.write({
      type: Type.BEACON,
      sender: name,
      message: { $case: "beacon", value: { timestamp: JSON.stringify(write) } },
    });
  }

  close(): void {
    this.client.close();
  }
}

const followers = name === LEADER ? peers.map((address) => new Follower(address)) : [];

function reply(fields: Partial<ProposeReply>): ProposeReply {
  return { success: false, redirect: "", error: "", seq: 0n, leader: 0, name: "", value: Buffer.alloc(0), ...fields };
}

const service: ConsensusServer = {
  propose(call, callback) {
    const { name: key, value } = call.request;
    const read = value.length === 0;
    if (name !== LEADER && !(read && staleReads)) return callback(null, reply({ redirect: LEADER }));
    if (!read) {
      store.set(key, { value: Buffer.from(value), seq: ++seq });
      const write = { key, value: Buffer.from(value).toString("base64"), seq };
      for (const follower of followers) follower.send(write);
    }
    const entry = store.get(key);
    callback(
      null,
      reply({ success: true, seq: BigInt(seq), leader: number, name: key, value: entry?.value ?? Buffer.alloc(0) }),
    );
  },
  dispatch(call) {
    call.on("data", (request: PeerRequest) => {
      const timestamp = request.message?.value.timestamp ?? "";
      if (request.sender === LEADER && timestamp.startsWith("{")) {
        const write = JSON.parse(timestamp) as Write;
        // A write comes again after a stream breaks: keep the newer.
        if (write.seq > (store.get(write.key)?.seq ?? 0)) {
          store.set(write.key, { value: Buffer.from(write.value, "base64"), seq: write.seq });
          seq = Math.max(seq, write.seq);
        }
      }
      call.write({
        type: Type.BEACON,
        sender: name,
        success: request.message !== undefined,
        message: { $case: "beacon", value: { timestamp: rfc3339() } },
      });
    });
    call.on("end", () => call.end());
    call.on("error", () => undefined);
  },
};

const server = new grpc.Server();
server.addService(ConsensusService, service);
server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error) => {
  if (error) {
    console.error(`${name}: ${error.message}`);
    process.exit(1);
  }
  console.log(`${name} listening on ${host}:${port}`);
});

function stop(): void {
  for (const follower of followers) follower.close();
  server.forceShutdown();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
