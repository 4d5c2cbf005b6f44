// The checker against an oracle that shares none of its code (oracle.ts): on
// thousands of random small histories, with values written more than once,
// info and never-completed operations, failed ones and a second key, both
// must give the same verdict. A new seed each run; CHECK_SEED=n replays one.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { checkHistory } from "../../src/check/index.js";
import { bruteForce, type RawEvent } from "./oracle.js";

const SEED = Number(process.env.CHECK_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Per history: a few operations decide in microseconds, so one that takes this long is stuck. */
const TIMEOUT = 5_000;

// Few values, so that they repeat: reads can be explained by more than one write.
const scalar = fc.constantFrom<unknown>(null, 0, 1, 2, "a", "");
const operation = fc.oneof(
  fc.record({
    f: fc.constant("read"),
    value: fc.constant(null),
    result: fc.constantFrom(null, 0, 1, 2, "a", "ab", "ba", "b", ""),
  }),
  fc.record({ f: fc.constant("write"), value: scalar }),
  fc.record({ f: fc.constant("cas"), value: fc.tuple(scalar, scalar) }),
  fc.record({ f: fc.constant("append"), value: fc.constantFrom("a", "b") }),
);
const history = fc
  .array(
    fc.record({
      operation,
      key: fc.constantFrom("x", "x", "x", "y"),
      type: fc.constantFrom("ok", "ok", "ok", "info", "fail", "open"),
      process: fc.integer({ min: 0, max: 3 }),
    }),
    { minLength: 1, maxLength: 8 },
  )
  .chain((ops) =>
    // Which process moves at each step: every operation has an invoke and (unless open) a completion.
    fc
      .array(fc.integer({ min: 0, max: 3 }), { minLength: 2 * ops.length, maxLength: 2 * ops.length })
      .map((turns) => ({ ops, turns })),
  )
  .map(({ ops, turns }) => events(ops, turns));

type Drawn = { operation: { f: string; value: unknown; result?: unknown }; key: string; type: string; process: number };

/** The events of `ops`, each process running its own in order, interleaved by `turns`. */
function events(ops: readonly Drawn[], turns: readonly number[]): RawEvent[] {
  const queues = [0, 1, 2, 3].map((p) => ops.filter((op) => op.process === p));
  const out: RawEvent[] = [];
  /** Each process's open operation; a process whose operation stays open never runs again (a fresh name goes on). */
  const running = queues.map(() => undefined as Drawn | undefined);
  const names = [0, 1, 2, 3];
  const step = (p: number) => {
    const op = running[p];
    if (op) {
      const { f, value, result } = op.operation;
      out.push({
        process: names[p],
        type: op.type,
        f,
        key: op.key,
        value: f === "read" ? (op.type === "ok" ? result : null) : value,
      });
      running[p] = undefined;
    } else if (queues[p]!.length > 0) {
      const next = queues[p]!.shift()!;
      out.push({ process: names[p], type: "invoke", f: next.operation.f, key: next.key, value: next.operation.value });
      if (next.type === "open") names[p] += 4;
      else running[p] = next;
    }
  };
  for (const p of turns) step(p);
  // Whatever the turns left: in process order.
  for (const [p] of queues.entries()) while (running[p] || queues[p]!.length > 0) step(p);
  return out;
}

test(`the checker agrees with brute force on random histories of up to 8 operations (seed ${SEED}; CHECK_SEED replays)`, async (t) => {
  const verdicts = { linearizable: 0, "not linearizable": 0, unknown: 0 };
  await fc.assert(
    fc.asyncProperty(history, async (events) => {
      const { verdict } = await checkHistory(events, { timeout: TIMEOUT });
      verdicts[verdict]++;
      if (verdict !== "unknown") assert.equal(verdict === "linearizable", bruteForce(events), JSON.stringify(events));
    }),
    { numRuns: 5000, seed: SEED },
  );
  t.diagnostic(JSON.stringify(verdicts));
  // Histories this small are all decided; and both verdicts must be common, or the comparison shows little.
  assert.equal(verdicts.unknown, 0);
  assert.ok(verdicts.linearizable > 500 && verdicts["not linearizable"] > 500, JSON.stringify(verdicts));
});
