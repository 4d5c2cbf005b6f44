// The envelope edits of `consensus add-message`: plan the new message proto
// and the three insertions into envelope.proto (an import, a `Type` value, a
// oneof member in PeerRequest and in PeerReply), as pure functions on text.
//
// protobufjs gives the model (names, numbers, reserved ranges, imports) but no
// source positions, so the edits are placed with a small tokenizer that skips
// comments and strings: every byte of the user's file is kept except the
// inserted lines, which copy the indentation and line ending of their
// neighbours.
import protobuf from "protobufjs";
import { ProtoError, UserError } from "./errors.js";
import type { MessageNames } from "./names.js";
import { position, startOfLine } from "./text.js";

export interface FieldSpec {
  readonly name: string;
  readonly type: string;
  readonly repeated: boolean;
}

export interface MessagePlan {
  /** The envelope's new text. */
  readonly envelope: string;
  /** A new proto file for the messages (relative to the proto folder), or undefined when existing messages are reused. */
  readonly proto?: { readonly path: string; readonly text: string };
  /** The proto file (relative to the proto folder) that holds <Prefix>Request (and Reply): new or reused. */
  readonly messagesFile: string;
  /** Whether the type has a reply message (false: --no-reply, or a reused Request without a Reply). */
  readonly reply: boolean;
  /** The numbers given: the Type value and the oneof field numbers (reply undefined when no reply). */
  readonly numbers: { readonly type: number; readonly request: number; readonly reply?: number };
}

export interface PlanMessageInput {
  /** Every proto of the project: path relative to the proto folder → text. */
  readonly protos: ReadonlyMap<string, string>;
  /** The envelope's path relative to the proto folder, e.g. "envelope.proto". */
  readonly envelope: string;
  /** The envelope's path as the user sees it, for errors, e.g. "proto/envelope.proto". */
  readonly envelopeShown: string;
  readonly name: MessageNames;
  readonly request: readonly FieldSpec[];
  /** null: a request-only type (--no-reply). */
  readonly reply: readonly FieldSpec[] | null;
}

/** A set of words written one after another. */
const words = (text: string): ReadonlySet<string> => new Set(text.trim().split(/\s+/));

const SCALAR_TYPES = words(`
  double float int32 int64 uint32 uint64 sint32 sint64 fixed32 fixed64 sfixed32 sfixed64 bool string bytes
`);

/** Words of the proto language (and the scalar type names): never a oneof field or a Type value. */
const PROTO_KEYWORDS = new Set([
  ...SCALAR_TYPES,
  ...words(`
    syntax edition import weak public package option message enum service rpc returns stream oneof map
    repeated optional required reserved extensions extend group to max true false inf nan
  `),
]);

/** Reserved words of TypeScript/JavaScript (strict mode and modules), and names a binding must not take. */
const TS_RESERVED = words(`
  break case catch class const continue debugger default delete do else enum export extends false finally for
  function if import in instanceof new null return super switch this throw true try typeof var void while with
  implements interface let package private protected public static yield await async arguments eval
  undefined constructor prototype
`);

/** Local names of the generated replica.ts, where the handler of each type is imported under its field name. */
const REPLICA_LOCALS = words("request message context typeName isKnownType toStatusError");

/** The envelope's own names: no message type may take or define them. */
const ENVELOPE_NAMES = words("Type PeerRequest PeerReply ProposeRequest ProposeReply");

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TYPE_NAME = /^\.?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const MAX_ENUM_VALUE = 2147483647;
const MAX_FIELD_NUMBER = 536870911;
/** Field numbers reserved by the protobuf implementation. */
const IMPLEMENTATION_RESERVED: readonly [number, number] = [19000, 19999];
const ALLOWED_TYPES = "use a scalar such as int32, uint64, bool, string or bytes, or a message or enum of the project";

// ---------------------------------------------------------------------------
// Field specs

