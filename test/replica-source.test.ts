import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import Handlebars from "handlebars";
import ts from "typescript";
import { UserError } from "../src/core/errors.js";
import { messageNames } from "../src/core/names.js";
import { addDispatchCase, type DispatchMessage } from "../src/core/replica-source.js";
import { REPO } from "./support/paths.js";

const FILE = "src/replica.ts";
// The oracle: the replica written as a handlebars template over its message types
// (with none it must be, byte for byte, the blank template's src/replica.ts).
const template = Handlebars.compile(readFileSync(path.join(REPO, "test/fixtures/replica/replica.ts.hbs"), "utf8"), {
  noEscape: true,
  strict: true,
});
const manifest = JSON.parse(readFileSync(path.join(REPO, "templates/epaxos/template.json"), "utf8")) as {
  messages: { name: string; reply?: boolean }[];
};

type Message = DispatchMessage & { readonly prefix: string; readonly module: string };

/** A message as the scaffold hands it to templates. */
function message(name: string, reply = true, module = "epaxos"): Message {
  return { ...messageNames(name), module, reply };
}

const EPAXOS = manifest.messages.map((m) => message(m.name, m.reply ?? true));

/** replica.ts as the template renders it with `messages`. */
function render(messages: readonly Message[]): string {
  return template({ messages });
}

function add(source: string, m: DispatchMessage): string {
  return addDispatchCase(source, FILE, m, `./handlers/${m.file}.js`);
}

/** `file:line:column` of the first `needle` in `source` (after `after`), as errors give it. */
function at(source: string, needle: string, after = ""): string {
  const offset = source.indexOf(needle, source.indexOf(after));
  assert.ok(offset >= 0, needle);
  const lines = source.slice(0, offset).split("\n");
  return `${FILE}:${lines.length}:${lines.at(-1)!.length + 1}`;
}

function refusal(expected: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof UserError, String(error));
    assert.equal(error.message, expected);
    return true;
  };
}

/** The source with each line's leading two-space steps replaced by `step`. */
function reindent(source: string, step: string): string {
  return source.replace(/^(?: {2})+/gm, (spaces) => step.repeat(spaces.length / 2));
}

const crlf = (source: string) => source.replace(/\n/g, "\r\n");

