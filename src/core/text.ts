/** Positions in source text, for edits and for `file:line:column` in errors. */

/** The offset where the line holding `offset` starts. */
export function startOfLine(text: string, offset: number): number {
  return text.lastIndexOf("\n", offset - 1) + 1;
}

/** Line and column (both from 1) of `offset`. */
export function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  return { line: before.split("\n").length, column: offset - startOfLine(text, offset) + 1 };
}
