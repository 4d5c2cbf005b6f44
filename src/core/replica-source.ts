import type * as AST from "oxc-parser";
import { parseSync, visitorKeys } from "oxc-parser";
import { UserError } from "./errors.js";
import { applyEdits, type Edit, position, startOfLine } from "./text.js";

/** What the Dispatch case and the handler import of one message type are written from. */
export interface DispatchMessage {
  /** Oneof field, the case's label and the handler's function name: `preAccept`. */
  readonly field: string;
  /** Value of the envelope's `Type` enum: `PRE_ACCEPT`. */
  readonly constant: string;
  /** Handler file without extension: `pre-accept`. */
  readonly file: string;
  /** Whether the type has a reply member (else the case returns the bare reply header). */
  readonly reply: boolean;
}

/**
 * Adds the handler import and the Dispatch case of `message` to the source of a replica file, as the
 * template renders them; returns the source unchanged when both are there (idempotent).
 *
 * The case goes before the `default` clause of the switch on `$case` in the `dispatch` method of a class,
 * indented as the clauses already there are; the import goes after the last import from the handlers'
 * folder (else after the last import). Each is added only when it is missing. Line endings and the quote
 * style of the file are kept.
 * @param file the file's path as the user knows it, for errors (e.g. "src/replica.ts")
 * @param handlersImport the import specifier of the handler module, e.g. "./handlers/pre-accept.js"
 */
export function addDispatchCase(
  source: string,
  file: string,
  message: DispatchMessage,
  handlersImport: string,
): string {
  const { field } = message;
  const byHand = `add the case for "${field}" (and its import) by hand`;
  const { tree, found } = findDispatch(source, file, byHand);
  const clauses = found.switch.cases;
  const hasCase = clauses.some((clause) => clause.test !== null && literalText(clause.test) === field);
  const imported = handlerImport(tree.program, field, handlersImport);
  if (hasCase && imported) return source;

  const clash = bindings(tree.program, found, field).find((binding) => binding.node !== imported?.local);
  if (clash) {
    throw new UserError(
      `${location(file, source, clash.node.start)}: the handler name ${field} clashes with the ${field} ${clash.where}; ` +
        `rename that one, or give the message another name`,
    );
  }

  const eol = source.match(/\r?\n/)?.[0] ?? "\n";
  const edits: Edit[] = [];
  if (!hasCase) edits.push(caseEdit(tree, found.switch, message, eol));
  if (!imported) edits.push(importEdit(tree, field, handlersImport, eol));
  return applyEdits(source, edits);
}

/**
 * Takes the Dispatch case of `field` and its handler import out of the source of a replica file, the
 * reverse of addDispatchCase: each whole line it holds, when the case or the import has its lines to
 * itself, else just its text. Returns the source unchanged when neither is there.
 */
export function removeDispatchCase(source: string, file: string, field: string, handlersImport: string): string {
  const { tree, found } = findDispatch(source, file, `take the case for "${field}" (and its import) out by hand`);
  const edits: Edit[] = [];
  const clause = found.switch.cases.find((c) => c.test !== null && literalText(c.test) === field);
  if (clause) edits.push(lineSpan(source, clause.start, clause.end));
  const specifier = handlerImport(tree.program, field, handlersImport);
  if (specifier) {
    const declaration = tree.program.body.find(
      (statement): statement is AST.ImportDeclaration =>
        statement.type === "ImportDeclaration" && statement.specifiers.includes(specifier),
    )!;
    if (declaration.specifiers.length === 1) {
      edits.push(lineSpan(source, declaration.start, declaration.end));
    } else {
      // `import { a, field, b }`: the specifier and the comma that joins it.
      const index = declaration.specifiers.indexOf(specifier);
      const neighbour = declaration.specifiers[index === 0 ? 1 : index - 1]!;
      const [start, end] = index === 0 ? [specifier.start, neighbour.start] : [neighbour.end, specifier.end];
      edits.push({ offset: start, text: "", remove: end - start });
    }
  }
  return applyEdits(source, edits);
}

/** The labels of the Dispatch switch's cases, in order: `beacon`, `preAccept`. */
export function dispatchCases(source: string, file: string): string[] {
  const { found } = findDispatch(source, file, "add the case by hand");
  return found.switch.cases.flatMap((clause) => (clause.test === null ? [] : [literalText(clause.test)!]));
}

/** The deletion of [start, end): whole lines when nothing else is on them, else just that text. */
function lineSpan(source: string, start: number, end: number): Edit {
  const lineStart = startOfLine(source, start);
  const newline = source.indexOf("\n", end);
  const lineEnd = newline < 0 ? source.length : newline + 1;
  if (/^[ \t]*$/.test(source.slice(lineStart, start)) && /^[ \t]*\r?\n?$/.test(source.slice(end, lineEnd))) {
    return { offset: lineStart, text: "", remove: lineEnd - lineStart };
  }
  return { offset: start, text: "", remove: end - start };
}

