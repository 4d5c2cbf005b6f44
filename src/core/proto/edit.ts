// Text edits of a proto file that keep every byte of the user's file except
// what they insert or delete: inserted lines copy the indentation and line
// ending of their neighbours.
import { type Edit, startOfLine } from "../text.js";
import { type Block, reservedStatements, type Statement, statementsIn, type Structure } from "./scan.js";

/** The line ending of the line that ends just before `lineStart`. */
function eolBefore(text: string, lineStart: number, fallback: string): string {
  if (lineStart > 0 && text[lineStart - 1] === "\n") return text[lineStart - 2] === "\r" ? "\r\n" : "\n";
  return fallback;
}

/** The indentation step of the file: a tab, or the smallest indentation of a line that starts with a token. */
function indentUnit(structure: Structure): string {
  const { text, tokens } = structure;
  let unit: string | undefined;
  for (const token of tokens) {
    const lead = text.slice(startOfLine(text, token.start), token.start);
    if (lead === "" || !/^[ \t]+$/.test(lead)) continue;
    if (lead.startsWith("\t")) return "\t";
    if (unit === undefined || lead.length < unit.length) unit = lead;
  }
  return unit ?? "  ";
}

/**
 * The edit that adds `statements` as the last members of `block`, just before
 * its closing brace: each on a line of its own (indented as the last member)
 * when the brace is alone on its line, else on the brace's line.
 */
export function appendMembers(structure: Structure, block: Block, statements: readonly string[]): Edit {
  const { text, tokens } = structure;
  const open = tokens[block.open]!;
  const close = tokens[block.close]!;
  const lineStart = startOfLine(text, close.start);
  const beforeBrace = text.slice(lineStart, close.start);
  if (/^[ \t]*$/.test(beforeBrace) && lineStart > open.end) {
    const eol = eolBefore(text, lineStart, structure.text.includes("\r\n") ? "\r\n" : "\n");
    const last = statementsIn(structure, block).at(-1);
    let indent = beforeBrace + indentUnit(structure);
    if (last) {
      const first = tokens[last.start]!;
      const lead = text.slice(startOfLine(text, first.start), first.start);
      if (/^[ \t]*$/.test(lead)) indent = lead;
    }
    return { offset: lineStart, text: statements.map((statement) => `${indent}${statement}${eol}`).join("") };
  }
  const joined = statements.join(" ");
  const previous = text[close.start - 1];
  if (close.start - 1 === open.start) return { offset: close.start, text: ` ${joined} ` };
  if (previous === " " || previous === "\t") return { offset: close.start, text: `${joined} ` };
  return { offset: close.start, text: ` ${joined}` };
}

export const appendMember = (structure: Structure, block: Block, statement: string): Edit =>
  appendMembers(structure, block, [statement]);

/**
 * The edit that deletes a statement: its whole line (and a comment that ends
 * the line) when nothing else is on it, else the statement and the space
 * before it. The reverse of appendMember and addImport.
 */
export function removeStatement(structure: Structure, statement: Statement): Edit {
  const { text, tokens } = structure;
  const start = tokens[statement.start]!.start;
  const end = tokens[statement.end]!.end; // the `;`
  const lineStart = startOfLine(text, start);
  const next = nextLineAfter(structure, end);
  if (/^[ \t]*$/.test(text.slice(lineStart, start)) && next !== undefined) {
    return { offset: lineStart, text: "", remove: next - lineStart };
  }
  let from = start;
  while (from > lineStart && (text[from - 1] === " " || text[from - 1] === "\t")) from--;
  return { offset: from, text: "", remove: end - from };
}

/**
 * The edits that reserve `numbers` and `names` in `block`: appended to its
 * last `reserved` statement of numbers (of names), else in a new statement
 * at the end of the block.
 */
export function reserve(
  structure: Structure,
  block: Block,
  numbers: readonly number[],
  names: readonly string[],
): Edit[] {
  const { tokens } = structure;
  const statements = reservedStatements(structure, block);
  const edits: Edit[] = [];
  const added: string[] = [];
  for (const [items, isNames] of [
    [numbers.map(String), false],
    [names.map((name) => `"${name}"`), true],
  ] as const) {
    if (items.length === 0) continue;
    const existing = statements.filter((statement) => statement.names === isNames).at(-1);
    if (existing) {
      const last = tokens[existing.end - 1]!;
      edits.push({ offset: last.end, text: items.map((item) => `, ${item}`).join("") });
    } else {
      added.push(`reserved ${items.join(", ")};`);
    }
  }
  if (added.length > 0) edits.push(appendMembers(structure, block, added));
  return edits;
}

