import { createRequire } from "node:module";
import type * as TS from "typescript";
import { UserError } from "./errors.js";

const require = createRequire(import.meta.url);
// V8's compiled code for the compiler is kept between runs, in the temp folder
// (v8-compile-cache-lib): loading it takes ~75 ms instead of ~150. Required,
// not imported: an ESM import of this 9 MB CommonJS module has Node scan its
// whole source for export names first (~120 ms more).
const compileCache = (require("v8-compile-cache-lib") as typeof import("v8-compile-cache-lib")).install({
  prefix: "create-consensus",
});
const ts = require("typescript") as typeof TS;
compileCache?.uninstall();

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

/** An insertion into the source: `text` at offset `at`. */
interface Edit {
  readonly at: number;
  readonly text: string;
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
  const sourceFile = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const { field } = message;
  const byHand = `add the case for "${field}" (and its import) by hand`;

  const methods = dispatchMethods(sourceFile);
  if (methods.length === 0) {
    throw new UserError(
      `${file}: no dispatch method found (a method dispatch in a class, holding the switch on the message's $case); ${byHand}`,
    );
  }
  let found: { method: TS.MethodDeclaration; switch: TS.SwitchStatement } | undefined;
  for (const method of methods) {
    const statement = dispatchSwitch(method);
    if (statement) {
      found = { method, switch: statement };
      break;
    }
  }
  if (!found) {
    throw new UserError(
      `${file}: no Dispatch switch found (a switch on the message's $case in ${methodName(methods[0]!)}, ` +
        `with a default clause); ${byHand}`,
    );
  }

  const clauses = found.switch.caseBlock.clauses;
  const hasCase = clauses.some((clause) => ts.isCaseClause(clause) && literalText(clause.expression) === field);
  const imported = handlerImport(sourceFile, field, handlersImport);
  if (hasCase && imported) return source;

  const clash = bindings(found.switch, field).find((binding) => binding !== imported?.name);
  if (clash) {
    const { line, character } = sourceFile.getLineAndCharacterOfPosition(clash.getStart(sourceFile));
    throw new UserError(
      `${file}:${line + 1}:${character + 1}: the handler name ${field} clashes with the ${field} ${describe(clash, found.method)}; ` +
        `rename that one, or give the message another name`,
    );
  }

  const eol = source.match(/\r?\n/)?.[0] ?? "\n";
  const edits: Edit[] = [];
  if (!hasCase) edits.push(caseEdit(sourceFile, found.switch, message, eol));
  if (!imported) edits.push(importEdit(sourceFile, field, handlersImport, eol));
  // From the end backwards, so that each offset still points where it did in `source`.
  edits.sort((a, b) => b.at - a.at);
  return edits.reduce((text, edit) => text.slice(0, edit.at) + edit.text + text.slice(edit.at), source);
}

/** The methods named `dispatch`, with a body, of the file's top-level classes. */
function dispatchMethods(sourceFile: TS.SourceFile): TS.MethodDeclaration[] {
  return sourceFile.statements
    .filter(ts.isClassDeclaration)
    .flatMap((cls) => cls.members.filter(ts.isMethodDeclaration))
    .filter((method) => method.body !== undefined && propertyName(method.name) === "dispatch");
}

/** `Replica.dispatch`, for messages. */
function methodName(method: TS.MethodDeclaration): string {
  const cls = method.parent;
  return `${ts.isClassDeclaration(cls) && cls.name ? cls.name.text : "the class"}.dispatch`;
}

function propertyName(name: TS.PropertyName): string | undefined {
  return ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isPrivateIdentifier(name) ? name.text : undefined;
}

/**
 * The Dispatch switch in `method` (outside functions nested in it): the first switch on `$case` (a
 * variable or a property of that name) whose clauses all test string literals, with a default clause.
 */
function dispatchSwitch(method: TS.MethodDeclaration): TS.SwitchStatement | undefined {
  let found: TS.SwitchStatement | undefined;
  const visit = (node: TS.Node): void => {
    if (found || ts.isFunctionLike(node) || ts.isClassLike(node)) return;
    if (ts.isSwitchStatement(node) && isDispatchSwitch(node)) found = node;
    else ts.forEachChild(node, visit);
  };
  ts.forEachChild(method.body!, visit);
  return found;
}