function assertParses(source: string): void {
  const sourceFile = ts.createSourceFile(FILE, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const diagnostics = (sourceFile as unknown as { parseDiagnostics: ts.Diagnostic[] }).parseDiagnostics;
  assert.deepEqual(
    diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")),
    [],
  );
}

describe("addDispatchCase", () => {
  const blank = render([]);
  const epaxos = render(EPAXOS);

  it("has an oracle that renders the blank template's replica when there are no message types", () => {
    assert.equal(blank, readFileSync(path.join(REPO, "templates/blank/src/replica.ts"), "utf8"));
  });

  it("turns the blank replica into the epaxos one, byte for byte, a message at a time", () => {
    assert.deepEqual(
      EPAXOS.map((m) => [m.prefix, m.reply]),
      [
        ["Prepare", true],
        ["Accept", true],
        ["Commit", false],
        ["TryPreAccept", true],
        ["PreAccept", true],
      ],
    );
    assert.equal(EPAXOS.reduce(add, blank), epaxos);
    assertParses(epaxos);
  });

  it("adds one message as the template renders it", () => {
    for (const m of [...EPAXOS, message("Heartbeat", false, "raft"), message("append_entries", true, "raft")]) {
      assert.equal(add(blank, m), render([m]), m.prefix);
    }
  });

  it("follows the render of every prefix of the epaxos messages", () => {
    for (let n = 0; n < EPAXOS.length; n++) {
      assert.equal(add(render(EPAXOS.slice(0, n)), EPAXOS[n]!), render(EPAXOS.slice(0, n + 1)));
    }
  });

  it("is idempotent", () => {
    for (const m of EPAXOS) {
      const once = add(blank, m);
      assert.equal(add(once, m), once);
      assert.equal(add(epaxos, m), epaxos);
    }
    assert.equal(add(blank, message("Beacon")), blank);
  });

  it("adds only what is missing: the import, or the case", () => {
    const accept = message("Accept");
    const importLine = 'import { accept } from "./handlers/accept.js";\n';
    assert.ok(epaxos.includes(importLine));
    // A missing import goes after the last handler import, as it would for a new message.
    const preAcceptLine = 'import { preAccept } from "./handlers/pre-accept.js";\n';
    assert.equal(
      add(epaxos.replace(importLine, ""), accept),
      epaxos.replace(importLine, "").replace(preAcceptLine, preAcceptLine + importLine),
    );
    const lastMessage = EPAXOS.at(-1)!;
    assert.equal(add(epaxos.replace(preAcceptLine, ""), lastMessage), epaxos);

    const expected = render([accept]);
    const withImport = blank.replace(
      'import { beacon } from "./handlers/beacon.js";\n',
      `import { beacon } from "./handlers/beacon.js";\n${importLine}`,
    );
    assert.notEqual(withImport, blank);
    assert.equal(add(withImport, accept), expected);

    const caseText = [
      '        case "accept":',
      "          return this.reply(this.expect(request, Type.ACCEPT), {",
      '            $case: "accept",',
      "            value: await accept(message.value, context),",
      "          });",
      "",
    ].join("\n");
    assert.ok(expected.includes(caseText));
    assert.equal(add(expected.replace(caseText, ""), accept), expected);
  });

  it("keeps CRLF line endings", () => {
    const result = EPAXOS.reduce(add, crlf(blank));
    assert.equal(result, crlf(epaxos));
    assert.doesNotMatch(result, /[^\r]\n/);
  });

  it("indents as the file does", () => {
    for (const step of ["    ", "\t"]) {
      assert.equal(EPAXOS.reduce(add, reindent(blank, step)), reindent(epaxos, step), JSON.stringify(step));
    }
  });

  it("puts the case above the comments that lead the default clause", () => {
    const comment = "        // Anything else is a bug.\n";
    const withComment = (source: string) => source.replace(/^( +default: \{)$/m, `${comment}$1`);
    const commit = message("Commit", false);
    assert.equal(add(withComment(blank), commit), withComment(render([commit])));
  });

  it("imports after the last import when none is from the handlers' folder", () => {
    const source = blank.replace('import { beacon } from "./handlers/beacon.js";\n', "");
    const expected = render([message("Accept")]).replace('import { beacon } from "./handlers/beacon.js";\n', "");
    const result = add(source, message("Accept"));
    // After ./status.js, the last import.
    assert.equal(
      result,
      expected
        .replace('import { accept } from "./handlers/accept.js";\n', "")
        .replace(
          'import { Code, StatusError, toStatusError } from "./status.js";\n',
          'import { Code, StatusError, toStatusError } from "./status.js";\nimport { accept } from "./handlers/accept.js";\n',
        ),
    );
    assertParses(result);
  });

  describe("refuses", () => {
    const accept = message("Accept");
    const byHand = 'add the case for "accept" (and its import) by hand';
    const noSwitch = `${FILE}: no Dispatch switch found (a switch on the message's $case in Replica.dispatch, with a default clause); ${byHand}`;

    it("a replica without the Dispatch switch", () => {
      const start = blank.indexOf("      switch ($case) {");
      const end = blank.indexOf("    } catch (error) {");
      assert.ok(start > 0 && end > start);
      const removed = blank.slice(0, start) + blank.slice(end);
      assertParses(removed);
      assert.throws(() => add(removed, accept), refusal(noSwitch));
    });

    it("a switch with no default clause, or not on $case", () => {
      const noDefault = blank.replace(/^ {8}default: \{\n.*\n.*\n {8}\}\n/m, "");
      assert.notEqual(noDefault, blank);
      assert.throws(() => add(noDefault, accept), refusal(noSwitch));
      const onType = blank.replace("switch ($case) {", "switch (request.sender) {");
      assert.notEqual(onType, blank);
      assert.throws(() => add(onType, accept), refusal(noSwitch));
    });

    it("a replica that does not parse, at the first syntax error", () => {
      const broken = blank.replace("switch ($case) {", "switch ($case {");
      assert.notEqual(broken, blank);
      assert.throws(
        () => add(broken, accept),
        refusal(`${at(broken, "{", "switch ($case")}: Expected \`)\` but found \`{\`; fix the syntax, or ${byHand}`),
      );
    });

    it("a replica without a dispatch method", () => {
      const renamed = blank.replace("async dispatch(", "async handle(");
      assert.notEqual(renamed, blank);
      assert.throws(
        () => add(renamed, accept),
        refusal(
          `${FILE}: no dispatch method found (a method dispatch in a class, holding the switch on the message's $case); ${byHand}`,
        ),
      );
    });

    it("a handler name bound to something else", () => {
      const rename = "rename that one, or give the message another name";
      const cases: [Message, string, string][] = [
        [
          message("TypeName"),
          `${at(blank, "typeName")}: the handler name typeName clashes with the typeName imported from "./envelope.js"`,
          blank,
        ],
        [
          message("Context"),
          `${at(blank, "context:", "async dispatch(")}: the handler name context clashes with the context declared in Replica.dispatch`,
          blank,
        ],
        [
          message("Request"),
          `${at(blank, "request:", "async dispatch(")}: the handler name request clashes with the request declared in Replica.dispatch`,
          blank,
        ],
        [
          message("Message"),
          `${at(blank, "message }", "async dispatch(")}: the handler name message clashes with the message declared in Replica.dispatch`,
          blank,
        ],
        [
          accept,
          `${FILE}:${blank.split("\n").length}:10: the handler name accept clashes with the accept declared in the module`,
          `${blank}function accept(): void {}\n`,
        ],
      ];
      for (const [m, expected, source] of cases) {
        assert.throws(() => add(source, m), refusal(`${expected}; ${rename}`), m.prefix);
      }
      // A type-only import of the handler does not bind the function either.
      const typeOnly = blank.replace(
        'import { beacon } from "./handlers/beacon.js";\n',
        'import { beacon } from "./handlers/beacon.js";\nimport type { accept } from "./handlers/accept.js";\n',
      );
      assert.throws(
        () => add(typeOnly, accept),
        refusal(
          `${at(typeOnly, "accept }")}: the handler name accept clashes with the accept imported from "./handlers/accept.js"; ${rename}`,
        ),
      );
    });
  });
});
