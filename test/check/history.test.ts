// Parsing a history: operations paired by process, lines kept, and each kind
// of bad input refused at its line with a one-line reason.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HistoryError, parseHistory } from "../../src/check/index.js";
import { BAD_INPUTS } from "./bad-inputs.js";

const line = (event: object) => JSON.stringify(event);

describe("parseHistory", () => {
  test("pairs each invoke with its process's next event, and keeps lines, positions and times", () => {
    const text = [
      line({ process: 0, type: "invoke", f: "write", key: "x", value: 4, time: 10 }),
      line({ process: "c1", type: "invoke", f: "read", key: "x", value: null, time: 11 }),
      "",
      line({ process: "nemesis", type: "info", f: "start", fault: "kill", value: "r2", time: 12 }),
      line({ process: 0, type: "ok", f: "write", key: "x", value: 4, time: 13, latency: 3 }),
      line({ process: "c1", type: "ok", f: "read", key: "x", value: 4, time: 14, replica: "r1" }),
      line({ process: 2, type: "invoke", f: "cas", value: [4, 5], time: 15 }),
      line({ process: 2, type: "fail", f: "cas", value: [4, 5], time: 16 }),
      line({ process: 3, type: "invoke", f: "append", key: 7, value: "ab", time: 17 }),
    ].join("\r\n");
    const history = parseHistory(text);
    assert.equal(history.events, 8);
    assert.equal(history.timed, true);
    assert.deepEqual(history.nemesis, [{ index: 2, line: 4, time: 12, f: "start", fault: "kill", value: "r2" }]);
    const [write, read, cas, append] = history.operations;
    assert.deepEqual(write, {
      id: 0,
      process: 0,
      key: "x",
      type: "ok",
      f: "write",
      value: 4,
      invoke: { index: 0, line: 1, time: 10 },
      complete: { index: 3, line: 5, time: 13 },
    });
    assert.deepEqual([read!.process, read!.value, read!.invoke.line, read!.complete?.line], ["c1", 4, 2, 6]);
    assert.deepEqual([cas!.key, cas!.type, cas!.value], [null, "fail", [4, 5]]);
    // Never completed: info.
    assert.deepEqual([append!.key, append!.type, append!.complete], [7, "info", undefined]);
  });

  test("takes events already parsed, numbering them from 1", () => {
    const history = parseHistory([
      { process: 1, type: "invoke", f: "read" },
      { process: 1, type: "info", f: "read" },
    ]);
    assert.equal(history.timed, false);
    assert.deepEqual(history.operations[0]!.complete, { index: 1, line: 2 });
    assert.throws(() => parseHistory([{ process: 1, type: "ok", f: "read", value: 1 }]), { line: 1 });
  });

  for (const { name, lines, line: at, reason } of BAD_INPUTS) {
    test(`refuses ${name} at its line`, () => {
      assert.throws(
        () => parseHistory(lines.join("\n")),
        (error: unknown) => {
          assert.ok(error instanceof HistoryError);
          assert.deepEqual([error.line, error.reason, error.message], [at, reason, `line ${at}: ${reason}`]);
          return true;
        },
      );
    });
  }
});
