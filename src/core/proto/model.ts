// The model of a project's protos: protobufjs, one Root per file, every name
// by its full name; and a protobufjs error as file:line:col.
import protobuf from "protobufjs";
import { ProtoError } from "../errors.js";
import { position } from "../text.js";
import { declarationsIn, lineOffset, scan } from "./scan.js";

export interface ParsedFile {
  readonly path: string;
  readonly text: string;
  readonly package: string;
  /** Direct imports (plain, public and weak). */
  readonly imports: readonly string[];
}

export type Definition =
  | { readonly kind: "message"; readonly file: string; readonly node: protobuf.Type }
  | { readonly kind: "enum"; readonly file: string; readonly node: protobuf.Enum }
  | { readonly kind: "service"; readonly file: string }
  | { readonly kind: "package"; readonly file: string }
  | { readonly kind: "enum value"; readonly file: string; readonly enumName: string };

export interface Model {
  readonly files: ReadonlyMap<string, ParsedFile>;
  /** Every name by its full name without the leading dot (`pb.Status`, `pb.NONE`: enum values are siblings of their enum). */
  readonly names: ReadonlyMap<string, Definition>;
}

const PARSE_OPTIONS = { keepCase: true, alternateCommentMode: true };

export function parseModel(protos: ReadonlyMap<string, string>, shownDir: string): Model {
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

/** The files that import `file`, directly or not. */
export function importersOf(model: Model, file: string): Set<string> {
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

/**
 * The full name (without the leading dot) of the type `ref` names from inside `scope` (a full name),
 * resolved as protoc does, innermost scope first; a name nothing defines is left as written.
 */
export function resolveType(model: Model, ref: string, scope: string): string {
  if (ref.startsWith(".")) return ref.slice(1);
  const parts = scope ? scope.split(".") : [];
  for (let i = parts.length; i >= 0; i--) {
    const candidate = [...parts.slice(0, i), ref].join(".");
    if (model.names.has(candidate)) return candidate;
  }
  return ref;
}

/** The full names of the messages and enums that the fields and rpcs of the proto `text` name, resolved in `model`. */
export function typesUsedBy(model: Model, text: string): Set<string> {
  const used = new Set<string>();
  const visit = (namespace: protobuf.NamespaceBase) => {
    for (const node of namespace.nestedArray) {
      const scope = node.fullName.replace(/^\./, "");
      if (node instanceof protobuf.Type) {
        for (const field of node.fieldsArray) used.add(resolveType(model, field.type, scope));
      } else if (node instanceof protobuf.Service) {
        for (const method of node.methodsArray) {
          used.add(resolveType(model, method.requestType, scope));
          used.add(resolveType(model, method.responseType, scope));
        }
      }
      if (node instanceof protobuf.Namespace || node instanceof protobuf.Type) visit(node);
    }
  };
  visit(protobuf.parse(text, new protobuf.Root(), PARSE_OPTIONS).root);
  return used;
}
