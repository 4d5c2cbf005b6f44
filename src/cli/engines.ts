// Loaded by the bins before the CLI: it imports nothing the oldest Node could lack, so an
// unsupported Node gets one line instead of a crash somewhere in a dependency.
import { createRequire } from "node:module";

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

/** Exits with one line when this Node is not one that package.json's `engines` names. */
export function requireSupportedNode(bin: string): void {
  const { engines } = createRequire(import.meta.url)("../../package.json") as { engines: { node: string } };
  if (satisfies(process.versions.node, engines.node)) return;
  process.stderr.write(`error: ${bin} runs on Node.js ${engines.node}; this is Node.js ${process.versions.node}\n`);
  process.exit(1);
}
