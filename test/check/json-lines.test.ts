// The one JSON-lines reader behind histories, traces and results files.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { jsonLines } from "../../src/check/json-lines.js";
import { readRun } from "../../src/workbench/results.js";

const notJson = (line: number) => new Error(`line ${line}: not JSON`);

test("jsonLines: each value with its 1-based line, blank and whitespace-only lines skipped, CRLF and a missing last newline read", () => {
  const text = '{"a":1}\n\n  \n[2]\r\n"three"\n4';
  assert.deepEqual(
    [...jsonLines(text, notJson)],
    [
      { line: 1, value: { a: 1 } },
      { line: 4, value: [2] },
      { line: 5, value: "three" },
      { line: 6, value: 4 },
    ],
  );
  assert.deepEqual([...jsonLines("", notJson)], []);
});

test("jsonLines: throws the caller's error naming the first line that is not JSON, after yielding the lines before it", () => {
  const seen: number[] = [];
  assert.throws(
    () => {
      for (const { line } of jsonLines('1\n{"open":\n3\n', notJson)) seen.push(line);
    },
    { message: "line 2: not JSON" },
  );
  assert.deepEqual(seen, [1]);
});

test("a results file with a line that is not JSON is refused with its file and line", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "json-lines-"));
  try {
    const file = path.join(dir, "bad.jsonl");
    writeFileSync(file, '{"metric":"client","run":"a"}\n\n{"metric":\n');
    await assert.rejects(readRun(file), { name: "UserError", message: `${file}:3: not a JSON line` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
