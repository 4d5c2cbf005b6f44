// `consensus check` as a user runs it: real files in a temp folder, the real
// bin; its lines, its JSON, its page and its exit codes (0 linearizable, 1 not,
// 2 bad input, 3 unknown).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { DomUtils, parseDocument } from "htmlparser2";
import { parseTimeout } from "../../src/commands/check.js";
import { consensus } from "../support/project.js";
import { BAD_INPUTS } from "./bad-inputs.js";
import { generate, hard, jsonLines, staleRead } from "./histories.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "consensus-check-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  writeFileSync(path.join(dir, name), text);
  return name;
}

const history = (...events: object[]) => jsonLines(events as Record<string, unknown>[]);
const write = (p: number, value: number, type = "ok") => [
  { process: p, type: "invoke", f: "write", key: "x", value },
  { process: p, type, f: "write", key: "x", value },
];
const read = (p: number, value: unknown) => [
  { process: p, type: "invoke", f: "read", key: "x", value: null },
  { process: p, type: "ok", f: "read", key: "x", value },
];

const good = file("good.jsonl", history(...write(0, 1), ...read(1, 1)));
const stale = file("stale.jsonl", history(...write(0, 1), ...write(0, 2), ...read(1, 1)));
const hardest = file("hard.jsonl", jsonLines(hard(40)));

