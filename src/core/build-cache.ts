import { mkdir, readFile, writeFile } from "node:fs/promises";
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
const VERSIONS = [PACKAGE_JSON.version, ...["ts-proto", "protoc", "handlebars"].map(dependencyVersion)].join(",");

/**
 * A key for the result of work on `parts`, by this version of the package and of what it runs: 64
 * bits of two multiplicative hashes (cyrb53's mixing, both words kept), not node:crypto's SHA-256,
 * which takes ~3 ms to load on every scaffold and add-message. The entries are this package's own
 * few hundred, so an accidental collision is out of reach (~10^-15); nothing here is a secret.
 */
export function cacheKey(parts: readonly (string | Uint8Array)[]): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  const mix = (unit: number) => {
    h1 = Math.imul(h1 ^ unit, 2654435761);
    h2 = Math.imul(h2 ^ unit, 1597334677);
  };
  for (const part of [VERSIONS, ...parts]) {
    // The length first, so that no two lists of parts hash as one.
    mix(part.length);
    if (typeof part === "string") for (let i = 0; i < part.length; i++) mix(part.charCodeAt(i));
    else for (let i = 0; i < part.length; i++) mix(part[i]!);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h2 >>> 0).toString(16).padStart(8, "0") + (h1 >>> 0).toString(16).padStart(8, "0");
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
