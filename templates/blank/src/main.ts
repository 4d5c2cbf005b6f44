// Starts one replica: `npm start -- --name r1 --port 3264 --peers r2=127.0.0.1:3265`.
// Listens at once with its health service saying NOT_SERVING, recovers its
// state from --data (without it, it warns once that it keeps nothing), then
// says SERVING and prints one line; on SIGINT or SIGTERM it says NOT_SERVING,
// drains its streams, stops its State, dumps its metrics (with --metrics) and
// exits 0. A failed disk stops it with one line and exit 1.
import { createWriteStream } from "node:fs";
import { advertised, type Config, ConfigError, hostPort, loadConfig, USAGE, wantsHelp } from "./config.js";
import { FileDisk } from "./disk.js";
import { messageFields, typeName } from "./envelope.js";
import { type DispatchTrace, GrpcPeers, linkLine } from "./peers.js";
import { Replica } from "./replica.js";
import { ReplicaServer } from "./server.js";
import { loadTls, type Tls, TlsError } from "./tls.js";

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

const { name, host, port, peers, metrics, run, trace, data, fsync, snapshotEvery } = config;
let tls: Tls | undefined;
try {
  tls = config.tls === undefined ? undefined : loadTls(config.tls);
} catch (error) {
  if (!(error instanceof TlsError)) throw error;
  console.error(`error: ${error.message}`);
  process.exit(1);
}

// --trace: a line per Dispatch message sent or received, in wall-clock ns (the monotonic clock from the wall
// clock's reading at the process's start, to the microsecond: the replicas' lines are compared with each other's),
// which `consensus cluster --trace` and `consensus bench --trace` merge into one trace.
const traceFile = trace === undefined ? undefined : createWriteStream(trace, { flags: "a" });
traceFile?.on("error", (error) => {
  console.error(`error: ${name} cannot write its trace to ${trace}: ${error.message}`);
  process.exit(1);
});
const traced: DispatchTrace | undefined =
  traceFile &&
  ((event, peer, message, reply) => {
    const time = Math.round((performance.timeOrigin + performance.now()) * 1e6);
    const type = typeName(message.type);
    const line = { time, replica: name, event, peer, type, ...(reply && { reply }), fields: messageFields(message) };
    traceFile.write(JSON.stringify(line) + "\n");
  });

const replica = new Replica({
  name,
  peers: new GrpcPeers(name, peers, {
    tls,
    onLink: (peer, event) => console.error(linkLine(name, peer, event)),
    trace: traced,
  }),
  disk: data === undefined ? undefined : new FileDisk(data, fsync, snapshotEvery),
  onError: (error, request) =>
    console.error(`${name}: ${typeName(request.type)} from ${request.sender || "?"} failed:`, error),
  // At once: a reply sent after the failure could promise what the disk lost.
  onStop: (error) => {
    console.error(`error: ${name} stops: ${error.message}`);
    process.exit(1);
  },
});
const server = new ReplicaServer(
  traced === undefined
    ? replica
    : {
        name,
        propose: (request) => replica.propose(request),
        async dispatch(request) {
          traced("receive", request.sender, request, false);
          const reply = await replica.dispatch(request);
          traced("send", request.sender, reply, true);
          return reply;
        },
      },
);
// Listening before recovery lets health checks see NOT_SERVING (not a refused connection) while it recovers.
server.starting();
let bound: number;
try {
  bound = await server.listen({ host, port, credentials: tls?.server });
} catch (error) {
  console.error(`error: ${name} cannot listen on ${host}:${port}: ${(error as Error).message}`);
  process.exit(1);
}
// Said once, as it starts: a replica without a folder forgets its promises when it restarts.
if (data === undefined) console.error(`${name}: no --data: this replica keeps nothing across restarts`);
// A replica that cannot trust its data serves no one.
try {
  for (const notice of await replica.start()) console.error(`${name}: ${notice}`);
} catch (error) {
  console.error(`error: ${name} cannot start: ${(error as Error).message}`);
  process.exit(1);
}

let stopping = false;
/** Drains (at most 5 s: server.close's timeout), dumps the metrics, exits 0. Signals after the first are ignored. */
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.close(); // NOT_SERVING first; answers what was received, which may still use the State
  await replica.close();
  if (traceFile !== undefined) await new Promise((resolve) => traceFile.end(resolve));
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
server.ready();
// Last: a supervisor may signal as soon as it reads this line. Tools parse it up to the port; what
// follows in parentheses, only when there is something to say, is for people.
const listening = hostPort(host, bound);
const advertise = advertised(config, bound);
const notes = [
  ...(advertise === listening ? [] : [`advertised as ${advertise}`]),
  ...(tls === undefined ? [] : [tls.files.ca === undefined ? "tls" : "mutual tls"]),
];
console.log(`${name} listening on ${listening}${notes.length > 0 ? ` (${notes.join(", ")})` : ""}`);