/** The edit that takes `name` out of the reserved names of `block` (its whole statement when it is the only one). */
export function unreserveName(structure: Structure, block: Block, name: string): Edit | undefined {
  for (const statement of reservedStatements(structure, block).filter((s) => s.names)) {
    const index = statement.items.findIndex((item) => item.text.slice(1, -1) === name);
    if (index < 0) continue;
    if (statement.items.length === 1) return removeStatement(structure, statement);
    const item = statement.items[index]!;
    // With the comma and space before it, or, for the first, after it.
    if (index > 0) {
      const from = statement.items[index - 1]!.end;
      return { offset: from, text: "", remove: item.end - from };
    }
    const to = statement.items[1]!.start;
    return { offset: item.start, text: "", remove: to - item.start };
  }
  return undefined;
}

/**
 * Where a new line can go after the statement ending at `offset`: the start of
 * the next line (past any comment on the same line), or undefined when more
 * code follows on the same line.
 */
function nextLineAfter(structure: Structure, offset: number): number | undefined {
  const { text, comments } = structure;
  let i = offset;
  while (i < text.length) {
    const comment = comments.find(([start]) => start === i);
    if (comment) {
      if (text.slice(comment[0], comment[1]).includes("\n")) return undefined;
      i = comment[1];
    } else if (text[i] === "\n") {
      return i + 1;
    } else if (/\s/.test(text[i]!)) {
      i++;
    } else {
      return undefined;
    }
  }
  return text.length;
}

/** The edit that adds `import "<file>";` after the last import (or after `package`, or `syntax`). */
export function addImport(structure: Structure, file: string): Edit {
  const { text, tokens } = structure;
  const fallbackEol = text.includes("\r\n") ? "\r\n" : "\n";
  const statements = statementsIn(structure, undefined).filter((statement) => !statement.block);
  const find = (keyword: string) => statements.filter((s) => tokens[s.start]!.text === keyword).at(-1);
  const line = `import "${file}";`;
  const anchor = find("import") ?? find("package") ?? find("syntax");
  if (!anchor) {
    const first = tokens[0];
    const offset = first && /^[ \t]*$/.test(text.slice(startOfLine(text, first.start), first.start)) ? first.start : 0;
    return { offset, text: `${line}${fallbackEol}${fallbackEol}` };
  }
  const semicolon = tokens[anchor.end]!;
  const next = nextLineAfter(structure, semicolon.end);
  if (next === undefined) return { offset: semicolon.end, text: ` ${line}` };
  const isImport = tokens[anchor.start]!.text === "import";
  if (next === text.length && text[next - 1] !== "\n") {
    return { offset: next, text: `${fallbackEol}${isImport ? "" : fallbackEol}${line}${fallbackEol}` };
  }
  const eol = eolBefore(text, next, fallbackEol);
  return { offset: next, text: isImport ? `${line}${eol}` : `${eol}${line}${eol}` };
}

/**
 * The edit that deletes `import "<file>";`, or undefined when the file does not import it. The only
 * import, alone between blank lines (as addImport puts it after `package`), takes one blank line with it.
 */
export function removeImport(structure: Structure, file: string): Edit | undefined {
  const { text, tokens } = structure;
  const imports = statementsIn(structure, undefined).filter((s) => !s.block && tokens[s.start]!.text === "import");
  const statement = imports.find((s) => tokens[s.end - 1]!.text.slice(1, -1) === file);
  if (!statement) return undefined;
  const edit = removeStatement(structure, statement);
  const end = edit.offset + (edit.remove ?? 0);
  const blankLine = /^\r?\n/;
  if (imports.length === 1 && edit.offset > 0 && blankLine.test(text.slice(end))) {
    const previous = startOfLine(text, edit.offset - 1);
    if (blankLine.test(text.slice(previous, edit.offset))) {
      return { offset: previous, text: "", remove: end - previous };
    }
  }
  return edit;
}