/** Parses "ballot:uint64,value:bytes,deps:repeated int32" (spaces around tokens allowed; empty string → []). */
export function parseFieldSpecs(text: string, flag: "--request" | "--reply"): FieldSpec[] {
  if (text.trim() === "") return [];
  const specs: FieldSpec[] = [];
  const byName = new Map<string, string>();
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") {
      throw new UserError(`${flag}: empty field in "${text}": write name:type pairs separated by commas`);
    }
    const colon = item.indexOf(":");
    if (colon < 0) throw new UserError(`${flag}: "${item}" has no type: write it as name:type, e.g. ballot:uint64`);
    const name = item.slice(0, colon).trim();
    let type = item
      .slice(colon + 1)
      .trim()
      .replace(/\s+/g, " ");
    if (name === "") {
      throw new UserError(`${flag}: "${item}" has no field name: write it as name:type, e.g. ballot:uint64`);
    }
    if (!IDENTIFIER.test(name)) {
      throw new UserError(
        `${flag}: "${name}" is not a field name: use letters, digits and _, starting with a letter, e.g. ballot`,
      );
    }
    const repeated = /^repeated(?: |$)/.test(type);
    if (repeated) type = type.slice("repeated".length).trim();
    if (type === "") throw new UserError(`${flag}: "${item}" has no type: write it as name:type, e.g. ballot:uint64`);
    if (!TYPE_NAME.test(type)) {
      throw new UserError(`${flag}: "${type}" (field ${name}) is not a type: ${ALLOWED_TYPES}`);
    }
    const key = jsonKey(name);
    const other = byName.get(key);
    if (other === name) throw new UserError(`${flag}: field "${name}" is given twice: give each field once`);
    if (other !== undefined) {
      throw new UserError(
        `${flag}: fields "${other}" and "${name}" differ only in case or underscores, so they clash in JSON and TypeScript: rename one`,
      );
    }
    byName.set(key, name);
    specs.push({ name, type, repeated });
  }
  return specs;
}

/** A field's JSON name (lowerCamelCase as protoc derives it), case-folded: equal keys clash. */
function jsonKey(name: string): string {
  return name.replace(/_+([a-zA-Z0-9]?)/g, (_, next: string) => next.toUpperCase()).toLowerCase();
}

// ---------------------------------------------------------------------------
// The model: protobufjs, one Root per file

interface ParsedFile {
  readonly path: string;
  readonly text: string;
  readonly package: string;
  /** Direct imports (plain, public and weak). */
  readonly imports: readonly string[];
}

type Definition =
  | { readonly kind: "message"; readonly file: string; readonly node: protobuf.Type }
  | { readonly kind: "enum"; readonly file: string; readonly node: protobuf.Enum }
  | { readonly kind: "service"; readonly file: string }
  | { readonly kind: "package"; readonly file: string }
  | { readonly kind: "enum value"; readonly file: string; readonly enumName: string };

interface Model {
  readonly files: ReadonlyMap<string, ParsedFile>;
  /** Every name by its full name without the leading dot (`pb.Status`, `pb.NONE`: enum values are siblings of their enum). */
  readonly names: ReadonlyMap<string, Definition>;
}

const PARSE_OPTIONS = { keepCase: true, alternateCommentMode: true };

function parseModel(protos: ReadonlyMap<string, string>, shownDir: string): Model {
  const files = new Map<string, ParsedFile>();
  const names = new Map<string, Definition>();
  for (const path of [...protos.keys()].sort()) {
    const text = protos.get(path)!;
    let parsed: protobuf.IParserResult;
    try {
      parsed = protobuf.parse(text, new protobuf.Root(), PARSE_OPTIONS);
    } catch (error) {
      throw protoError(`${shownDir}${path}`, text, error);
    }
    files.set(path, {
      path,
      text,
      package: parsed.package ?? "",
      imports: [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])],
    });
    collect(parsed.root, path, names);
  }
  return { files, names };
}

function collect(namespace: protobuf.NamespaceBase, file: string, names: Map<string, Definition>): void {
  for (const node of namespace.nestedArray) {
    const fullName = node.fullName.replace(/^\./, "");
    const set = (definition: Definition) => {
      if (!names.has(fullName)) names.set(fullName, definition);
    };
    if (node instanceof protobuf.Type) {
      set({ kind: "message", file, node });
      collect(node, file, names);
    } else if (node instanceof protobuf.Enum) {
      set({ kind: "enum", file, node });
      const scope = fullName.includes(".") ? fullName.slice(0, fullName.lastIndexOf(".") + 1) : "";
      for (const value of Object.keys(node.values)) {
        if (!names.has(scope + value)) names.set(scope + value, { kind: "enum value", file, enumName: node.name });
      }
    } else if (node instanceof protobuf.Service) {
      set({ kind: "service", file });
    } else if (node instanceof protobuf.Namespace) {
      set({ kind: "package", file });
      collect(node, file, names);
    }
  }
}