describe("consensus check", () => {
  test("exits 0 when every file is linearizable, with one line each", async () => {
    const big = file(
      "big.jsonl",
      jsonLines(generate({ processes: 10, keys: 8, operations: 2000, info: 0.05, seed: 3 })),
    );
    const run = await consensus(["check", good, big], dir);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^✔ good\.jsonl: linearizable \(2 operations, 1 key, \d+ ms\)$/);
    assert.match(lines[1]!, /^✔ big\.jsonl: linearizable \(1,\d{3} operations, 8 keys, \d+ ms\)$/);
  });

  test("exits 1 when some file is not, naming the key and the operations that cannot be ordered", async () => {
    const run = await consensus(["check", good, stale], dir);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(
      run.stdout.replace(/\d+ ms/g, "N ms"),
      [
        "✔ good.jsonl: linearizable (2 operations, 1 key, N ms)",
        "✖ stale.jsonl: not linearizable (3 operations, 1 key, N ms)",
        '  key "x": read → 1 (process 1, lines 5–6) cannot take effect: after 2 operations the value is 2 from write 2 (process 0, lines 3–4), and nothing else was pending',
        "    read → 1 (process 1, lines 5–6)",
        "",
      ].join("\n"),
    );
  });

  test("exits 3 when --timeout ends the search, naming the key and why, and 1 if another file is not linearizable", async () => {
    const run = await consensus(["check", "--timeout", "0.2", hardest], dir);
    assert.equal(run.code, 3, run.stderr);
    assert.match(
      run.stdout,
      /^\? hard\.jsonl: unknown \(81 operations, 1 key, 1 undecided, \d+ ms\)\n {2}unknown: the register \(81 operations\) undecided after 0\.2 s\n$/,
    );
    assert.equal((await consensus(["check", "--timeout", "0.2", hardest, stale], dir)).code, 1);
  });

  test("exits 3 when a key's search reaches --memory, naming the key and the limit", async () => {
    const run = await consensus(["check", "--memory", "1", hardest], dir);
    assert.equal(run.code, 3, run.stderr);
    assert.match(
      run.stdout,
      /^\? hard\.jsonl: unknown \(81 operations, 1 key, 1 undecided, \d+ ms\)\n {2}unknown: the register \(81 operations\) undecided: search limit reached after [\d,]+ configurations \(1 MB\)\n$/,
    );
    const json = JSON.parse((await consensus(["check", "--json", "--memory", "1", hardest], dir)).stdout);
    assert.match(json.keys[0].reason, /^undecided: search limit reached after [\d,]+ configurations \(1 MB\)$/);
  });

  test("exits 2 on an empty history, and 0 with --allow-empty, saying so", async () => {
    // Blank lines and a fault are no operations.
    const empty = file("empty.jsonl", '\n{"process": "nemesis", "type": "info", "f": "start", "fault": "kill"}\n');
    const refused = await consensus(["check", good, empty], dir);
    assert.deepEqual(
      [refused.code, refused.stdout, refused.stderr],
      [2, "", "error: empty.jsonl: empty history (no operations): give --allow-empty to accept it\n"],
    );
    const allowed = await consensus(["check", "--allow-empty", empty], dir);
    assert.deepEqual(
      [allowed.code, allowed.stdout, allowed.stderr],
      [0, "✔ empty.jsonl: empty history, accepted by --allow-empty\n", ""],
    );
    const json = JSON.parse((await consensus(["check", "--json", "--allow-empty", empty], dir)).stdout);
    assert.deepEqual([json.verdict, json.empty, json.operations], ["linearizable", true, 0]);
  });

  test("--html does not replace a file that is there unless --force", async () => {
    const kept = path.join(dir, "kept.html");
    writeFileSync(kept, "mine");
    const refused = await consensus(["check", stale, "--html", "kept.html"], dir);
    assert.deepEqual(
      [refused.code, refused.stdout, refused.stderr],
      [2, "", "error: kept.html exists: give --force to overwrite it\n"],
    );
    assert.equal(readFileSync(kept, "utf8"), "mine");
    const forced = await consensus(["check", stale, "--html", "kept.html", "--force"], dir);
    assert.equal(forced.code, 1, forced.stderr);
    assert.match(readFileSync(kept, "utf8"), /^<!doctype html>/);
  });

  test("--json prints one JSON line per file", async () => {
    const run = await consensus(["check", "--json", good, stale], dir);
    assert.equal(run.code, 1, run.stderr);
    const [first, second] = run.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      { ...first, ms: 0 },
      {
        file: "good.jsonl",
        verdict: "linearizable",
        operations: 2,
        keys: [{ key: "x", verdict: "linearizable", operations: 2 }],
        violations: [],
        ms: 0,
      },
    );
    assert.equal(second.verdict, "not linearizable");
    assert.deepEqual(second.violations[0].operations, [
      { process: 1, type: "ok", f: "read", key: "x", value: 1, lines: [5, 6] },
    ]);
    assert.equal(second.violations[0].value, 2);
    assert.equal(second.violations[0].linearized, 2);
  });

  test("--html draws the history: a row per process, a bar per operation, the failing ones marked", async () => {
    const events = generate({ processes: 5, keys: 2, operations: 60, info: 0.1, seed: 11 });
    const { events: changed } = staleRead(events);
    const nemesis = [
      { process: "nemesis", type: "info", f: "start", fault: "partition", value: [["r1", "r2"], ["r3"]] },
      { process: "nemesis", type: "info", f: "stop", fault: "partition", value: [["r1", "r2"], ["r3"]] },
    ];
    const drawn = file("drawn.jsonl", jsonLines([nemesis[0]!, ...changed, nemesis[1]!]));
    const run = await consensus(["check", drawn, "--html", "drawn.html"], dir);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /history drawn in drawn\.html\n$/);

    const page = parseDocument(readFileSync(path.join(dir, "drawn.html"), "utf8"));
    /** The elements whose classes pass `test`; only `g` ones (the marks, not the legend) unless `name` says. */
    const all = (test: (classes: string[]) => boolean, name = "g") =>
      DomUtils.findAll(
        (element) => element.name === name && test((element.attribs.class ?? "").split(" ")),
        page.children,
      );
    const processes = new Set(changed.map((event) => event.process));
    const invokes = changed.filter((event) => event.type === "invoke");
    assert.equal(all((c) => c.includes("process"), "text").length, processes.size);
    assert.equal(all((c) => c.includes("op")).length, invokes.length);
    assert.ok(all((c) => c.includes("op") && c.includes("blocked")).length >= 1);
    assert.ok(all((c) => c.includes("op") && c.includes("info")).length >= 1);
    // The fault in the overview of the run and in the detail of its window (here the whole run).
    assert.equal(all((c) => c.includes("nemesis")).length, 2);
    // The data once, and the script that draws it, which compiles as the bundle wrote it.
    const scripts = DomUtils.findAll((element) => element.name === "script", page.children);
    assert.deepEqual(
      scripts.map((element) => element.attribs.type ?? "script"),
      ["application/json", "script"],
    );
    assert.doesNotThrow(() => new Function(DomUtils.textContent(scripts[1]!)));
    assert.equal(JSON.parse(DomUtils.textContent(scripts[0]!)).ops.length, 7 * invokes.length);
  });

  for (const [i, bad] of BAD_INPUTS.entries()) {
    test(`exits 2 on ${bad.name}, naming file:line and the reason`, async () => {
      const name = file(`bad-${i}.jsonl`, bad.lines.join("\n") + "\n");
      const run = await consensus(["check", good, name], dir);
      assert.deepEqual(
        { code: run.code, stdout: run.stdout, stderr: run.stderr },
        { code: 2, stdout: "", stderr: `error: ${name}:${bad.line}: ${bad.reason}\n` },
      );
    });
  }

  for (const bad of ["0", "0.5ms", "-1", "10x", "", "25h", "1e3"]) {
    test(`exits 2 on --timeout ${JSON.stringify(bad)}, in one line`, async () => {
      const run = await consensus(["check", "--timeout", bad, good], dir);
      assert.deepEqual(
        [run.code, run.stdout, run.stderr],
        [2, "", `error: --timeout ${JSON.stringify(bad)} is not a duration from 1ms to 24h (10, 10s, 500ms, 2m)\n`],
      );
    });
  }

  test("--timeout is seconds, or a number with a unit", () => {
    assert.deepEqual(
      ["10", "2.5", "10s", "500ms", "2m", "1h", " 3 s "].map(parseTimeout),
      [10_000, 2500, 10_000, 500, 120_000, 3_600_000, 3000],
    );
  });

  test("exits 2 on a missing file, a bad --timeout or --memory, --html with several files, or no file", async () => {
    const runs = await Promise.all([
      consensus(["check", "missing.jsonl"], dir),
      consensus(["check", "--timeout", "soon", good], dir),
      consensus(["check", "--memory", "0", good], dir),
      consensus(["check", "--html", "x.html", good, stale], dir),
      consensus(["check"], dir),
    ]);
    assert.deepEqual(
      runs.map((run) => [run.code, run.stdout, run.stderr]),
      [
        [2, "", "error: missing.jsonl: no such file\n"],
        [2, "", 'error: --timeout "soon" is not a duration from 1ms to 24h (10, 10s, 500ms, 2m)\n'],
        [2, "", 'error: --memory "0" is not an integer from 1 to 1048576\n'],
        [2, "", "error: --html draws one history; 2 files were given\n"],
        [2, "", "error: missing required argument 'files'\n"],
      ],
    );
  });
});
