// One health Check against a replica, for compose healthchecks and operators:
// `npm run probe -- [host:port] [options]` (default: this replica's --advertise,
// or --host:--port, with the same TLS flags and environment as `npm start`).
// Exits 0 when it is SERVING, 1 with one line saying why otherwise.
import * as grpc from "@grpc/grpc-js";
import { advertised, ConfigError, loadConfig, USAGE, wantsHelp } from "./config.js";
import { checkHealth } from "./health.js";
import { explainFailure, loadTls, TlsError } from "./tls.js";

/** How long the check may take: a replica that answers nothing in this time is not serving. */
const TIMEOUT = 3000;

const argv = process.argv.slice(2);
if (wantsHelp(argv)) {
  console.log(USAGE.replace("npm start -- [options]", "npm run probe -- [host:port] [options]"));
  process.exit(0);
}
const given = argv[0] !== undefined && !argv[0].startsWith("-") ? argv[0] : undefined;
let address: string;
let tls;
try {
  const config = loadConfig(given === undefined ? argv : argv.slice(1));
  address = given ?? advertised(config);
  tls = config.tls === undefined ? undefined : loadTls(config.tls);
} catch (error) {
  if (!(error instanceof ConfigError || error instanceof TlsError)) throw error;
  console.error(`error: ${error.message}`);
  process.exit(1);
}

try {
  const status = await checkHealth(address, tls?.client ?? grpc.credentials.createInsecure(), { timeout: TIMEOUT });
  if (status !== "SERVING") {
    console.error(`${address} is ${status}`);
    process.exit(1);
  }
  console.log(`${address} is SERVING`);
} catch (error) {
  const { code, details } = error as grpc.ServiceError;
  const why =
    code === grpc.status.DEADLINE_EXCEEDED ? `no answer in ${TIMEOUT / 1000} s` : explainFailure(details, tls?.files);
  console.error(`${address}: ${why}`);
  process.exit(1);
}