/**
 * The file's syntax tree and its Dispatch switch: the switch on `$case` in the `dispatch` method of a
 * class, with a default clause. Refuses (with `byHand`, what to do instead) a file that does not parse
 * or has no such switch.
 */
function findDispatch(source: string, file: string, byHand: string) {
  // oxc's parser (native, ~10 ms to load) rather than the TypeScript compiler (~150 ms): only the syntax
  // tree is needed. Its offsets count UTF-16 units, as string indexes do.
  const parsed = parseSync(file, source, { lang: "ts", sourceType: "module" });
  const syntaxError = parsed.errors[0];
  if (syntaxError) {
    const at = syntaxError.labels[0]?.start;
    const where = at === undefined ? file : location(file, source, at);
    throw new UserError(`${where}: ${syntaxError.message}; fix the syntax, or ${byHand}`);
  }
  const tree: Tree = { source, program: parsed.program, comments: parsed.comments };
  const methods = dispatchMethods(tree.program);
  if (methods.length === 0) {
    throw new UserError(
      `${file}: no dispatch method found (a method dispatch in a class, holding the switch on the message's $case); ${byHand}`,
    );
  }
  for (const method of methods) {
    const statement = dispatchSwitch(method);
    if (statement) return { tree, found: { method, ...statement } };
  }
  throw new UserError(
    `${file}: no Dispatch switch found (a switch on the message's $case in ${methodName(methods[0]!)}, ` +
      `with a default clause); ${byHand}`,
  );
}

interface Tree {
  readonly source: string;
  readonly program: AST.Program;
  readonly comments: readonly AST.Comment[];
}

interface DispatchMethod {
  readonly cls: AST.Class;
  readonly method: AST.MethodDefinition;
  readonly body: AST.FunctionBody;
}

/** The Dispatch switch, and the nodes from its method's function down to it (the scopes around it). */
interface DispatchSwitch {
  readonly switch: AST.SwitchStatement;
  readonly path: readonly AST.Node[];
}

/** `file:line:column` of offset `at` in `source`. */
function location(file: string, source: string, at: number): string {
  const { line, column } = position(source, at);
  return `${file}:${line}:${column}`;
}

/** The statement itself, or the declaration an `export` holds. */
function unexported(statement: AST.Directive | AST.Statement): AST.Node {
  return (statement.type === "ExportNamedDeclaration" || statement.type === "ExportDefaultDeclaration") &&
    statement.declaration
    ? statement.declaration
    : statement;
}

/** The methods named `dispatch`, with a body, of the file's top-level classes. */
function dispatchMethods(program: AST.Program): DispatchMethod[] {
  const methods: DispatchMethod[] = [];
  for (const statement of program.body) {
    const cls = unexported(statement);
    if (cls.type !== "ClassDeclaration") continue;
    for (const member of cls.body.body) {
      if (member.type !== "MethodDefinition" || member.kind !== "method" || member.computed) continue;
      if (member.value.body && propertyName(member.key) === "dispatch") {
        methods.push({ cls, method: member, body: member.value.body });
      }
    }
  }
  return methods;
}

/** `Replica.dispatch`, for messages. */
function methodName({ cls }: DispatchMethod): string {
  return `${cls.id ? cls.id.name : "the class"}.dispatch`;
}

function propertyName(key: AST.PropertyKey): string | undefined {
  if (key.type === "Identifier" || key.type === "PrivateIdentifier") return key.name;
  return key.type === "Literal" && typeof key.value === "string" ? key.value : undefined;
}

const FUNCTION_OR_CLASS = new Set([
  "FunctionDeclaration",
  "FunctionExpression",
  "ArrowFunctionExpression",
  "ClassDeclaration",
  "ClassExpression",
]);

/** The syntax nodes directly under `node`, in source order. */
function children(node: AST.Node): AST.Node[] {
  const record = node as unknown as Record<string, unknown>;
  return (visitorKeys[node.type] ?? []).flatMap((key) => {
    const value = record[key];
    return (Array.isArray(value) ? value : [value]).filter(
      (child): child is AST.Node => typeof child === "object" && child !== null && "type" in child,
    );
  });
}

/**
 * The Dispatch switch in `method` (outside functions nested in it) and the nodes from the method's
 * function down to it: the first switch on `$case` (a variable or a property of that name) whose
 * clauses all test string literals, with a default clause.
 */
function dispatchSwitch({ method, body }: DispatchMethod): DispatchSwitch | undefined {
  const path: AST.Node[] = [method.value];
  const visit = (node: AST.Node): AST.SwitchStatement | undefined => {
    if (FUNCTION_OR_CLASS.has(node.type)) return undefined;
    if (node.type === "SwitchStatement" && isDispatchSwitch(node)) return node;
    path.push(node);
    for (const child of children(node)) {
      const found = visit(child);
      if (found) return found;
    }
    path.pop();
    return undefined;
  };
  const found = visit(body);
  return found && { switch: found, path };
}