function isDispatchSwitch(statement: TS.SwitchStatement): boolean {
  let subject: TS.Expression = statement.expression;
  while (ts.isParenthesizedExpression(subject)) subject = subject.expression;
  const onCase =
    (ts.isIdentifier(subject) && subject.text === "$case") ||
    (ts.isPropertyAccessExpression(subject) && subject.name.text === "$case");
  const { clauses } = statement.caseBlock;
  return (
    onCase &&
    clauses.some(ts.isDefaultClause) &&
    clauses.every((clause) => ts.isDefaultClause(clause) || literalText(clause.expression) !== undefined)
  );
}

function literalText(expression: TS.Expression): string | undefined {
  return ts.isStringLiteral(expression) || ts.isNoSubstitutionTemplateLiteral(expression) ? expression.text : undefined;
}

/** The specifier `import { field } from "<handlersImport>"` already in the file, if any. */
function handlerImport(
  sourceFile: TS.SourceFile,
  field: string,
  handlersImport: string,
): TS.ImportSpecifier | undefined {
  for (const statement of sourceFile.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    if (statement.moduleSpecifier.text !== handlersImport) continue;
    const clause = statement.importClause;
    const named = clause?.namedBindings;
    if (!clause || clause.isTypeOnly || !named || !ts.isNamedImports(named)) continue;
    const specifier = named.elements.find(
      (element) =>
        !element.isTypeOnly && element.name.text === field && (element.propertyName ?? element.name).text === field,
    );
    if (specifier) return specifier;
  }
  return undefined;
}

/**
 * The declarations of `name` visible where the switch's cases run: in the switch's own clauses, the blocks
 * around it, the parameters and catch bindings of what encloses it, and the module (imports included).
 */
function bindings(statement: TS.SwitchStatement, name: string): TS.Node[] {
  const found: TS.Node[] = [];
  const bound = (node: TS.BindingName | TS.Identifier | undefined): void => {
    if (!node) return;
    if (ts.isIdentifier(node)) {
      if (node.text === name) found.push(node);
    } else {
      for (const element of node.elements) if (!ts.isOmittedExpression(element)) bound(element.name);
    }
  };
  const declared = (statements: readonly TS.Statement[]): void => {
    for (const s of statements) {
      if (ts.isVariableStatement(s)) for (const d of s.declarationList.declarations) bound(d.name);
      else if (
        ts.isFunctionDeclaration(s) ||
        ts.isClassDeclaration(s) ||
        ts.isEnumDeclaration(s) ||
        ts.isInterfaceDeclaration(s) ||
        ts.isTypeAliasDeclaration(s)
      ) {
        bound(s.name);
      } else if (ts.isModuleDeclaration(s) && ts.isIdentifier(s.name)) bound(s.name);
      else if (ts.isImportEqualsDeclaration(s)) bound(s.name);
      else if (ts.isImportDeclaration(s) && s.importClause) {
        const { name: local, namedBindings } = s.importClause;
        bound(local);
        if (namedBindings && ts.isNamespaceImport(namedBindings)) bound(namedBindings.name);
        else if (namedBindings) for (const element of namedBindings.elements) bound(element.name);
      }
    }
  };
  declared(statement.caseBlock.clauses.flatMap((clause) => [...clause.statements]));
  for (let node: TS.Node = statement.parent; node; node = node.parent) {
    if (ts.isBlock(node) || ts.isSourceFile(node) || ts.isModuleBlock(node)) declared(node.statements);
    else if (ts.isCaseClause(node) || ts.isDefaultClause(node))
      declared(node.parent.clauses.flatMap((c) => [...c.statements]));
    else if (ts.isCatchClause(node)) bound(node.variableDeclaration?.name);
    else if (ts.isFunctionLike(node)) for (const parameter of node.parameters) bound(parameter.name);
    else if (
      (ts.isForStatement(node) || ts.isForInStatement(node) || ts.isForOfStatement(node)) &&
      node.initializer &&
      ts.isVariableDeclarationList(node.initializer)
    ) {
      for (const d of node.initializer.declarations) bound(d.name);
    }
  }
  return found;
}

