// The checker as a library: a project that depends on this package imports
// `create-consensus/check`, in JavaScript and with its types (package.json's
// "exports", the tsc output in dist/src/check).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { NODE, REPO } from "../support/paths.js";
import { tsc } from "../support/project.js";

const exec = promisify(execFile);

describe("create-consensus/check", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "consensus-check-import-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, "node_modules"));
  symlinkSync(REPO, path.join(dir, "node_modules/create-consensus"), "junction");
  writeFileSync(path.join(dir, "package.json"), '{ "name": "user", "private": true, "type": "module" }\n');
  const source = [
    'import { checkHistory, type CheckResult } from "create-consensus/check";',
    "const history = [",
    '  { process: 0, type: "invoke", f: "write", value: 1 },',
    '  { process: 0, type: "ok", f: "write", value: 1 },',
    '  { process: 1, type: "invoke", f: "read", value: null },',
    '  { process: 1, type: "ok", f: "read", value: 2 },',
    "];",
    "const result: CheckResult = await checkHistory(history);",
    "console.log(result.verdict, result.violations[0]?.operations[0]?.invoke.line);",
    "",
  ].join("\n");

  test("imports from a project that depends on the package", async () => {
    // The same program without its types, as JavaScript.
    const js = source.replace(", type CheckResult", "").replace(": CheckResult", "");
    writeFileSync(path.join(dir, "main.js"), js);
    const { stdout } = await exec(NODE, ["main.js"], { cwd: dir });
    assert.equal(stdout, "not linearizable 3\n");
  });

  test("comes with its types", { timeout: 60_000 }, async () => {
    writeFileSync(path.join(dir, "main.ts"), source);
    writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "NodeNext", strict: true, noEmit: true, types: [] },
        files: ["main.ts"],
      }),
    );
    assert.equal(await tsc(dir, ["-p", "."]), "");
  });
});
