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

/** `text` put at `offset`, in place of the `remove` characters there (none by default). */
export interface Edit {
  readonly offset: number;
  readonly text: string;
  readonly remove?: number;
}

/** Applies edits of disjoint spans, from the end backwards so that each offset still points where it did. */
export function applyEdits(text: string, edits: readonly Edit[]): string {
  let result = text;
  for (const edit of [...edits].sort((a, b) => b.offset - a.offset)) {
    result = result.slice(0, edit.offset) + edit.text + result.slice(edit.offset + (edit.remove ?? 0));
  }
  return result;
}