/** What a clashing declaration is, for the error: `imported from "./envelope.js"`, `declared in Replica.dispatch`. */
function describe(node: TS.Node, method: TS.MethodDeclaration): string {
  for (let at: TS.Node | undefined = node; at; at = at.parent) {
    if (ts.isImportDeclaration(at) && ts.isStringLiteral(at.moduleSpecifier)) {
      return `imported from "${at.moduleSpecifier.text}"`;
    }
    if (at === method) return `declared in ${methodName(method)}`;
  }
  return "declared in the module";
}

/** The text from the start of `pos`'s line to `pos`, when it is all whitespace. */
function indentAt(text: string, pos: number): string | undefined {
  const lineStart = text.lastIndexOf("\n", pos - 1) + 1;
  const before = text.slice(lineStart, pos);
  return /^[ \t]*$/.test(before) ? before : undefined;
}

/** The case of `message`, before the default clause (and the comments above it), indented as the clauses are. */
function caseEdit(
  sourceFile: TS.SourceFile,
  statement: TS.SwitchStatement,
  message: DispatchMessage,
  eol: string,
): Edit {
  const text = sourceFile.text;
  const { clauses } = statement.caseBlock;
  const defaultClause = clauses.find(ts.isDefaultClause)!;
  const clauseIndent = indentAt(text, defaultClause.getStart(sourceFile));
  const indent = clauseIndent ?? lineIndent(text, defaultClause.getStart(sourceFile));
  // The indentation a level adds: from a case's first statement under it, else from the clauses under the switch.
  let step: string | undefined;
  for (const clause of clauses.filter(ts.isCaseClause)) {
    const first = clause.statements[0];
    const outer = indentAt(text, clause.getStart(sourceFile));
    const inner = first && indentAt(text, first.getStart(sourceFile));
    if (outer !== undefined && inner !== undefined) {
      if (inner.length > outer.length && inner.startsWith(outer)) step = inner.slice(outer.length);
      break;
    }
  }
  const switchIndent = indentAt(text, statement.getStart(sourceFile));
  if (step === undefined && switchIndent !== undefined) {
    if (indent.length > switchIndent.length && indent.startsWith(switchIndent))
      step = indent.slice(switchIndent.length);
  }
  step ??= "  ";
  const bodyIndent = indent + step;
  const caseQuote = clauses.find(ts.isCaseClause)?.expression.getText(sourceFile)[0];

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
    return { at: defaultClause.getStart(sourceFile), text: block.slice(indent.length) + eol + indent };
  }
  // Before the comments that lead the default clause, when each starts its own line.
  let at = defaultClause.getStart(sourceFile) - clauseIndent.length;
  const comments = ts.getLeadingCommentRanges(text, defaultClause.getFullStart()) ?? [];
  for (const comment of comments) {
    const commentIndent = indentAt(text, comment.pos);
    if (commentIndent !== undefined) {
      at = comment.pos - commentIndent.length;
      break;
    }
  }
  return { at, text: block + eol };
}

/** The leading whitespace of the line holding `pos`. */
function lineIndent(text: string, pos: number): string {
  const lineStart = text.lastIndexOf("\n", pos - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))![0];
}

/** The handler's import, after the last import from the handlers' folder (else the last import, else on top). */
function importEdit(sourceFile: TS.SourceFile, field: string, handlersImport: string, eol: string): Edit {
  const text = sourceFile.text;
  const folder = handlersImport.slice(0, handlersImport.lastIndexOf("/") + 1);
  const imports = sourceFile.statements.filter(ts.isImportDeclaration);
  const handlers = imports.filter(
    (statement) => ts.isStringLiteral(statement.moduleSpecifier) && statement.moduleSpecifier.text.startsWith(folder),
  );
  const anchor = (folder ? handlers : []).at(-1) ?? imports.at(-1);
  const quoted = anchor?.moduleSpecifier.getText(sourceFile)[0] === "'" ? "'" : '"';
  const line = `import { ${field} } from ${quoted}${handlersImport}${quoted};`;
  if (!anchor) {
    // Above the first statement, below the comments that head the file.
    const first = sourceFile.statements[0];
    const start = first ? first.getStart(sourceFile) : text.length;
    return { at: start - (indentAt(text, start)?.length ?? 0), text: line + eol };
  }
  const newline = text.indexOf("\n", anchor.getEnd());
  // After the anchor's line (and any comment that ends it), or at the end of a file with no line after it.
  return newline === -1 ? { at: text.length, text: eol + line } : { at: newline + 1, text: line + eol };
}
