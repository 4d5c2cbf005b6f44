import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * This package's own folder (holding package.json, proto/ and templates/),
 * found by walking up from this module: it runs both from the tsc output
 * (dist/src/core) and from the bundled bins (dist/cli).
 */
export const PACKAGE_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));

export const PACKAGE_JSON = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as {
  name: string;
  version: string;
};

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (existsSync(file) && JSON.parse(readFileSync(file, "utf8")).name === "create-consensus") return dir;
    if (path.dirname(dir) === dir) throw new Error(`create-consensus: no package.json above ${from}`);
  }
}

/** The version of a dependency as this package pins it (ts-proto and protoc are pinned exactly). */
export function dependencyVersion(name: string): string {
  const pkg = PACKAGE_JSON as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
  const range = pkg.dependencies?.[name] ?? pkg.devDependencies?.[name];
  if (!range) throw new Error(`create-consensus does not depend on ${name}`);
  return range.replace(/^[\^~]/, "");
}
