// A tokenizer with positions: enough of the proto grammar to place text edits
// (protobufjs gives the model but no source positions).

export interface Token {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

export interface Block {
  /** The statement's first word: message, enum, oneof, service, rpc, option… */
  readonly keyword: string;
  readonly name: string;
  /** Token index of the statement's first token, of `{` and of the matching `}` (-1 when unbalanced). */
  readonly start: number;
  readonly open: number;
  close: number;
  readonly parent: Block | undefined;
  readonly children: Block[];
}

export interface Structure {
  readonly text: string;
  readonly tokens: readonly Token[];
  /** Comment spans [start, end). */
  readonly comments: ReadonlyArray<readonly [number, number]>;
  readonly blocks: readonly Block[];
  readonly top: readonly Block[];
}

/** A statement of a block: tokens [start, end) ending at `;` (excluded) or a nested block. */
export interface Statement {
  readonly start: number;
  readonly end: number;
  readonly block?: Block;
}

const WORD_CHAR = /[A-Za-z0-9_]/;

export function scan(text: string): Structure {
  const tokens: Token[] = [];
  const comments: Array<readonly [number, number]> = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\r" || c === "\n" || c === "\f" || c === "\v") {
      i++;
    } else if (c === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      const stop = end < 0 ? text.length : end;
      comments.push([i, stop]);
      i = stop;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      comments.push([i, stop]);
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== "\n") j += text[j] === "\\" ? 2 : 1;
      const end = Math.min(j + 1, text.length);
      tokens.push({ text: text.slice(i, end), start: i, end });
      i = end;
    } else if (WORD_CHAR.test(c)) {
      let j = i + 1;
      while (j < text.length && WORD_CHAR.test(text[j]!)) j++;
      tokens.push({ text: text.slice(i, j), start: i, end: j });
      i = j;
    } else {
      tokens.push({ text: c, start: i, end: i + 1 });
      i++;
    }
  }

  const blocks: Block[] = [];
  const top: Block[] = [];
  const stack: Block[] = [];
  let statementStart = 0;
  tokens.forEach((token, index) => {
    if (token.text === "{") {
      const parent = stack.at(-1);
      const block: Block = {
        keyword: statementStart < index ? tokens[statementStart]!.text : "",
        name: statementStart + 1 < index ? tokens[statementStart + 1]!.text : "",
        start: statementStart,
        open: index,
        close: -1,
        parent,
        children: [],
      };
      blocks.push(block);
      (parent ? parent.children : top).push(block);
      stack.push(block);
      statementStart = index + 1;
    } else if (token.text === "}") {
      const block = stack.pop();
      if (block) block.close = index;
      statementStart = index + 1;
    } else if (token.text === ";") {
      statementStart = index + 1;
    }
  });
  return { text, tokens, comments, blocks, top };
}

/** The statements directly inside `block` (the whole file when undefined). */
export function statementsIn(structure: Structure, block: Block | undefined): Statement[] {
  const { tokens } = structure;
  const children = block ? block.children : structure.top;
  const from = block ? block.open + 1 : 0;
  const to = block ? (block.close < 0 ? tokens.length : block.close) : tokens.length;
  const statements: Statement[] = [];
  let start = from;
  for (let i = from; i < to; i++) {
    const child = children.find((candidate) => candidate.open === i);
    if (child) {
      statements.push({ start: child.start, end: child.close < 0 ? to : child.close + 1, block: child });
      i = child.close < 0 ? to : child.close;
      start = i + 1;
    } else if (tokens[i]!.text === ";") {
      if (i > start) statements.push({ start, end: i });
      start = i + 1;
    }
  }
  return statements;
}

export function lineOffset(text: string, line: number): number | undefined {
  let offset = 0;
  for (let n = 1; n < line; n++) {
    const next = text.indexOf("\n", offset);
    if (next < 0) return undefined;
    offset = next + 1;
  }
  return offset;
}

export interface Declaration {
  readonly name: Token;
  readonly number?: string;
  readonly numberToken?: Token;
}

/** The names declared directly in a block (or at top level): fields, enum values, nested types, oneofs and their members. */
export function declarationsIn(structure: Structure, block: Block | undefined): Declaration[] {
  const { tokens } = structure;
  const declarations: Declaration[] = [];
  for (const statement of statementsIn(structure, block)) {
    const child = statement.block;
    if (child) {
      const name = tokens[statement.start + 1];
      if (name && child.keyword !== "option") declarations.push({ name });
      if (child.keyword === "oneof") declarations.push(...declarationsIn(structure, child));
      continue;
    }
    const declaration = declarationOf(structure, statement);
    if (declaration) declarations.push(declaration);
  }
  return declarations;
}

/** The statement of `block` that declares the field or enum value `name`. */
export function memberStatement(structure: Structure, block: Block, name: string): Statement | undefined {
  return statementsIn(structure, block).find(
    (statement) => !statement.block && declarationOf(structure, statement)?.name.text === name,
  );
}

/** The `reserved` statements of `block`, each with its numbers (`5`, `7 to 9`) or names as tokens. */
export function reservedStatements(
  structure: Structure,
  block: Block,
): Array<Statement & { readonly names: boolean; readonly items: readonly Token[] }> {
  const { tokens } = structure;
  return statementsIn(structure, block)
    .filter((statement) => !statement.block && tokens[statement.start]!.text === "reserved")
    .map((statement) => {
      const items = tokens.slice(statement.start + 1, statement.end).filter((token) => token.text !== ",");
      return { ...statement, names: /^["']/.test(items[0]?.text ?? ""), items };
    });
}

/** The field or enum value a plain statement declares: the name before its `=`, and its number. */
function declarationOf(structure: Structure, statement: Statement): Declaration | undefined {
  const { tokens } = structure;
  const first = tokens[statement.start]!;
  if (["option", "reserved", "extensions", "import", "syntax", "package", "edition"].includes(first.text)) {
    return undefined;
  }
  let depth = 0;
  for (let i = statement.start; i < statement.end; i++) {
    const text = tokens[i]!.text;
    if (text === "[" || text === "(" || text === "<") depth++;
    else if (text === "]" || text === ")" || text === ">") depth--;
    else if (text === "=" && depth === 0 && i > statement.start) {
      const sign = tokens[i + 1]?.text === "-" ? 1 : 0;
      const numberToken = tokens[i + 1 + sign];
      return {
        name: tokens[i - 1]!,
        ...(numberToken ? { number: (sign ? "-" : "") + numberToken.text, numberToken } : {}),
      };
    }
  }
  return undefined;
}