/** The ProtoError for a protobufjs parse error: its `line N`, and the column of the token it names. */
function protoError(shown: string, text: string, error: unknown): ProtoError {
  const message = error instanceof Error ? error.message : String(error);
  const lineMatch = /\s*\((?:[^()]*,\s*)?line (\d+)\)\s*$/.exec(message);
  const reason = lineMatch ? message.slice(0, lineMatch.index) : message;
  if (lineMatch) {
    const line = Number(lineMatch[1]);
    return new ProtoError(shown, line, errorColumn(text, line, reason), reason);
  }
  const at = duplicatePosition(text, reason);
  if (at) return new ProtoError(shown, at.line, at.column, reason);
  return new ProtoError(shown, undefined, undefined, reason);
}

/** The column of the token a protobufjs error names on `line` (1 when it cannot be found). */
function errorColumn(text: string, line: number, reason: string): number {
  const lineStart = lineOffset(text, line);
  if (lineStart === undefined) return 1;
  const lineEnd = text.indexOf("\n", lineStart) < 0 ? text.length : text.indexOf("\n", lineStart);
  const { tokens } = scan(text);
  const onLine = tokens.filter((token) => token.start >= lineStart && token.start < lineEnd);
  if (/end of input/.test(reason)) {
    const last = tokens.at(-1);
    if (last && last.end >= lineStart && last.end <= lineEnd) return last.end - lineStart + 1;
    return 1;
  }
  const named = /^illegal \w+(?: \w+)* '((?:[^']|'(?!,|$))*)'/.exec(reason)?.[1];
  if (named !== undefined) {
    const token = onLine.find((t) => t.text === named) ?? onLine.find((t) => named !== "" && t.text.startsWith(named));
    if (token) return token.start - lineStart + 1;
  }
  const search = /comment/.test(reason) ? "/*" : /string/.test(reason) ? /["']/ : undefined;
  if (search !== undefined) {
    const lineText = text.slice(lineStart, lineEnd);
    const index = typeof search === "string" ? lineText.indexOf(search) : lineText.search(search);
    if (index >= 0) return index + 1;
  }
  return 1;
}

/** Where a "duplicate name 'x' in Type A" or "duplicate id N in Enum A" error points: the second declaration. */
function duplicatePosition(text: string, reason: string): { line: number; column: number } | undefined {
  const match = /^duplicate (name|id) '?([^' ]+)'? in (\w+)(?: (\S+))?$/.exec(reason);
  if (!match) return undefined;
  const [, what, key, kind, scopeName] = match;
  const structure = scan(text);
  const blocks = structure.blocks;
  const scopes =
    kind === "Root" || kind === "Namespace"
      ? [undefined]
      : blocks.filter((block) => block.name === scopeName?.split(".").at(-1) && block.keyword !== "oneof");
  for (const scope of scopes) {
    const declarations = declarationsIn(structure, scope).filter((declaration) =>
      what === "name" ? declaration.name.text === key : declaration.number === key,
    );
    const second = declarations[1];
    if (second) {
      const token = what === "name" ? second.name : second.numberToken!;
      return position(text, token.start);
    }
  }
  return undefined;
}

interface Declaration {
  readonly name: Token;
  readonly number?: string;
  readonly numberToken?: Token;
}