function isDispatchSwitch(statement: AST.SwitchStatement): boolean {
  let subject: AST.Expression = statement.discriminant;
  while (subject.type === "ParenthesizedExpression" || subject.type === "ChainExpression") {
    subject = subject.expression;
  }
  const onCase =
    (subject.type === "Identifier" && subject.name === "$case") ||
    (subject.type === "MemberExpression" &&
      !subject.computed &&
      subject.property.type === "Identifier" &&
      subject.property.name === "$case");
  const { cases } = statement;
  return (
    onCase &&
    cases.some((clause) => clause.test === null) &&
    cases.every((clause) => clause.test === null || literalText(clause.test) !== undefined)
  );
}

function literalText(expression: AST.Expression): string | undefined {
  if (expression.type === "Literal" && typeof expression.value === "string") return expression.value;
  if (expression.type === "TemplateLiteral" && expression.expressions.length === 0) {
    return expression.quasis[0]?.value.cooked ?? undefined;
  }
  return undefined;
}

/** The specifier `import { field } from "<handlersImport>"` already in the file, if any. */
function handlerImport(program: AST.Program, field: string, handlersImport: string): AST.ImportSpecifier | undefined {
  for (const statement of program.body) {
    if (statement.type !== "ImportDeclaration" || statement.importKind === "type") continue;
    if (statement.source.value !== handlersImport) continue;
    const specifier = statement.specifiers.find(
      (s): s is AST.ImportSpecifier =>
        s.type === "ImportSpecifier" &&
        s.importKind !== "type" &&
        s.local.name === field &&
        (s.imported.type === "Identifier" ? s.imported.name : s.imported.value) === field,
    );
    if (specifier) return specifier;
  }
  return undefined;
}

/** A declaration of the handler's name, and what it is, for the error. */
interface Binding {
  readonly node: AST.Node;
  /** `imported from "./envelope.js"`, `declared in Replica.dispatch`, `declared in the module`. */
  readonly where: string;
}

/**
 * The declarations of `name` visible where the switch's cases run: in the switch's own clauses, the blocks
 * around it, the parameters and catch bindings of what encloses it, and the module (imports included).
 */
function bindings(program: AST.Program, found: DispatchSwitch & { method: DispatchMethod }, name: string): Binding[] {
  const result: Binding[] = [];
  let where = `declared in ${methodName(found.method)}`;
  const bound = (node: AST.Node | null | undefined): void => {
    if (!node) return;
    switch (node.type) {
      case "Identifier":
        if (node.name === name) result.push({ node, where });
        break;
      case "ObjectPattern":
        for (const property of node.properties) bound(property.type === "RestElement" ? property : property.value);
        break;
      case "ArrayPattern":
        for (const element of node.elements) bound(element);
        break;
      case "AssignmentPattern":
        bound(node.left);
        break;
      case "RestElement":
        bound(node.argument);
        break;
      case "TSParameterProperty":
        bound(node.parameter);
        break;
    }
  };
  const declared = (statements: readonly (AST.Directive | AST.Statement)[]): void => {
    for (const statement of statements) {
      const s = unexported(statement);
      switch (s.type) {
        case "VariableDeclaration":
          for (const d of s.declarations) bound(d.id);
          break;
        case "FunctionDeclaration":
        case "TSDeclareFunction":
        case "ClassDeclaration":
        case "TSEnumDeclaration":
        case "TSInterfaceDeclaration":
        case "TSTypeAliasDeclaration":
        case "TSImportEqualsDeclaration":
          bound(s.id);
          break;
        case "TSModuleDeclaration":
          if (s.id.type === "Identifier") bound(s.id);
          break;
        case "ImportDeclaration": {
          const outer = where;
          where = `imported from "${s.source.value}"`;
          for (const specifier of s.specifiers) bound(specifier.local);
          where = outer;
          break;
        }
      }
    }
  };
  const clauses = (statement: AST.SwitchStatement) => statement.cases.flatMap((clause) => clause.consequent);
  declared(clauses(found.switch));
  for (const node of [...found.path].reverse()) {
    switch (node.type) {
      case "BlockStatement":
      case "StaticBlock":
      case "TSModuleBlock":
        declared(node.body);
        break;
      case "SwitchStatement":
        declared(clauses(node));
        break;
      case "CatchClause":
        bound(node.param);
        break;
      case "FunctionExpression":
        for (const parameter of node.params) bound(parameter);
        break;
      case "ForStatement":
        if (node.init?.type === "VariableDeclaration") for (const d of node.init.declarations) bound(d.id);
        break;
      case "ForInStatement":
      case "ForOfStatement":
        if (node.left.type === "VariableDeclaration") for (const d of node.left.declarations) bound(d.id);
        break;
    }
  }
  where = "declared in the module";
  declared(program.body);
  return result;
}

