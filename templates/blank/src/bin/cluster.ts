// `npm run cluster -- --replicas 3`: a local quorum of this project's replicas
// in one terminal (src/cluster.ts), their lines prefixed with their names.
// Ctrl-C or SIGTERM stops them all; exits 0 if every one exited 0. A replica
// that exits on its own stops the others, and the command exits 1.
import { parseArgs } from "node:util";
import { Cluster, describeExit, type Member } from "../cluster.js";
import { flagError, integer, UsageError } from "../flags.js";

const USAGE = `usage: npm run cluster -- [options]

  --replicas <n>    how many replicas, r1..rN (1 to 64)             (default: 3)
  --host <host>     address they listen on                          (default: 127.0.0.1)
  --port <port>     r1's port; rI listens on port+I-1, 0 for any    (default: 3264)
  --metrics <file>  each replica appends its metrics line here on exit
  --run <label>     label of those lines
  -h, --help        print this help`;

/** Parses the flags; a bad one is a one-line message. */
function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      replicas: { type: "string" },
      host: { type: "string" },
      port: { type: "string" },
      metrics: { type: "string" },
      run: { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  // Their ranges are Cluster.start's to check.
  return {
    ...values,
    replicas: integer(values.replicas, "--replicas", 3, 0),
    port: integer(values.port, "--port", 3264, 0),
  };
}

/** Runs the command; resolves with its exit code (set, not forced: stdout may be a pipe still flushing). */
async function main(argv: string[]): Promise<number> {
  if (argv.some((arg) => arg === "--help" || arg === "-h")) {
    console.log(USAGE);
    return 0;
  }
  let flags: ReturnType<typeof parse>;
  try {
    flags = parse(argv);
  } catch (error) {
    console.error(`error: ${error instanceof UsageError ? error.message : flagError(error)} (see --help)`);
    return 1;
  }

  // Handled from the start: a signal while the replicas start must not leave them running.
  let interrupt!: () => void;
  const interrupted = new Promise<void>((resolve) => (interrupt = resolve));
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => interrupt());

  let cluster: Cluster;
  try {
    cluster = await Cluster.start({
      replicas: flags.replicas,
      host: flags.host,
      firstPort: flags.port,
      metrics: flags.metrics,
      run: flags.run,
    });
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 1;
  }
  const { members } = cluster;
  const list = (show: (member: Member) => string | number) => members.map((m) => `${m.name}=${show(m)}`).join(" ");
  console.log(`cluster of ${members.length} on ${members[0]!.host}: ${list((m) => m.address)}`);
  console.log(`Ctrl-C stops all (pids ${list((m) => m.pid)})`);

  const died = await Promise.race([cluster.died, interrupted.then(() => undefined)]);
  if (died) console.error(`error: ${died.name} ${describeExit(died)}`);
  const failed = (await cluster.stop()).filter((exit) => exit.code !== 0 && exit.name !== died?.name);
  for (const exit of failed) console.error(`error: ${exit.name} ${describeExit(exit)}`);
  return died || failed.length > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