/** The names declared directly in a block (or at top level): fields, enum values, nested types, oneofs and their members. */
function declarationsIn(structure: Structure, block: Block | undefined): Declaration[] {
  const { tokens } = structure;
  const declarations: Declaration[] = [];
  for (const statement of statementsIn(structure, block)) {
    const first = tokens[statement.start]!;
    const child = statement.block;
    if (child) {
      const name = tokens[statement.start + 1];
      if (name && child.keyword !== "option") declarations.push({ name });
      if (child.keyword === "oneof") declarations.push(...declarationsIn(structure, child));
      continue;
    }
    if (["option", "reserved", "extensions", "import", "syntax", "package", "edition"].includes(first.text)) continue;
    let depth = 0;
    for (let i = statement.start; i < statement.end; i++) {
      const text = tokens[i]!.text;
      if (text === "[" || text === "(" || text === "<") depth++;
      else if (text === "]" || text === ")" || text === ">") depth--;
      else if (text === "=" && depth === 0 && i > statement.start) {
        const sign = tokens[i + 1]?.text === "-" ? 1 : 0;
        const numberToken = tokens[i + 1 + sign];
        declarations.push({
          name: tokens[i - 1]!,
          ...(numberToken ? { number: (sign ? "-" : "") + numberToken.text, numberToken } : {}),
        });
        break;
      }
    }
  }
  return declarations;
}

// ---------------------------------------------------------------------------
// The tokenizer: enough of the proto grammar to place text edits

