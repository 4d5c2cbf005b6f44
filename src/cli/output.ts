import path from "node:path";
import pc from "picocolors";
import type { Change } from "../core/changes.js";

/** Colours on a TTY only, and never with NO_COLOR (https://no-color.org). */
function colors(stream: NodeJS.WriteStream): ReturnType<typeof pc.createColors> {
  return pc.createColors(Boolean(stream.isTTY) && !process.env.NO_COLOR);
}

export const out = colors(process.stdout);
export const err = colors(process.stderr);

/** One line per change: `+` created, `~` updated, `-` deleted. */
export function printChanges(changes: readonly Change[]): void {
  for (const change of changes) {
    const mark = { create: out.green("+"), update: out.yellow("~"), delete: out.red("-") }[change.kind];
    console.log(`  ${mark} ${change.path.split("/").join(path.sep)}`);
  }
}
