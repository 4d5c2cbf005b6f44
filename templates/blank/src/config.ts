// A replica's configuration: from flags, environment variables and a JSON
// file, in that order of precedence. Every bad value is a ConfigError with a
// one-line message naming where it came from.
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { FSYNC, type Fsync, SNAPSHOT_EVERY } from "./disk.js";

/** PEM files of TLS: this replica's certificate and key, and the CA its clients' and peers' certificates need. */
export interface TlsFiles {
  cert: string;
  key: string;
  /** With a CA, TLS is mutual: clients and peers must present a certificate it signed. */
  ca: string | undefined;
}

export interface Config {
  /** This replica's name (default: the host name). */
  name: string;
  /** Address to listen on (default 127.0.0.1). */
  host: string;
  /** Port to listen on; 0 picks a free one (default 3264). */
  port: number;
  /** host:port the other replicas dial to reach this one, if given (see advertised). */
  advertise: string | undefined;
  /** host:port of each other replica, by name (an entry naming this replica is dropped). */
  peers: Map<string, string>;
  /** The certificate, key and CA files of TLS, if any (plaintext without). */
  tls: TlsFiles | undefined;
  /** JSON-lines file the metrics are appended to on shutdown, if any. */
  metrics: string | undefined;
  /** A label for the metrics line, if any (the bench sets it to tie a replica's line to its run). */
  run: string | undefined;
  /** JSON-lines file a line is appended to for each Dispatch message sent or received, if any. */
  trace: string | undefined;
  /** Folder for durable state, if any (blank keeps none; `consensus cluster` gives each replica its own). */
  data: string | undefined;
  /** When appends to the --data folder reach the disk: each one, in groups, or when the OS decides (default batch). */
  fsync: Fsync;
  /** Bytes the write-ahead log grows by before the state snapshots and compacts it (default 1 MiB; paxos). */
  snapshotEvery: number;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export const USAGE = `usage: npm start -- [options]

  --name <name>         this replica's name            CONSENSUS_NAME       (default: host name)
  --host <host>         address to listen on           CONSENSUS_HOST       (default: 127.0.0.1)
  --port <port>         port to listen on, 0 for any   CONSENSUS_PORT       (default: 3264)
  --advertise <h:port>  what peers dial to reach it    CONSENSUS_ADVERTISE  (default: host:port)
  --peers <list>        r2=host:port,r3=host:port      CONSENSUS_PEERS
  --tls-cert <pem>      this replica's certificate     CONSENSUS_TLS_CERT
  --tls-key <pem>       its private key                CONSENSUS_TLS_KEY
  --tls-ca <pem>        CA of clients and peers (mTLS) CONSENSUS_TLS_CA
  --metrics <file>      append metrics here on exit    CONSENSUS_METRICS
  --run <label>         label of the metrics line      CONSENSUS_RUN
  --trace <file>        append each Dispatch message   CONSENSUS_TRACE
  --data <dir>          folder for durable state       CONSENSUS_DATA
  --fsync <when>        always, batch or never         CONSENSUS_FSYNC      (default: batch)
  --snapshot-every <n>  bytes of log between snapshots CONSENSUS_SNAPSHOT_EVERY (default: 1 MiB)
  --config <file.json>  the same keys as a JSON file   CONSENSUS_CONFIG
  -h, --help            print this help

Flags beat environment variables, which beat the config file. The peers may
include this replica itself (one list for all): that entry is dropped.`;

const KEYS = [
  "name",
  "host",
  "port",
  "advertise",
  "peers",
  "tls-cert",
  "tls-key",
  "tls-ca",
  "metrics",
  "run",
  "trace",
  "data",
  "fsync",
  "snapshot-every",
] as const;
type Key = (typeof KEYS)[number];
/** Raw values of one source, with the label errors name it by. */
type Source = Partial<Record<Key, { value: unknown; from: string }>>;

/** Whether the command line asks for the usage. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.some((arg) => arg === "--help" || arg === "-h");
}

/** The configuration from `argv` (without node and the script), `env` and the config file they name. */
export function loadConfig(argv: readonly string[] = process.argv.slice(2), env = process.env): Config {
  const flags = parseFlags(argv);
  const fromEnv: Source = {};
  for (const key of KEYS) {
    const name = `CONSENSUS_${key.toUpperCase().replace("-", "_")}`;
    const value = env[name];
    if (value !== undefined && value !== "") fromEnv[key] = { value, from: name };
  }
  const file = flags.config ?? (env.CONSENSUS_CONFIG || undefined);
  const merged: Source = { ...(file === undefined ? {} : readConfigFile(file)), ...fromEnv, ...flags.values };

  const name = text(merged.name, "name") ?? hostname();
  if (!/^[^\s=,]+$/.test(name)) {
    throw new ConfigError(`${merged.name?.from ?? "name"}: "${name}" is not a replica name (no spaces, "=" or ",")`);
  }
  const host = text(merged.host, "host") ?? "127.0.0.1";
  const port = merged.port === undefined ? 3264 : parsePort(merged.port.value, merged.port.from);
  const advertise = text(merged.advertise, "advertise");
  if (advertise !== undefined && !isAddress(advertise)) {
    throw new ConfigError(`${merged.advertise!.from}: "${advertise}" is not host:port`);
  }
  const peers = parsePeers(merged.peers);
  const own = peers.get(name);
  if (own !== undefined) {
    // One list for every replica: this replica's own entry must be where the others reach it.
    const expected = advertised({ host, port, advertise }, port);
    if (own.toLowerCase() !== expected.toLowerCase()) {
      throw new ConfigError(
        `${merged.peers!.from}: peer ${name} is this replica, at ${own}, but it is advertised as ${expected} (see --advertise)`,
      );
    }
    peers.delete(name);
  }
  return {
    name,
    host,
    port,
    advertise,
    peers,
    tls: parseTls(merged),
    metrics: text(merged.metrics, "metrics"),
    run: text(merged.run, "run"),
    trace: text(merged.trace, "trace"),
    data: text(merged.data, "data"),
    fsync: parseFsync(merged.fsync),
    snapshotEvery: parseSnapshotEvery(merged["snapshot-every"]),
  };
}

function parseFlags(argv: readonly string[]): { values: Source; config: string | undefined } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries([...KEYS, "config"].map((key) => [key, { type: "string" as const }])),
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new ConfigError(`${flagError(error)} (see --help)`);
  }
  const values: Source = {};
  for (const key of KEYS) {
    const value = parsed.values[key];
    if (value !== undefined) values[key] = { value, from: `--${key}` };
  }
  const config = parsed.values.config;
  return { values, config: typeof config === "string" ? config : undefined };
}

