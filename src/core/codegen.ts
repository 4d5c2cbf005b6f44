import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import path from "node:path";
import vm from "node:vm";
import { UserError } from "./errors.js";
import { dependencyVersion, PACKAGE_ROOT } from "./package.js";
import type * as TsProto from "./ts-proto.js";

export interface GeneratedFile {
  /** POSIX path relative to the output folder, e.g. `envelope.ts`. */
  readonly path: string;
  readonly content: string;
}

const VERSIONS: TsProto.Versions = {
  tsProto: `v${dependencyVersion("ts-proto")}`,
  protoc: `v${dependencyVersion("protoc")}`,
};

/** ts-proto.ts and what it runs (ts-proto, its descriptors, ts-poet), bundled as CommonJS by `npm run bundle`. */
const BUNDLE = path.join(PACKAGE_ROOT, "dist/cli/ts-proto.cjs");
/**
 * V8's code cache of the bundle, written by `npm run build` after it has generated stubs, so that it
 * holds the code of every function generating ran, not only of those compiled at load: ~10 ms less
 * loading and ~15 ms less compiling as ts-proto runs. Node's own compile cache (Node.js 22 and later)
 * keeps only what is compiled at load, and Node.js 20 has none. V8 refuses a cache of another V8 or
 * other flags (the bundle is then compiled as without one), but it checks the source only by its
 * length: the name holds the bundle's size and time, so a bundle written again never meets the
 * cache of the one before.
 */
function codeCacheFile(): string {
  const { size, mtimeMs } = statSync(BUNDLE);
  return path.join(PACKAGE_ROOT, "dist/cli/cache", `ts-proto-${process.versions.v8}-${size}-${mtimeMs}.v8cache`);
}
const CODE_CACHE = codeCacheFile();

/** The bundle, compiled (from the code cache, if V8 takes it) and run. */
function load(): { script: vm.Script; tsProto: typeof TsProto; cached: boolean } {
  const cachedData = existsSync(CODE_CACHE) ? readFileSync(CODE_CACHE) : undefined;
  const script = new vm.Script(Module.wrap(readFileSync(BUNDLE, "utf8")), { filename: BUNDLE, cachedData });
  const module = { exports: {} as typeof TsProto };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  const require = createRequire(BUNDLE);
  // The bundle's one user of node:crypto is ts-poet's saveFiles, which generating never calls: the
  // module is loaded at its first use instead of with the bundle (~3 ms).
  const lazy = (id: string) =>
    id === "crypto"
      ? new Proxy({}, { get: (_, name) => (require(id) as Record<string | symbol, unknown>)[name] })
      : require(id);
  run(module.exports, Object.assign(lazy, require), module, BUNDLE, path.dirname(BUNDLE));
  return { script, tsProto: module.exports, cached: cachedData !== undefined && !script.cachedDataRejected };
}

const { script, tsProto, cached } = load();

/** Whether this process compiled ts-proto from the build's code cache (V8 took it). */
export const codeCacheUsed = cached;

/**
 * Runs ts-proto inside this process on a compiled descriptor set (see generateFiles in ts-proto.ts).
 *
 * @param descriptorSet serialized FileDescriptorSet (with imports and source info)
 * @param filesToGenerate proto file names as the compiler named them (relative to the proto root)
 * @param parameter the plugin parameter, `k=v,k=v`
 * @param unchanged protos whose stubs are left as they are, even when a file to generate imports them
 */
export function generateStubs(
  descriptorSet: Uint8Array,
  filesToGenerate: readonly string[],
  parameter: string,
  unchanged: readonly string[] = [],
): GeneratedFile[] {
  try {
    return tsProto.generateFiles(descriptorSet, filesToGenerate, parameter, unchanged, VERSIONS);
  } catch (err) {
    // The bundle's own class: told by its name.
    if ((err as Error).name === "GenerateError") throw new UserError((err as Error).message);
    throw err;
  }
}

/** Writes the code cache of the bundle as this process has run it (building this package, after generating). */
export function writeCodeCache(): void {
  mkdirSync(path.dirname(CODE_CACHE), { recursive: true });
  writeFileSync(`${CODE_CACHE}.tmp`, script.createCachedData());
  renameSync(`${CODE_CACHE}.tmp`, CODE_CACHE);
}
