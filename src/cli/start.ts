// What the bins do before the CLI loads. It imports nothing an older Node could lack, so an
// unsupported Node gets one line instead of a crash somewhere in a dependency.
import module from "node:module";
import { PACKAGE_JSON } from "../core/package.js";

/**
 * Whether `version` (`x.y.z`) is in `range`, a set of `^x.y.z` and `>=x.y.z`
 * joined by `||`: the forms this package's `engines` uses. Not semver's
 * package, which takes ~15 ms to load, on every command.
 */
export function satisfies(version: string, range: string): boolean {
  const [major, minor, patch] = version.split(".").map(Number) as [number, number, number];
  return range.split("||").some((comparator) => {
    const match = /^\s*(\^|>=)(\d+)\.(\d+)\.(\d+)\s*$/.exec(comparator);
    if (!match) throw new Error(`engines: cannot read "${comparator.trim()}"`);
    const [, operator, ...bound] = match;
    const [x, y, z] = bound.map(Number) as [number, number, number];
    const atLeast = major !== x ? major > x : minor !== y ? minor > y : patch >= z;
    return atLeast && (operator === ">=" || major === x);
  });
}

/**
 * Readies this process for the CLI of `bin`: exits with one line when this Node
 * is not one that package.json's `engines` names; on Node 22.1 and later keeps
 * V8's compiled code of the CLI on disk between runs (NODE_DISABLE_COMPILE_CACHE=1
 * turns it off); with --debug, stacks name the TypeScript sources (the bundle
 * ships its source maps).
 */
export function start(bin: string): void {
  const range = PACKAGE_JSON.engines.node;
  if (!satisfies(process.versions.node, range)) {
    process.stderr.write(`error: ${bin} runs on Node.js ${range}; this is Node.js ${process.versions.node}\n`);
    process.exit(1);
  }
  (module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
  if (process.argv.includes("--debug")) process.setSourceMapsEnabled(true);
}
