import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import * as v from "valibot";
import { UserError } from "./errors.js";
import { parseJson } from "./json.js";

/** The file that marks a project's root, as package.json marks a package's. */
export const PROJECT_FILE = "consensus.json";

/** ts-proto option values as consensus.json holds them; a list repeats the option. */
export type TsProtoOptions = Record<string, string | boolean | string[]>;

/**
 * Options the generated replica depends on: the grpc-js service types, the
 * `{ $case, value }` oneofs its Dispatch switch narrows, and `.js` import
 * suffixes for NodeNext ESM. A project may add options but not change these.
 */
export const REQUIRED_TS_PROTO_OPTIONS: TsProtoOptions = {
  outputServices: "grpc-js",
  oneof: "unions-value",
  importSuffix: ".js",
};

/** Defaults for every other option: Buffer for bytes, bigint for 64-bit integers (exact), no versions in headers (deterministic). */
export const DEFAULT_TS_PROTO_OPTIONS: TsProtoOptions = {
  ...REQUIRED_TS_PROTO_OPTIONS,
  esModuleInterop: true,
  env: "node",
  forceLong: "bigint",
  annotateFilesWithVersion: false,
};

const relativePath = v.pipe(
  v.string(),
  v.nonEmpty(),
  v.check(
    (p) => !path.isAbsolute(p) && !path.normalize(p).split(/[\\/]/).includes(".."),
    "must be a path inside the project",
  ),
);

const ConfigEntries = {
  protoDir: v.optional(relativePath, "proto"),
  outDir: v.optional(relativePath, "src/pb"),
  envelope: v.optional(relativePath, "proto/envelope.proto"),
  handlersDir: v.optional(relativePath, "src/handlers"),
  replica: v.optional(relativePath, "src/replica.ts"),
  tsProtoOptions: v.optional(v.record(v.string(), v.union([v.string(), v.boolean(), v.array(v.string())])), {}),
  /** How a replica starts, run in the project's folder: the workbench appends --name --port --peers …; "node" is the tool's Node.js. */
  start: v.optional(
    v.pipe(
      v.array(
        v.pipe(v.string("must hold strings"), v.nonEmpty("must not hold an empty string")),
        'must be a list, like ["node", "dist/src/main.js"]',
      ),
      v.minLength(1, 'must name a program, like ["node", "dist/src/main.js"]'),
    ),
    ["node", "dist/src/main.js"],
  ),
};

const ConfigSchema = v.strictObject(ConfigEntries, `unknown key (known: ${Object.keys(ConfigEntries).join(", ")})`);

/** consensus.json with every default filled in; paths are relative to the project root. */
export type ProjectConfig = v.InferOutput<typeof ConfigSchema>;

export interface Project {
  /** Absolute path of the folder holding consensus.json. */
  readonly root: string;
  readonly config: ProjectConfig;
  /** ts-proto options in effect: defaults, then the project's own. */
  readonly tsProtoOptions: TsProtoOptions;
}

/** Walks up from `from` to the nearest folder holding consensus.json; undefined when there is none. */
export function findProjectIfAny(from: string): Project | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const file = path.join(dir, PROJECT_FILE);
    if (existsSync(file) && statSync(file).isFile()) return loadProject(dir);
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Walks up from `from` to the nearest folder holding consensus.json. */
export function findProject(from: string): Project {
  const project = findProjectIfAny(from);
  if (project) return project;
  throw new UserError(
    `no ${PROJECT_FILE} in ${path.resolve(from)} or any folder above it: run this inside a project, or create one with \`npx create-consensus my-protocol\``,
  );
}

/** Reads and checks `<root>/consensus.json`. */
export function loadProject(root: string): Project {
  let text: string;
  try {
    text = readFileSync(path.join(root, PROJECT_FILE), "utf8");
  } catch (err) {
    throw new UserError(`${PROJECT_FILE}: cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  return parseProject(root, text);
}

/** Checks the text of a consensus.json (on disk or planned) for the project at `root`. */
export function parseProject(root: string, text: string): Project {
  const raw = parseJson(PROJECT_FILE, text);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new UserError(`${PROJECT_FILE}: must hold a JSON object, like {"protoDir": "proto"}`);
  }
  const parsed = v.safeParse(ConfigSchema, raw);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const key = v.getDotPath(issue);
    throw new UserError(`${PROJECT_FILE}: ${key ? `${key}: ` : ""}${issue.message}`);
  }
  const config = parsed.output;
  for (const [key, value] of Object.entries(REQUIRED_TS_PROTO_OPTIONS)) {
    const given = config.tsProtoOptions[key];
    if (given !== undefined && given !== value) {
      throw new UserError(
        `${PROJECT_FILE}: tsProtoOptions.${key} must be ${JSON.stringify(value)}: the generated replica relies on it`,
      );
    }
  }
  return {
    root,
    config,
    tsProtoOptions: { ...DEFAULT_TS_PROTO_OPTIONS, ...config.tsProtoOptions },
  };
}

/** The ts-proto plugin parameter (`k=v,k=v`) for a set of options, in their order. */
export function tsProtoParameter(options: TsProtoOptions): string {
  return Object.entries(options)
    .flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((one) => `${key}=${one}`))
    .join(",");
}
