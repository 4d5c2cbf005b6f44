// Starts one replica: `npm start -- --name r1 --port 3264 --peers r2=127.0.0.1:3265`.
// Recovers its state from --data, then prints one line once it listens; on
// SIGINT or SIGTERM it drains its streams, stops its State, dumps its metrics
// (with --metrics) and exits 0.
import { type Config, ConfigError, loadConfig, USAGE, wantsHelp } from "./config.js";
import { FileDisk } from "./disk.js";
import { typeName } from "./envelope.js";
import { GrpcPeers } from "./peers.js";
import { Replica } from "./replica.js";
import { ReplicaServer } from "./server.js";

const argv = process.argv.slice(2);
if (wantsHelp(argv)) {
  console.log(USAGE);
  process.exit(0);
}

let config: Config;
try {
  config = loadConfig(argv);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`error: ${error.message}`);
  process.exit(1);
}

const { name, host, port, peers, metrics, run, data, fsync } = config;
const replica = new Replica({
  name,
  peers: new GrpcPeers(name, peers),
  disk: data === undefined ? undefined : new FileDisk(data, fsync),
  onError: (error, request) =>
    console.error(`${name}: ${typeName(request.type)} from ${request.sender || "?"} failed:`, error),
});
// Recovery comes before listening: a replica that cannot trust its data serves no one.
try {
  for (const notice of await replica.start()) console.error(`${name}: ${notice}`);
} catch (error) {
  console.error(`error: ${name} cannot start: ${(error as Error).message}`);
  process.exit(1);
}
const server = new ReplicaServer(replica);

let bound: number;
try {
  bound = await server.listen({ host, port });
} catch (error) {
  console.error(`error: ${name} cannot listen on ${host}:${port}: ${(error as Error).message}`);
  process.exit(1);
}

let stopping = false;
/** Drains (at most 5 s: server.close's timeout), dumps the metrics, exits 0. Signals after the first are ignored. */
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.close(); // answers what was received, which may still use the State
  await replica.close();
  if (metrics !== undefined) {
    try {
      await replica.metrics.dump(metrics, run === undefined ? { name } : { name, run });
    } catch (error) {
      console.error(`error: cannot write metrics to ${metrics}: ${(error as Error).message}`);
      process.exit(1);
    }
  }
  process.exit(0);
}
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
// Last: a supervisor may signal as soon as it reads this line.
console.log(`${name} listening on ${host.includes(":") ? `[${host}]` : host}:${bound}`);