interface Token {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

interface Block {
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

interface Structure {
  readonly text: string;
  readonly tokens: readonly Token[];
  /** Comment spans [start, end). */
  readonly comments: ReadonlyArray<readonly [number, number]>;
  readonly blocks: readonly Block[];
  readonly top: readonly Block[];
}

/** A statement of a block: tokens [start, end) ending at `;` (excluded) or a nested block. */
interface Statement {
  readonly start: number;
  readonly end: number;
  readonly block?: Block;
}

const WORD_CHAR = /[A-Za-z0-9_]/;

function scan(text: string): Structure {
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
function statementsIn(structure: Structure, block: Block | undefined): Statement[] {
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

function lineOffset(text: string, line: number): number | undefined {
  let offset = 0;
  for (let n = 1; n < line; n++) {
    const next = text.indexOf("\n", offset);
    if (next < 0) return undefined;
    offset = next + 1;
  }
  return offset;
}

// ---------------------------------------------------------------------------
// Text edits

interface Edit {
  readonly offset: number;
  readonly text: string;
}

function applyEdits(text: string, edits: readonly Edit[]): string {
  let result = text;
  for (const edit of [...edits].sort((a, b) => b.offset - a.offset)) {
    result = result.slice(0, edit.offset) + edit.text + result.slice(edit.offset);
  }
  return result;
}

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
 * The edit that adds `statement` as the last member of `block`, just before
 * its closing brace: on a line of its own (indented as the last member) when
 * the brace is alone on its line, else on the brace's line.
 */
function appendMember(structure: Structure, block: Block, statement: string): Edit {
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
    return { offset: lineStart, text: `${indent}${statement}${eol}` };
  }
  const previous = text[close.start - 1];
  if (close.start - 1 === open.start) return { offset: close.start, text: ` ${statement} ` };
  if (previous === " " || previous === "\t") return { offset: close.start, text: `${statement} ` };
  return { offset: close.start, text: ` ${statement}` };
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
function addImport(structure: Structure, file: string): Edit {
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

// ---------------------------------------------------------------------------
// Numbers

type Reserved = ReadonlyArray<number[] | string>;

function reservedRanges(reserved: Reserved | undefined): Array<readonly [number, number]> {
  return (reserved ?? []).filter((entry): entry is number[] => typeof entry !== "string").map(([a, b]) => [a!, b!]);
}

function reservedNames(reserved: Reserved | undefined): string[] {
  return (reserved ?? []).filter((entry): entry is string => typeof entry === "string");
}

function highest(used: readonly number[], reserved: Reserved | undefined): number {
  return Math.max(-1, ...used, ...reservedRanges(reserved).map(([, end]) => end));
}

function isFreeField(message: protobuf.Type, id: number): boolean {
  if (message.fieldsArray.some((field) => field.id === id)) return false;
  if (reservedRanges(message.reserved).some(([a, b]) => id >= a && id <= b)) return false;
  return !(id >= IMPLEMENTATION_RESERVED[0] && id <= IMPLEMENTATION_RESERVED[1]) && id >= 1 && id <= MAX_FIELD_NUMBER;
}

function nextFieldNumber(message: protobuf.Type, shown: string): number {
  let next =
    highest(
      message.fieldsArray.map((field) => field.id),
      message.reserved,
    ) + 1;
  if (next >= IMPLEMENTATION_RESERVED[0] && next <= IMPLEMENTATION_RESERVED[1]) next = IMPLEMENTATION_RESERVED[1] + 1;
  if (next > MAX_FIELD_NUMBER) {
    throw new UserError(
      `${shown}: message ${message.name} uses or reserves field numbers up to the maximum: free some of its reserved range`,
    );
  }
  return Math.max(next, 1);
}

// ---------------------------------------------------------------------------
// planMessage

export function planMessage(input: PlanMessageInput): MessagePlan {
  const { protos, envelope, envelopeShown, name } = input;
  const { prefix, constant, field } = name;
  const shownDir = envelopeShown.endsWith(envelope) ? envelopeShown.slice(0, -envelope.length) : "";
  const shown = (file: string) => `${shownDir}${file}`;
  const envelopeText = protos.get(envelope);
  if (envelopeText === undefined)
    throw new UserError(`${envelopeShown}: no such file: the envelope must be a project proto`);

  const model = parseModel(protos, shownDir);
  const envelopeFile = model.files.get(envelope)!;
  const pkg = envelopeFile.package;
  const scoped = (simple: string) => (pkg ? `${pkg}.${simple}` : simple);
  const relative = (fullName: string) =>
    pkg && fullName.startsWith(`${pkg}.`) ? fullName.slice(pkg.length + 1) : fullName;
  const inEnvelope = (simple: string) => {
    const definition = model.names.get(scoped(simple));
    return definition && definition.file === envelope ? definition : undefined;
  };

  // The envelope's shape: enum Type, PeerRequest and PeerReply with a oneof message each.
  const typeEnum = inEnvelope("Type");
  if (typeEnum?.kind !== "enum") {
    throw new UserError(
      `${envelopeShown}: no enum Type: the envelope needs enum Type { BEACON = 0; … } to add a value to`,
    );
  }
  const peerMessage = (simple: "PeerRequest" | "PeerReply") => {
    const definition = inEnvelope(simple);
    if (definition?.kind !== "message") {
      throw new UserError(
        `${envelopeShown}: no message ${simple}: the envelope needs PeerRequest and PeerReply, each with a oneof message { … }`,
      );
    }
    if (!definition.node.oneofs?.["message"]) {
      throw new UserError(
        `${envelopeShown}: message ${simple} has no oneof message: add "oneof message { … }" with one member per type`,
      );
    }
    return definition.node;
  };
  const peerRequest = peerMessage("PeerRequest");
  const peerReply = peerMessage("PeerReply");
  const structure = scan(envelopeText);
  const textBlock = (keyword: string, blockName: string, parent?: Block) =>
    (parent ? parent.children : structure.top).find(
      (block) => block.keyword === keyword && block.name === blockName && block.close >= 0,
    );
  const typeBlock = textBlock("enum", "Type");
  const requestBlock = textBlock("message", "PeerRequest");
  const replyBlock = textBlock("message", "PeerReply");
  const requestOneof = requestBlock && textBlock("oneof", "message", requestBlock);
  const replyOneof = replyBlock && textBlock("oneof", "message", replyBlock);
  if (!typeBlock || !requestOneof || !replyOneof) {
    throw new UserError(
      `${envelopeShown}: enum Type, PeerRequest and PeerReply (with its oneof message) must be written at the top level to be edited`,
    );
  }

  // Names: the envelope's own, keywords, and the names generated code uses.
  const requestName = `${prefix}Request`;
  const replyName = `${prefix}Reply`;
  for (const taken of [prefix, requestName, replyName]) {
    if (ENVELOPE_NAMES.has(taken)) {
      throw new UserError(`"${prefix}" would use ${taken}, one of the envelope's own names: choose another name`);
    }
  }
  if (PROTO_KEYWORDS.has(field) || PROTO_KEYWORDS.has(constant)) {
    const word = PROTO_KEYWORDS.has(field) ? field : constant;
    throw new UserError(
      `"${prefix}" gives the oneof field or Type value ${word}, a proto keyword: choose another name`,
    );
  }
  if (TS_RESERVED.has(field)) {
    throw new UserError(`"${prefix}" gives the handler name ${field}, a TypeScript reserved word: choose another name`);
  }
  if (REPLICA_LOCALS.has(field)) {
    throw new UserError(
      `"${prefix}" gives the handler name ${field}, a name replica.ts already uses: choose another name`,
    );
  }
  if (constant === "UNRECOGNIZED") {
    throw new UserError(
      `"${prefix}" gives the Type value UNRECOGNIZED, which ts-proto adds to every enum: choose another name`,
    );
  }

  // Collisions with the envelope.
  const typeNode = typeEnum.node;
  if (Object.hasOwn(typeNode.values, constant)) {
    throw new UserError(`${envelopeShown}: enum Type already has a value ${constant}: choose another name`);
  }
  if (reservedNames(typeNode.reserved).includes(constant)) {
    throw new UserError(`${envelopeShown}: enum Type reserves the name ${constant}: choose another name`);
  }
  for (const message of [peerRequest, peerReply]) {
    const clash =
      message.fieldsArray.find((f) => jsonKey(f.name) === jsonKey(field))?.name ??
      message.oneofsArray.find((o) => o.name === field)?.name;
    if (clash !== undefined) {
      throw new UserError(
        `${envelopeShown}: message ${message.name} already has a field ${clash}: choose another name`,
      );
    }
    if (reservedNames(message.reserved).includes(field)) {
      throw new UserError(
        `${envelopeShown}: message ${message.name} reserves the field name ${field}: choose another name`,
      );
    }
  }

  // Collisions in the package's scope (enum values are siblings of their enum there).
  const describe = (definition: Definition) =>
    definition.kind === "enum value"
      ? `a value of enum ${definition.enumName}`
      : `${definition.kind === "enum" ? "an" : "a"} ${definition.kind}`;
  const constantClash = model.names.get(scoped(constant));
  if (constantClash) {
    throw new UserError(
      `the Type value ${constant} would clash with ${constant}, ${describe(constantClash)} in ${shown(constantClash.file)} (proto enum values share their package's scope): choose another name`,
    );
  }
  const prefixClash = model.names.get(scoped(prefix));
  if (prefixClash) {
    throw new UserError(
      `${prefix} is already ${describe(prefixClash)} in ${shown(prefixClash.file)}: choose another name for the message type`,
    );
  }
  const requestDefinition = model.names.get(scoped(requestName));
  const replyDefinition = model.names.get(scoped(replyName));
  for (const [messageName, definition] of [
    [requestName, requestDefinition],
    [replyName, replyDefinition],
  ] as const) {
    if (definition && definition.kind !== "message") {
      throw new UserError(
        `${messageName} is already ${describe(definition)} in ${shown(definition.file)}, not a message: choose another name`,
      );
    }
  }

  const reachesEnvelope = importersOf(model, envelope);
  let messagesFile: string;
  let reply: boolean;
  let proto: { path: string; text: string } | undefined;
  if (requestDefinition) {
    // Reuse the messages the project already defines.
    messagesFile = requestDefinition.file;
    if (input.request.length > 0 || (input.reply?.length ?? 0) > 0) {
      throw new UserError(
        `${requestName} is already defined in ${shown(messagesFile)}: drop --request and --reply to reuse it, or choose another name`,
      );
    }
    if (replyDefinition && replyDefinition.file !== messagesFile) {
      throw new UserError(
        `${replyName} is defined in ${shown(replyDefinition.file)}, not beside ${requestName} in ${shown(messagesFile)}: move it there`,
      );
    }
    if (!replyDefinition && input.reply !== null) {
      throw new UserError(
        `${requestName} exists in ${shown(messagesFile)} but ${replyName} does not: add --no-reply for a request-only type, or define ${replyName} there`,
      );
    }
    if (messagesFile !== envelope && reachesEnvelope.has(messagesFile)) {
      throw new UserError(
        `${shown(messagesFile)} imports ${envelopeShown}, which would then import it back: move ${requestName} to a file of its own`,
      );
    }
    reply = input.reply !== null;
  } else {
    if (replyDefinition) {
      throw new UserError(
        `${replyName} already exists in ${shown(replyDefinition.file)} but ${requestName} does not: define ${requestName} beside it, or choose another name`,
      );
    }
    messagesFile = name.proto;
    if (protos.has(messagesFile)) {
      throw new UserError(
        `${shown(messagesFile)} already exists and does not define ${requestName}: define the messages there to reuse them, or choose another name`,
      );
    }
    const imports = new Set<string>();
    const fieldLines = (specs: readonly FieldSpec[], flag: "--request" | "--reply") =>
      specs.map((spec, index) => {
        let typeText = spec.type;
        if (!SCALAR_TYPES.has(spec.type)) {
          const candidates = spec.type.startsWith(".") ? [spec.type.slice(1)] : [scoped(spec.type), spec.type];
          const found = candidates
            .map((candidate) => [candidate, model.names.get(candidate)] as const)
            .find(([, definition]) => definition?.kind === "message" || definition?.kind === "enum");
          if (!found)
            throw new UserError(`${flag}: unknown type "${spec.type}" for field ${spec.name}: ${ALLOWED_TYPES}`);
          const [fullName, definition] = found;
          if (reachesEnvelope.has(definition!.file)) {
            throw new UserError(
              `${flag}: type ${spec.type} (field ${spec.name}) is defined in ${shown(definition!.file)}, which would import the new file in turn: use a type from another file`,
            );
          }
          imports.add(definition!.file);
          typeText = relative(fullName);
        }
        return `  ${spec.repeated ? "repeated " : ""}${typeText} ${spec.name} = ${index + 1};`;
      });
    const requestFields = fieldLines(input.request, "--request");
    const replyFields = input.reply === null ? undefined : fieldLines(input.reply, "--reply");
    proto = {
      path: messagesFile,
      text: messagesProto({ name, pkg, imports: [...imports].sort(), requestFields, replyFields }),
    };
    reply = input.reply !== null;
  }

  // Numbers: one past the highest used or reserved; a reply shares its request's number when that is higher.
  const typeNumber = highest(Object.values(typeNode.values), typeNode.reserved) + 1;
  if (typeNumber > MAX_ENUM_VALUE) {
    throw new UserError(
      `${envelopeShown}: enum Type uses or reserves values up to the maximum: free some of its reserved range`,
    );
  }
  const requestNumber = nextFieldNumber(peerRequest, envelopeShown);
  // The original ePaxos set numbers a type's request and reply alike (a
  // request-only type leaves its number unused in PeerReply: 11, 12, 14, 15),
  // so the reply takes the request's number when that is free and above every
  // number PeerReply uses or reserves: never a gap, which an old field may have left.
  const nextReply = reply ? nextFieldNumber(peerReply, envelopeShown) : undefined;
  const replyNumber =
    nextReply === undefined
      ? undefined
      : requestNumber >= nextReply && isFreeField(peerReply, requestNumber)
        ? requestNumber
        : nextReply;

  // The edits.
  const messagesPackage = model.files.get(messagesFile)?.package ?? pkg;
  const messageType = (simple: string) => relative(messagesPackage ? `${messagesPackage}.${simple}` : simple);
  const edits: Edit[] = [
    appendMember(structure, typeBlock, `${constant} = ${typeNumber};`),
    appendMember(structure, requestOneof, `${messageType(requestName)} ${field} = ${requestNumber};`),
  ];
  if (replyNumber !== undefined) {
    edits.push(appendMember(structure, replyOneof, `${messageType(replyName)} ${field} = ${replyNumber};`));
  }
  if (messagesFile !== envelope && !envelopeFile.imports.includes(messagesFile)) {
    edits.push(addImport(structure, messagesFile));
  }
  const envelopeAfter = applyEdits(envelopeText, edits);

  // Guard: the result parses and keeps every existing number.
  const after = new Map(protos);
  after.set(envelope, envelopeAfter);
  if (proto) after.set(proto.path, proto.text);
  try {
    checkWireCompatible(protos, after);
  } catch (error) {
    throw new Error(
      `add-message planned an envelope that breaks the wire format (a bug): ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return {
    envelope: envelopeAfter,
    ...(proto ? { proto } : {}),
    messagesFile,
    reply,
    numbers: { type: typeNumber, request: requestNumber, ...(replyNumber !== undefined ? { reply: replyNumber } : {}) },
  };
}

/** The files that import `file`, directly or not. */
function importersOf(model: Model, file: string): Set<string> {
  const importers = new Set<string>();
  let grown = true;
  while (grown) {
    grown = false;
    for (const parsed of model.files.values()) {
      if (importers.has(parsed.path)) continue;
      if (parsed.imports.some((imported) => imported === file || importers.has(imported))) {
        importers.add(parsed.path);
        grown = true;
      }
    }
  }
  importers.add(file);
  return importers;
}

function messagesProto(input: {
  name: MessageNames;
  pkg: string;
  imports: readonly string[];
  requestFields: readonly string[];
  replyFields: readonly string[] | undefined;
}): string {
  const { name, pkg, imports, requestFields, replyFields } = input;
  const lines = [
    replyFields
      ? `// ${name.prefix}: the messages of the ${name.constant} type, in PeerRequest.${name.field} and PeerReply.${name.field}.`
      : `// ${name.prefix}: the request of the ${name.constant} type, in PeerRequest.${name.field} (request only: its reply carries no message).`,
    'syntax = "proto3";',
  ];
  if (pkg) lines.push(`package ${pkg};`);
  lines.push("");
  if (imports.length > 0) lines.push(...imports.map((file) => `import "${file}";`), "");
  const message = (messageName: string, fields: readonly string[]) =>
    fields.length === 0 ? [`message ${messageName} {}`] : [`message ${messageName} {`, ...fields, "}"];
  lines.push(...message(`${name.prefix}Request`, requestFields));
  if (replyFields) lines.push("", ...message(`${name.prefix}Reply`, replyFields));
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------
// Wire compatibility

/** Throws UserError naming the first incompatibility when `after` is not wire-compatible with `before` (same files → text maps). */
export function checkWireCompatible(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): void {
  const old = parseModel(before, "");
  const now = parseModel(after, "");
  for (const [fullName, definition] of [...old.names].sort(([a], [b]) => a.localeCompare(b))) {
    const current = now.names.get(fullName);
    if (definition.kind === "message") {
      if (current?.kind !== "message") fail(`message ${fullName} (${definition.file}) was removed`);
      const next = current.node;
      for (const field of definition.node.fieldsArray) {
        const label = `field ${fullName}.${field.name}`;
        const moved = next.fields[field.name];
        if (!moved) fail(`${label} (number ${field.id}) was removed`);
        if (moved.id !== field.id) fail(`${label} changed number from ${field.id} to ${moved.id}`);
        const type = fieldType(field, fullName, old);
        const nextType = fieldType(moved, fullName, now);
        if (type !== nextType) fail(`${label} changed type from ${type} to ${nextType}`);
        const oneof = field.partOf?.name;
        const nextOneof = moved.partOf?.name;
        if (oneof !== nextOneof) {
          fail(
            oneof === undefined
              ? `${label} moved into oneof ${nextOneof}`
              : nextOneof === undefined
                ? `${label} moved out of oneof ${oneof}`
                : `${label} moved from oneof ${oneof} to oneof ${nextOneof}`,
          );
        }
      }
    } else if (definition.kind === "enum") {
      if (current?.kind !== "enum") fail(`enum ${fullName} (${definition.file}) was removed`);
      const values = current.node.values;
      for (const [valueName, number] of Object.entries(definition.node.values)) {
        if (!Object.hasOwn(values, valueName)) fail(`value ${valueName} = ${number} of enum ${fullName} was removed`);
        if (values[valueName] !== number) {
          fail(`value ${valueName} of enum ${fullName} changed from ${number} to ${values[valueName]}`);
        }
      }
    }
  }
}

function fail(what: string): never {
  throw new UserError(`not wire-compatible: ${what}: existing names and numbers must not change`);
}

/** A field's type with names resolved as protoc does (innermost scope first), and its label. */
function fieldType(field: protobuf.Field, scope: string, model: Model): string {
  const resolve = (ref: string) => {
    if (SCALAR_TYPES.has(ref)) return ref;
    if (ref.startsWith(".")) return ref.slice(1);
    const parts = scope.split(".");
    for (let i = parts.length; i >= 0; i--) {
      const candidate = [...parts.slice(0, i), ref].join(".");
      if (model.names.has(candidate)) return candidate;
    }
    return ref;
  };
  const keyType = (field as unknown as { keyType?: string }).keyType;
  if (field.map && keyType) return `map<${keyType}, ${resolve(field.type)}>`;
  const label = field.repeated ? "repeated " : field.options?.["proto3_optional"] ? "optional " : "";
  return `${label}${resolve(field.type)}`;
}