function readConfigFile(file: string): Source {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    const reason =
      error instanceof SyntaxError
        ? `is not valid JSON (${error.message})`
        : `cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`;
    throw new ConfigError(`config file ${file} ${reason}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ConfigError(`config file ${file} is not a JSON object`);
  }
  const source: Source = {};
  for (const [key, value] of Object.entries(data)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new ConfigError(`config file ${file}: unknown key "${key}" (known: ${KEYS.join(", ")})`);
    }
    if (value !== null) source[key as Key] = { value, from: `${file}: ${key}` };
  }
  return source;
}

/**
 * What the other replicas dial to reach this one: --advertise, or host:port
 * (the host name when it listens on every address, 0.0.0.0 or ::).
 */
export function advertised(config: Pick<Config, "host" | "port" | "advertise">, port = config.port): string {
  if (config.advertise !== undefined) return config.advertise;
  return hostPort(config.host === "0.0.0.0" || config.host === "::" ? hostname() : config.host, port);
}

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** host:port, name:port or [v6]:port with a port from 1 to 65535. */
function isAddress(value: string): boolean {
  const port = /^(?:\[[^\]]+\]|[^:\s\[\]]+):(\d+)$/.exec(value)?.[1];
  return port !== undefined && Number(port) >= 1 && Number(port) <= 65535;
}

function parseTls(merged: Source): TlsFiles | undefined {
  const cert = text(merged["tls-cert"], "tls-cert");
  const key = text(merged["tls-key"], "tls-key");
  const ca = text(merged["tls-ca"], "tls-ca");
  if (cert !== undefined && key === undefined) {
    throw new ConfigError(`${merged["tls-cert"]!.from} needs --tls-key (the certificate's private key)`);
  }
  if (key !== undefined && cert === undefined) {
    throw new ConfigError(`${merged["tls-key"]!.from} needs --tls-cert (the certificate of that key)`);
  }
  if (cert === undefined || key === undefined) {
    if (ca !== undefined) {
      throw new ConfigError(
        `${merged["tls-ca"]!.from} needs --tls-cert and --tls-key (mutual TLS: this replica's own)`,
      );
    }
    return undefined;
  }
  return { cert, key, ca };
}

function text(entry: Source[Key], key: Key): string | undefined {
  if (entry === undefined) return undefined;
  if (typeof entry.value !== "string" || entry.value === "") {
    throw new ConfigError(`${entry.from}: ${key} must be a non-empty string, not ${JSON.stringify(entry.value)}`);
  }
  return entry.value;
}

function parsePort(value: unknown, from: string): number {
  const port = typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${from}: ${JSON.stringify(value)} is not a port (an integer from 0 to 65535)`);
  }
  return port;
}

function parseFsync(entry: Source["fsync"]): Fsync {
  const value = text(entry, "fsync") ?? "batch";
  if (!(FSYNC as readonly string[]).includes(value)) {
    throw new ConfigError(`${entry!.from}: fsync must be one of ${FSYNC.join(", ")}, not "${value}"`);
  }
  return value as Fsync;
}

function parseSnapshotEvery(entry: Source["snapshot-every"]): number {
  if (entry === undefined) return SNAPSHOT_EVERY;
  const { value, from } = entry;
  const bytes = typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof bytes !== "number" || !Number.isSafeInteger(bytes) || bytes < 1) {
    throw new ConfigError(`${from}: ${JSON.stringify(value)} is not a number of bytes (an integer, 1 or more)`);
  }
  return bytes;
}

/** `r2=127.0.0.1:3265,r3=127.0.0.1:3266` (or, in a file, `{ "r2": "127.0.0.1:3265" }`). */
function parsePeers(entry: Source["peers"]): Map<string, string> {
  const peers = new Map<string, string>();
  if (entry === undefined) return peers;
  const { value, from } = entry;
  let pairs: [string, unknown][];
  if (typeof value === "string") {
    pairs = [];
    for (const item of value.split(",").map((s) => s.trim())) {
      if (item === "") continue;
      const at = item.indexOf("=");
      if (at < 0) throw new ConfigError(`${from}: peer "${item}" has no "=" (write name=host:port)`);
      pairs.push([item.slice(0, at).trim(), item.slice(at + 1).trim()]);
    }
  } else if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    pairs = Object.entries(value);
  } else {
    throw new ConfigError(`${from}: peers must be "name=host:port,…" or an object of addresses by name`);
  }
  for (const [name, address] of pairs) {
    if (!/^[^\s=,]+$/.test(name))
      throw new ConfigError(`${from}: peer name "${name}" is empty or has spaces, "=" or ","`);
    if (peers.has(name)) throw new ConfigError(`${from}: peer ${name} is listed twice`);
    if (typeof address !== "string" || !isAddress(address)) {
      throw new ConfigError(`${from}: peer ${name} address ${JSON.stringify(address)} is not host:port`);
    }
    peers.set(name, address);
  }
  return peers;
}

/** One line for an error of node:util's parseArgs (its own messages run on over several). */
export function flagError(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  const option = /'(-[^' ]+)/.exec(message ?? "")?.[1];
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${option}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return `option ${option} needs a value`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument ${/'([^']*)'/.exec(message ?? "")?.[1] ?? ""}`.trimEnd();
    default:
      return (message ?? String(error)).split("\n")[0]!;
  }
}
