import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { dependencyVersion, PACKAGE_JSON, PACKAGE_ROOT } from "./package.js";

/**
 * Work done once when this package is built, shipped with it, and looked up
 * by a key made of everything the result depends on: the stubs of the
 * templates' proto sets and the templates precompiled by handlebars. They are
 * most of what create-consensus would otherwise spend its time on (loading
 * ts-proto, formatting, compiling templates). A lookup that misses, such as a
 * project whose protos differ in one byte, does the work instead.
 */
const CACHE_DIR = path.join(PACKAGE_ROOT, "dist/cli/cache");
// node:crypto is loaded at the first key, not at start-up: ~3 ms that `consensus protobuf` never needs.
const require = createRequire(import.meta.url);
const VERSIONS = [PACKAGE_JSON.version, ...["ts-proto", "protoc", "handlebars"].map(dependencyVersion)].join(",");

/** A key for the result of work on `parts`, by this version of the package and of what it runs. */
export function cacheKey(parts: readonly (string | Uint8Array)[]): string {
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  const hash = createHash("sha256").update(VERSIONS);
  for (const part of parts) hash.update(`\0${part.length}\0`).update(part);
  return hash.digest("hex").slice(0, 32);
}

/** The cache entry `name`, or undefined when there is none. */
export async function readCache<T>(name: string): Promise<T | undefined> {
  const text = await readFile(path.join(CACHE_DIR, `${name}.json`), "utf8").catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

export async function writeCache(name: string, value: unknown): Promise<void> {
  await mkdir(CACHE_DIR, { recursive: true });
  await writeFile(path.join(CACHE_DIR, `${name}.json`), JSON.stringify(value));
}
