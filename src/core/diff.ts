import { createTwoFilesPatch } from "diff";
import type { Change } from "./changes.js";

/** The unified diff of one change, as `git diff` shows it (`/dev/null` for a created or deleted file). */
export function unifiedDiff(change: Change): string {
  const before = change.before?.toString("utf8") ?? "";
  const after = change.after?.toString("utf8") ?? "";
  const from = change.kind === "create" ? "/dev/null" : `a/${change.path}`;
  const to = change.kind === "delete" ? "/dev/null" : `b/${change.path}`;
  // createTwoFilesPatch starts with a line of "=" (its Index: header style): dropped, as git shows none.
  return createTwoFilesPatch(from, to, before, after, undefined, undefined, { context: 3 })
    .split("\n")
    .filter((line) => !/^={3,}$/.test(line))
    .join("\n");
}
