// The replicas' traces merged into one: each send matched with its receipt at
// the peer, the earliest first among alike messages, a send never received lost.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseTrace } from "../../src/check/index.js";
import { mergeTraces } from "../../src/workbench/trace.js";

const line = (event: object) => JSON.stringify(event) + "\n";

describe("mergeTraces", () => {
  test("matches each send with its receipt, alike messages in order, and leaves a lost one without", () => {
    const beacon = { type: "BEACON", fields: { timestamp: "" } };
    const r1 = [
      line({ time: 100, replica: "r1", event: "send", peer: "r2", ...beacon }),
      line({ time: 110, replica: "r1", event: "send", peer: "r2", ...beacon }),
      line({ time: 120, replica: "r1", event: "send", peer: "r3", ...beacon }),
      line({ time: 160, replica: "r1", event: "receive", peer: "r2", ...beacon, reply: true }),
    ].join("");
    const r2 = [
      line({ time: 130, replica: "r2", event: "receive", peer: "r1", ...beacon }),
      line({ time: 140, replica: "r2", event: "send", peer: "r1", ...beacon, reply: true }),
      line({ time: 150, replica: "r2", event: "receive", peer: "r1", ...beacon }),
    ].join("");
    const merged = parseTrace(
      mergeTraces([
        { file: "r1.jsonl", text: r1 },
        { file: "r2.jsonl", text: r2 },
      ]),
    );
    assert.deepEqual(
      merged.map((m) => [m.from, m.to, m.send, m.receive, m.reply]),
      [
        ["r1", "r2", 100, 130, false],
        ["r1", "r2", 110, 150, false],
        ["r1", "r3", 120, undefined, false],
        ["r2", "r1", 140, 160, true],
      ],
    );
  });

  test("names a bad line with its file", () => {
    assert.throws(
      () => mergeTraces([{ file: "r1.jsonl", text: "{}\n" }]),
      /^UserError: r1\.jsonl:1: not a line of a replica's --trace$/,
    );
    assert.throws(() => mergeTraces([{ file: "r2.jsonl", text: "\n{" }]), /^UserError: r2\.jsonl:2: not JSON$/);
  });
});