/** The text from the start of `pos`'s line to `pos`, when it is all whitespace. */
function indentAt(text: string, pos: number): string | undefined {
  const before = text.slice(startOfLine(text, pos), pos);
  return /^[ \t]*$/.test(before) ? before : undefined;
}

/** The case of `message`, before the default clause (and the comments above it), indented as the clauses are. */
function caseEdit(tree: Tree, statement: AST.SwitchStatement, message: DispatchMessage, eol: string): Edit {
  const text = tree.source;
  const { cases } = statement;
  const defaultIndex = cases.findIndex((clause) => clause.test === null);
  const defaultClause = cases[defaultIndex]!;
  const clauseIndent = indentAt(text, defaultClause.start);
  const indent = clauseIndent ?? lineIndent(text, defaultClause.start);
  // The indentation a level adds: from a case's first statement under it, else from the clauses under the switch.
  let step: string | undefined;
  for (const clause of cases.filter((c) => c.test !== null)) {
    const first = clause.consequent[0];
    const outer = indentAt(text, clause.start);
    const inner = first && indentAt(text, first.start);
    if (outer !== undefined && inner !== undefined) {
      if (inner.length > outer.length && inner.startsWith(outer)) step = inner.slice(outer.length);
      break;
    }
  }
  const switchIndent = indentAt(text, statement.start);
  if (step === undefined && switchIndent !== undefined) {
    if (indent.length > switchIndent.length && indent.startsWith(switchIndent))
      step = indent.slice(switchIndent.length);
  }
  step ??= "  ";
  const bodyIndent = indent + step;
  const firstTest = cases.find((c) => c.test !== null)?.test;
  const caseQuote = firstTest && text[firstTest.start];

  const quote = caseQuote === "'" || caseQuote === "`" ? caseQuote : '"';
  const { field, constant } = message;
  const expect = `this.expect(request, Type.${constant})`;
  const lines = [`${indent}case ${quote}${field}${quote}:`];
  if (message.reply) {
    lines.push(
      `${bodyIndent}return this.reply(${expect}, {`,
      `${bodyIndent}${step}$case: ${quote}${field}${quote},`,
      `${bodyIndent}${step}value: await ${field}(message.value, context),`,
      `${bodyIndent}});`,
    );
  } else {
    lines.push(`${bodyIndent}return this.reply(${expect}, await ${field}(message.value, context));`);
  }
  const block = lines.join(eol);

  if (clauseIndent === undefined) {
    // `default` shares its line with what comes before it: the case goes right before it, on its own line.
    return { offset: defaultClause.start, text: block.slice(indent.length) + eol + indent };
  }
  // Before the comments that lead the default clause, when each starts its own line.
  let at = defaultClause.start - clauseIndent.length;
  const after = defaultIndex > 0 ? cases[defaultIndex - 1]!.end : statement.discriminant.end;
  for (const comment of tree.comments) {
    if (comment.start < after || comment.end > defaultClause.start) continue;
    const commentIndent = indentAt(text, comment.start);
    if (commentIndent !== undefined) {
      at = comment.start - commentIndent.length;
      break;
    }
  }
  return { offset: at, text: block + eol };
}

/** The leading whitespace of the line holding `pos`. */
function lineIndent(text: string, pos: number): string {
  return /^[ \t]*/.exec(text.slice(startOfLine(text, pos)))![0];
}

/** The handler's import, after the last import from the handlers' folder (else the last import, else on top). */
function importEdit(tree: Tree, field: string, handlersImport: string, eol: string): Edit {
  const { source: text, program } = tree;
  const folder = handlersImport.slice(0, handlersImport.lastIndexOf("/") + 1);
  const imports = program.body.filter((s): s is AST.ImportDeclaration => s.type === "ImportDeclaration");
  const handlers = imports.filter((statement) => statement.source.value.startsWith(folder));
  const anchor = (folder ? handlers : []).at(-1) ?? imports.at(-1);
  const quoted = anchor && text[anchor.source.start] === "'" ? "'" : '"';
  const line = `import { ${field} } from ${quoted}${handlersImport}${quoted};`;
  if (!anchor) {
    // Above the first statement, below the comments that head the file.
    const first = program.body[0];
    const start = first ? first.start : text.length;
    return { offset: start - (indentAt(text, start)?.length ?? 0), text: line + eol };
  }
  const newline = text.indexOf("\n", anchor.end);
  // After the anchor's line (and any comment that ends it), or at the end of a file with no line after it.
  return newline === -1 ? { offset: text.length, text: eol + line } : { offset: newline + 1, text: line + eol };
}
