import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface PackageJson {
  name: string;
  version: string;
  /** Each runtime this package runs on (`node`), as a version range. */
  engines: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/**
 * This package's own folder (holding package.json, proto/ and templates/) and
 * its package.json, found by walking up from this module: it runs both from
 * the tsc output (dist/src/core) and from the bundled bins (dist/cli).
 */
export const { root: PACKAGE_ROOT, json: PACKAGE_JSON } = findPackage(path.dirname(fileURLToPath(import.meta.url)));

function findPackage(from: string): { root: string; json: PackageJson } {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    const json = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as PackageJson) : undefined;
    if (json?.name === "create-consensus") return { root: dir, json };
    if (path.dirname(dir) === dir) throw new Error(`create-consensus: no package.json above ${from}`);
  }
}

/** The version of a dependency as this package pins it (ts-proto and protoc are pinned exactly). */
export function dependencyVersion(name: string): string {
  const range = PACKAGE_JSON.dependencies?.[name] ?? PACKAGE_JSON.devDependencies?.[name];
  if (!range) throw new Error(`create-consensus does not depend on ${name}`);
  return range.replace(/^[\^~]/, "");
}
