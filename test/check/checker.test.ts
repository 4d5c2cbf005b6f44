// The checker on the classic small histories, each answer worked out by hand
// in its comment, then on generated ones: a history made by running the store
// is linearizable, and stays decided when one read is made impossible.
import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import fc from "fast-check";
import {
  byKey,
  checkHistory,
  type CheckResult,
  type Operation,
  parseHistory,
  register,
  search,
} from "../../src/check/index.js";
import { generate, hard, neverWrittenRead, staleRead } from "./histories.js";

type F = "read" | "write" | "cas" | "append";

/** An event of process `p` on key "x" (or `key`). */
const event =
  (type: string) =>
  (p: number, f: F, value: unknown = null, key: string | null = "x"): object => ({
    process: p,
    type,
    f,
    value,
    ...(key !== null && { key }),
  });
const invoke = event("invoke");
const ok = event("ok");
const info = event("info");
const fail = event("fail");

async function verdict(events: object[]): Promise<CheckResult["verdict"]> {
  return (await checkHistory(events)).verdict;
}

describe("the classic histories", () => {
  test("a read that misses a write completed before it was invoked is not linearizable", async () => {
    // write 1 < write 2 < read in real time, so the read must see 2.
    const events = [
      invoke(0, "write", 1),
      ok(0, "write", 1),
      invoke(0, "write", 2),
      ok(0, "write", 2),
      invoke(1, "read"),
      ok(1, "read", 1),
    ];
    const result = await checkHistory(events);
    assert.equal(result.verdict, "not linearizable");
    const [violation] = result.violations;
    assert.equal(violation!.key, "x");
    assert.equal(violation!.value, 2);
    assert.deepEqual(
      violation!.operations.map((op) => [op.f, op.value, op.invoke.line]),
      [["read", 1, 5]],
    );
    assert.deepEqual(
      violation!.linearized.map((op) => op.value),
      [1, 2],
    );
    assert.equal(
      violation!.message,
      'key "x": read → 1 (process 1, lines 5–6) cannot take effect: after 2 operations the value is 2 ' +
        "from write 2 (process 0, lines 3–4), and nothing else was pending",
    );
  });

  test("two concurrent writes that two readers see in opposite orders are not linearizable", async () => {
    // Reader 2 sees 1 then 2: write 1 before write 2. Reader 3 sees 2 then 1: the other way round.
    const events = [
      invoke(0, "write", 1),
      invoke(1, "write", 2),
      invoke(2, "read"),
      invoke(3, "read"),
      ok(2, "read", 1),
      ok(3, "read", 2),
      invoke(2, "read"),
      invoke(3, "read"),
      ok(2, "read", 2),
      ok(3, "read", 1),
      ok(0, "write", 1),
      ok(1, "write", 2),
    ];
    assert.equal(await verdict(events), "not linearizable");
    // One reader alone is explained by write 1, read 1, write 2, read 2.
    assert.equal(await verdict(events.filter((e) => (e as { process: number }).process !== 3)), "linearizable");
  });

  test("two overlapping writes may take effect in either order", async () => {
    const writes = [invoke(0, "write", 1), invoke(1, "write", 2), ok(0, "write", 1), ok(1, "write", 2)];
    for (const last of [1, 2]) {
      assert.equal(
        await verdict([...writes, invoke(2, "read"), ok(2, "read", last)]),
        "linearizable",
        `read → ${last}`,
      );
    }
    // But not both: once a later read saw one, the next cannot see the other.
    const both = [...writes, invoke(2, "read"), ok(2, "read", 1), invoke(2, "read"), ok(2, "read", 2)];
    assert.equal(await verdict(both), "not linearizable");
  });

  test("a cas that succeeds on a value nobody wrote is not linearizable", async () => {
    const events = [invoke(0, "write", 1), ok(0, "write", 1), invoke(1, "cas", [5, 6]), ok(1, "cas", [5, 6])];
    assert.equal(await verdict(events), "not linearizable");
    const matching = [invoke(0, "write", 1), ok(0, "write", 1), invoke(1, "cas", [1, 6]), ok(1, "cas", [1, 6])];
    assert.equal(await verdict([...matching, invoke(2, "read"), ok(2, "read", 6)]), "linearizable");
    // A cas that failed did not happen: the read sees 1.
    const failed = [invoke(0, "write", 1), ok(0, "write", 1), invoke(1, "cas", [1, 6]), fail(1, "cas", [1, 6])];
    assert.equal(await verdict([...failed, invoke(2, "read"), ok(2, "read", 1)]), "linearizable");
    assert.equal(await verdict([...failed, invoke(2, "read"), ok(2, "read", 6)]), "not linearizable");
  });

  test("an info write may take effect after it completes: a later read sees it", async () => {
    const events = [
      invoke(0, "write", 1),
      info(0, "write", 1),
      invoke(1, "read"),
      ok(1, "read", null),
      invoke(1, "read"),
      ok(1, "read", 1),
    ];
    assert.equal(await verdict(events), "linearizable");
    // Never completed is the same as info.
    assert.equal(await verdict(events.slice(0, 1).concat(events.slice(2))), "linearizable");
  });

  test("an info write cannot take effect before its invoke", async () => {
    const events = [invoke(1, "read"), ok(1, "read", 1), invoke(0, "write", 1), info(0, "write", 1)];
    const result = await checkHistory(events);
    assert.equal(result.verdict, "not linearizable");
    assert.match(
      result.violations[0]!.message,
      /read → 1 \(process 1, lines 1–2\) cannot take effect: the value is null \(never written\)/,
    );
  });

  test("an info write may never take effect, and once seen stays", async () => {
    const never = [invoke(0, "write", 1), info(0, "write", 1), invoke(1, "read"), ok(1, "read", null)];
    assert.equal(await verdict(never), "linearizable");
    // Seen, then unseen: a value cannot come back when nothing wrote it again.
    const back = [...never.slice(0, 2), invoke(1, "read"), ok(1, "read", 1), invoke(1, "read"), ok(1, "read", null)];
    assert.equal(await verdict(back), "not linearizable");
  });

  test("an info cas takes effect only where it finds its expected value", async () => {
    const events = [invoke(0, "write", 1), ok(0, "write", 1), invoke(1, "cas", [1, 2]), info(1, "cas", [1, 2])];
    assert.equal(await verdict([...events, invoke(2, "read"), ok(2, "read", 2)]), "linearizable");
    assert.equal(await verdict([...events, invoke(2, "read"), ok(2, "read", 1)]), "linearizable");
    const other = [invoke(0, "write", 3), ok(0, "write", 3), invoke(1, "cas", [1, 2]), info(1, "cas", [1, 2])];
    assert.equal(await verdict([...other, invoke(2, "read"), ok(2, "read", 2)]), "not linearizable");
  });

  test("a failed write did not happen: reading its value is not linearizable", async () => {
    const events = [invoke(0, "write", 1), fail(0, "write", 1), invoke(1, "read"), ok(1, "read", 1)];
    const result = await checkHistory(events);
    assert.equal(result.verdict, "not linearizable");
    assert.equal(result.operations, 1, "the failed write is not counted");
  });

  test("appends add to a string; a key never written counts as the empty string", async () => {
    const appends = [invoke(0, "append", "a"), invoke(1, "append", "b"), ok(0, "append", "a"), ok(1, "append", "b")];
    const read = (value: unknown) => [invoke(2, "read"), ok(2, "read", value)];
    assert.equal(await verdict([invoke(2, "read"), ok(2, "read", null), ...appends, ...read("ab")]), "linearizable");
    assert.equal(await verdict([...appends, ...read("ba")]), "linearizable");
    assert.equal(await verdict([...appends, ...read("a")]), "not linearizable", "both completed");
    assert.equal(await verdict([...appends, ...read("abab")]), "not linearizable", "each appended once");
    const unsure = [invoke(1, "append", "b"), ok(1, "append", "b"), invoke(0, "append", "a"), info(0, "append", "a")];
    assert.equal(await verdict([...unsure, ...read("b")]), "linearizable", "the info append never happened");
    assert.equal(await verdict([...unsure, ...read("ba")]), "linearizable", "it did");
    assert.equal(await verdict([...unsure, ...read("ab")]), "not linearizable", "it was invoked after b completed");
    const overwritten = [invoke(0, "write", 5), ok(0, "write", 5), invoke(1, "append", "a"), ok(1, "append", "a")];
    assert.equal(await verdict(overwritten), "not linearizable", "a number cannot be appended to");
  });

  test("keys are checked independently, and a violation names its key", async () => {
    // As one register, read x → 1 after write y 2 would be stale; as two keys each is fine.
    const events = [
      invoke(0, "write", 1, "x"),
      ok(0, "write", 1, "x"),
      invoke(0, "write", 2, "y"),
      ok(0, "write", 2, "y"),
      invoke(1, "read", null, "x"),
      ok(1, "read", 1, "x"),
    ];
    assert.equal(await verdict(events), "linearizable");
    const single = events.map((e) => ({ ...e, key: undefined }));
    const result = await checkHistory(single);
    assert.equal(result.verdict, "not linearizable");
    assert.match(result.violations[0]!.message, /^the register: read → 1/);

    const wrongY = [...events, invoke(1, "read", null, "y"), ok(1, "read", 3, "y")];
    const checked = await checkHistory(wrongY);
    assert.deepEqual(
      checked.keys.map((k) => [k.key, k.verdict, k.operations]),
      [
        ["x", "linearizable", 2],
        ["y", "not linearizable", 2],
      ],
    );
    assert.deepEqual(
      checked.violations.map((v) => v.key),
      ["y"],
    );
  });

  test("the first key refuted ends the search: the keys after it are unknown, saying why", async () => {
    const bad = (key: string) => [
      invoke(0, "write", 1, key),
      ok(0, "write", 1, key),
      invoke(1, "read", null, key),
      ok(1, "read", 2, key),
    ];
    // Smallest keys first: "y" (2 operations) is searched, refuted, and "x" (4) is not.
    const result = await checkHistory([...bad("x"), ...bad("x"), invoke(2, "read", null, "y"), ok(2, "read", 3, "y")]);
    assert.equal(result.verdict, "not linearizable");
    assert.deepEqual(
      result.keys.map((k) => [k.key, k.verdict, k.reason]),
      [
        ["x", "unknown", 'left undecided: key "y" is not linearizable'],
        ["y", "not linearizable", undefined],
      ],
    );
    assert.deepEqual(
      result.violations.map((v) => v.key),
      ["y"],
    );
  });

  test("keys are searched in turns: a key quick to refute ends the check while a larger one is still searched", async () => {
    // The register (81 operations) takes minutes; key "y" (91) is refuted within its first turn.
    const writes = Array.from({ length: 90 }, (_, i) => [invoke(90, "write", i, "y"), ok(90, "write", i, "y")]).flat();
    const result = await checkHistory([...hard(40), ...writes, invoke(91, "read", null, "y"), ok(91, "read", 3, "y")]);
    assert.equal(result.verdict, "not linearizable");
    assert.deepEqual(
      result.keys.map((k) => [k.key, k.verdict, k.reason]),
      [
        [null, "unknown", 'left undecided: key "y" is not linearizable'],
        ["y", "not linearizable", undefined],
      ],
    );
  });

  test("a value written twice: a read of it is explained by whichever write fits", async () => {
    // write 1 < write 2 < read → 1: only the second write of 1, concurrent with the read, explains it.
    const before = [invoke(0, "write", 1), ok(0, "write", 1), invoke(1, "write", 2), ok(1, "write", 2)];
    const second = (type: typeof ok) => [invoke(3, "write", 1), type(3, "write", 1)];
    const read = [invoke(2, "read"), ok(2, "read", 1)];
    assert.equal(await verdict([...before, read[0]!, ...second(ok), read[1]!]), "linearizable");
    // The second write of 1 invoked after the read returned: only the first is left, and write 2 came after it.
    assert.equal(await verdict([...before, ...read, ...second(ok)]), "not linearizable");
    // An info second write may have taken effect before the read; a failed one did not.
    assert.equal(await verdict([...before, ...second(info), ...read]), "linearizable");
    assert.equal(await verdict([...before, ...second(fail), ...read]), "not linearizable");
  });

  test("a value written twice, expected by two cas: each cas needs a write of its own", async () => {
    // write 1, cas 1→2, cas 1→3: the second cas finds 2, unless the other write of 1 comes between.
    const cas = (p: number, to: number) => [invoke(p, "cas", [1, to]), ok(p, "cas", [1, to])];
    const first = [invoke(0, "write", 1), ok(0, "write", 1), ...cas(1, 2)];
    assert.equal(await verdict([...first, ...cas(2, 3)]), "not linearizable");
    assert.equal(await verdict([...first, invoke(3, "write", 1), ...cas(2, 3), ok(3, "write", 1)]), "linearizable");
  });

  test('values compare by value and type: 1 is not "1"', async () => {
    const events = [invoke(0, "write", 1), ok(0, "write", 1), invoke(1, "read"), ok(1, "read", "1")];
    assert.equal(await verdict(events), "not linearizable");
  });
});

describe("the witness", () => {
  test("names the operations pending where the longest order ends", async () => {
    // After write 1, both pending reads expect values nobody can give.
    const events = [
      invoke(0, "write", 1),
      ok(0, "write", 1),
      invoke(1, "read"),
      invoke(2, "read"),
      ok(1, "read", 7),
      ok(2, "read", 8),
    ];
    const [violation] = (await checkHistory(events)).violations;
    assert.deepEqual(
      violation!.operations.map((op) => [op.process, op.value]),
      [
        [1, 7],
        [2, 8],
      ],
    );
    assert.match(violation!.message, /the other operation pending cannot take effect either$/);
  });
});

describe("limits, time and abort", () => {
  test("a search that reaches its memory limit is unknown, says so, and kept within it", async () => {
    const memory = 2 ** 20;
    const result = await checkHistory(hard(200), { memory });
    assert.equal(result.verdict, "unknown");
    const reason = result.keys[0]!.reason!;
    assert.match(reason, /^undecided: search limit reached after [\d,]+ configurations \(1 MB\)$/);
    // A configuration takes 24 bytes (hash, state, place of its words, two table slots) and 8 for
    // each word of its set that is not zero (an index and the word): of 401 operations, 13 at most.
    const least = 24;
    const most = 24 + 8 * 13;
    const configurations = Number(/after ([\d,]+)/.exec(reason)![1]!.replaceAll(",", ""));
    assert.ok(configurations * least <= memory, `${configurations} configurations`);
    // Doubling leaves at most half of the budget unused.
    assert.ok(configurations * most >= memory / 4, `${configurations} configurations`);
  });

  test("states count against the limit: distinct strings stop the search before they fill memory", () => {
    // The plain register on 24 concurrent appends of 1,000 characters: every order of every subset is a state.
    const n = 24;
    const value = (i: number) => String(i).padEnd(1000, ".");
    const events = [
      ...Array.from({ length: n }, (_, i) => invoke(i, "append", value(i))),
      ...Array.from({ length: n }, (_, i) => ok(i, "append", value(i))),
      invoke(n, "read"),
      ok(n, "read", "never"),
    ];
    const ops = parseHistory(events).operations;
    const timed = ops.map((op) => ({ op, call: op.invoke.index, return: op.complete!.index }));
    const memory = 2 ** 20;
    const outcome = search(timed, register, { memory });
    assert.ok(outcome.linearizable === "unknown");
    // Each configuration here has a state of its own (the string tells the order), of 2,000 bytes or more.
    const configurations = Number(/after ([\d,]+)/.exec(outcome.reason)![1]!.replaceAll(",", ""));
    assert.ok(configurations * 2000 <= memory, `${configurations} configurations`);
  });

  test("a search that runs out of time is unknown, and returns soon after the timeout", async () => {
    const started = performance.now();
    const result = await checkHistory(hard(40), { timeout: 100 });
    const took = performance.now() - started;
    assert.equal(result.verdict, "unknown");
    assert.deepEqual(result.violations, []);
    // Stopped by the timeout, not by memory or an end of the search; how soon after it depends on the
    // machine's load, so the bound only tells a stop from a search left running to its end.
    assert.deepEqual(
      result.keys.map((key) => key.reason),
      ["undecided after 0.1 s"],
    );
    assert.ok(took < 30_000, `${took} ms`);
    // A small one decides.
    assert.equal((await checkHistory(hard(8), { timeout: 10_000 })).verdict, "not linearizable");
  });

  test("a violation on one key decides the history even when another key is unknown", async () => {
    const events = [...hard(40), invoke(99, "read", null, "y"), ok(99, "read", 5, "y")];
    const result = await checkHistory(events, { timeout: 100 });
    assert.equal(result.verdict, "not linearizable");
    assert.deepEqual(
      result.keys.map((k) => k.verdict),
      ["unknown", "not linearizable"],
    );
  });

  test("an aborted signal stops the check with its reason", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stopped")), 50);
    await assert.rejects(checkHistory(hard(40), { signal: controller.signal }), /stopped/);
  });
});

describe("the search on its own", () => {
  test("takes no append that strays from the longest string read, so concurrent appends are decided at once", async () => {
    // 40 concurrent appends and one read of all: without the rule, every order of them is a state.
    const n = 40;
    const appends = [
      ...Array.from({ length: n }, (_, i) => invoke(i, "append", `${i} `)),
      ...Array.from({ length: n }, (_, i) => ok(i, "append", `${i} `)),
    ];
    const all = Array.from({ length: n }, (_, i) => `${n - 1 - i} `).join("");
    const memory = 2 ** 20;
    const result = await checkHistory([...appends, invoke(n, "read"), ok(n, "read", all)], { memory });
    assert.equal(result.verdict, "linearizable");
    // One left out is not: every append completed before the read.
    const missing = all.replace("7 ", "");
    assert.equal(
      (await checkHistory([...appends, invoke(n, "read"), ok(n, "read", missing)], { memory })).verdict,
      "not linearizable",
    );
  });

  test("tries concurrent operations that leave the value as it is in one order only", async () => {
    // 40 concurrent appends that nothing reads, then a write: every subset of them would be a configuration.
    const n = 40;
    const events = [
      ...Array.from({ length: n }, (_, i) => invoke(i, "append", `${i} `)),
      ...Array.from({ length: n }, (_, i) => ok(i, "append", `${i} `)),
      invoke(n, "write", "x "),
      ok(n, "write", "x "),
      invoke(n, "read"),
      ok(n, "read", "x "),
    ];
    const memory = 2 ** 20;
    assert.equal((await checkHistory(events, { memory })).verdict, "linearizable");
    events[events.length - 1] = ok(n, "read", "x 7 ");
    assert.equal((await checkHistory(events, { memory })).verdict, "not linearizable");
    // Likewise 40 concurrent reads of 1 and one of 2, where 1 was written last: refuted at once.
    const reads = [
      invoke(0, "write", 1),
      ok(0, "write", 1),
      ...Array.from({ length: n }, (_, i) => invoke(i + 1, "read")),
      ...Array.from({ length: n }, (_, i) => ok(i + 1, "read", i === n - 1 ? 2 : 1)),
    ];
    assert.equal((await checkHistory(reads, { memory })).verdict, "not linearizable");
  });

  /** Operations of one register, each `[f, value, type, call, return]`: the search's outcome with `register`, and with its step alone. */
  const searched = (list: [F, unknown, string, number, number][]) => {
    const timed = list.map(([f, value, type, call, ret]) => ({
      op: { f, value, type } as Operation,
      call,
      return: ret,
    }));
    return [search(timed, register), search(timed, { init: register.init, step: register.step })] as const;
  };

  test("applies an info operation only where the next operation observes what it leaves", () => {
    const history: [F, unknown, string, number, number][] = [
      ["write", 1, "ok", 0, 1],
      ["write", 2, "info", 2, Infinity],
      ["write", 5, "ok", 3, 4],
      // Only the info write of 2 explains the cas: after write 5, and observed by the cas at once.
      ["cas", [2, 3], "ok", 5, 6],
      ["read", 3, "ok", 7, 8],
      ["cas", [3, 4], "info", 9, Infinity],
      ["read", 4, "ok", 10, 11],
    ];
    const [found, plain] = searched(history);
    assert.deepEqual(found, { linearizable: true, order: [0, 2, 1, 3, 4, 5, 6] });
    assert.equal(plain.linearizable, true);
    // Another read of 2 after them: the one write of 2 went to the cas.
    const again = searched([...history, ["read", 2, "ok", 12, 13]]);
    assert.deepEqual(
      again.map((o) => o.linearizable),
      [false, false],
    );
    // An info write, then a write that replaces it, then a read of the first: the info write goes after.
    const late = searched([
      ["write", 2, "info", 0, Infinity],
      ["write", 5, "ok", 1, 2],
      ["read", 2, "ok", 3, 4],
    ]);
    assert.deepEqual(late[0], { linearizable: true, order: [1, 0, 2] });
    assert.equal(late[1].linearizable, true);
  });

  test("takes an append after an info append: it carries the info append's string on", async () => {
    // No write is blind here: an append keeps what was there, so the info append may be followed by one.
    for (const [type, read] of [
      ["ok", "ab"],
      ["info", "ab"],
    ] as const) {
      const [found, plain] = searched([
        ["append", "a", "info", 0, Infinity],
        ["append", "b", type, 1, type === "ok" ? 2 : Infinity],
        ["read", read, "ok", 3, 4],
      ]);
      assert.deepEqual(found, { linearizable: true, order: [0, 1, 2] });
      assert.equal(plain.linearizable, true);
    }
    const events = [invoke(0, "append", "a"), info(0, "append", "a"), invoke(1, "append", "b"), ok(1, "append", "b")];
    assert.equal(await verdict([...events, invoke(2, "read"), ok(2, "read", "ab")]), "linearizable");
    assert.equal(await verdict([...events, invoke(2, "read"), ok(2, "read", "b")]), "linearizable");
    assert.equal(await verdict([...events, invoke(2, "read"), ok(2, "read", "ba")]), "linearizable");
    assert.equal(await verdict([...events, invoke(2, "read"), ok(2, "read", "a")]), "not linearizable");
  });

  test("applies info operations that do the same in the order of their calls, each where it is needed", async () => {
    // Two info writes of 2, then 1 and 2 read twice in turn: each read of 2 needs a write of its own.
    const writes = [invoke(1, "write", 2), invoke(2, "write", 2), info(1, "write", 2), info(2, "write", 2)];
    const turn = [invoke(0, "write", 1), ok(0, "write", 1), invoke(3, "read"), ok(3, "read", 2)];
    assert.equal(await verdict([...writes, ...turn, ...turn]), "linearizable");
    assert.equal(await verdict([...writes, ...turn, ...turn, ...turn]), "not linearizable");
    // The later-invoked one after the first read of 2: still there for the second.
    const later = [invoke(1, "write", 2), info(1, "write", 2), ...turn, invoke(2, "write", 2), info(2, "write", 2)];
    assert.equal(await verdict([...later, ...turn]), "linearizable");
    assert.equal(await verdict([...writes.slice(0, 1), writes[2]!, ...turn, ...turn]), "not linearizable");
  });

  test("gives a linearization of the operations it can order", () => {
    const ops = [
      { f: "write", value: 1, type: "ok" },
      { f: "read", value: 1, type: "ok" },
    ] as Operation[];
    const outcome = search(
      [
        { op: ops[0]!, call: 0, return: 3 },
        { op: ops[1]!, call: 1, return: 2 },
      ],
      register,
    );
    assert.deepEqual(outcome, { linearizable: true, order: [0, 1] });
  });
});

describe("generated histories", () => {
  // Random seeds, printed, so that each run tries new histories and a failure replays (CHECK_SEED=…).
  const SEED = Number(process.env.CHECK_SEED ?? Math.floor(Math.random() * 2 ** 31));
  /**
   * Every search here is bounded by what it may cache: the same seed, the same
   * answers. The timeout is a backstop, so that no history can hold the run.
   */
  const LIMITS = { memory: 16 * 2 ** 20, timeout: 10_000 };
  /** The share of histories a property lets the search leave unknown within LIMITS. */
  const UNKNOWN_SHARE = 0.01;

  const shape = fc.record({
    processes: fc.integer({ min: 1, max: 20 }),
    keys: fc.integer({ min: 1, max: 3 }),
    operations: fc.integer({ min: 1, max: 200 }),
    info: fc.double({ min: 0, max: 0.3, noNaN: true }),
    duplicates: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.5, noNaN: true })),
    seed: fc.integer(),
  });
  // A register; appends alone; and a kv store, whose writes and appends are strings (as in Porcupine's kv tests).
  const mixes = fc.constantFrom(
    { read: 5, write: 4, cas: 2 },
    { read: 1, append: 1 },
    { read: 4, write: 1, append: 4 },
  );

  /**
   * Runs `property` on `runs` generated cases; it answers the verdict it got.
   * Fails on a wrong verdict, and when more than UNKNOWN_SHARE are unknown.
   */
  async function decides<T>(
    t: TestContext,
    arbitrary: fc.Arbitrary<T>,
    runs: number,
    property: (value: T) => Promise<CheckResult["verdict"] | "skip">,
  ): Promise<void> {
    t.diagnostic(`seed ${SEED} (CHECK_SEED=${SEED} replays it)`);
    const unknown: T[] = [];
    let decided = 0;
    await fc.assert(
      fc.asyncProperty(arbitrary, async (value) => {
        const verdict = await property(value);
        if (verdict === "unknown") unknown.push(value);
        else if (verdict !== "skip") decided++;
      }),
      { numRuns: runs, seed: SEED },
    );
    t.diagnostic(`${decided} decided, ${unknown.length} unknown`);
    for (const value of unknown) t.diagnostic(`unknown: ${JSON.stringify(value)}`);
    assert.ok(
      unknown.length <= UNKNOWN_SHARE * (decided + unknown.length),
      `seed ${SEED}: ${unknown.length} of ${decided + unknown.length} unknown within ${LIMITS.memory / 2 ** 20} MB or ${LIMITS.timeout / 1000} s`,
    );
  }

  test("made by running the store under random concurrency, are linearizable", async (t) => {
    await decides(t, fc.tuple(shape, mixes), 1000, async ([s, mix]) => {
      const result = await checkHistory(generate({ ...s, mix }), LIMITS);
      assert.notEqual(result.verdict, "not linearizable", result.violations[0]?.message);
      return result.verdict;
    });
  });

  test("with one read made to return a value never written, are not", async (t) => {
    await decides(t, fc.tuple(shape, mixes), 300, async ([s, mix]) => {
      const events = generate({ ...s, mix });
      if (!events.some((e) => e.type === "ok" && e.f === "read")) return "skip";
      const { events: changed, index } = neverWrittenRead(events);
      const result = await checkHistory(changed, LIMITS);
      assert.notEqual(result.verdict, "linearizable");
      // Only the changed read's key is not.
      if (result.verdict === "not linearizable") {
        assert.deepEqual(
          result.violations.map((v) => v.key),
          [changed[index]!.key],
        );
      }
      return result.verdict;
    });
  });

  test("with one read made stale, are not", async (t) => {
    await decides(t, shape, 200, async (s) => {
      const events = generate({ ...s, operations: s.operations + 40 });
      let changed: object[];
      try {
        changed = staleRead(events).events;
      } catch {
        return "skip";
      }
      const result = await checkHistory(changed, LIMITS);
      assert.notEqual(result.verdict, "linearizable");
      return result.verdict;
    });
  });

  test("get the verdict of the plain search, which takes nothing eagerly and leaves every info operation open", async (t) => {
    const plain = { init: register.init, step: register.step };
    const cases = fc.tuple(
      shape.map((s) => ({ ...s, operations: Math.min(s.operations, 24) })),
      mixes,
      fc.nat(),
      fc.nat(),
    );
    await decides(t, cases, 500, async ([s, mix, which, value]) => {
      const events = generate({ ...s, mix });
      // One read changed to some value, written or not: some histories stay linearizable, some do not.
      const reads = events.flatMap((e, i) => (e.type === "ok" && e.f === "read" ? [i] : []));
      if (reads.length > 0) {
        const i = reads[which % reads.length]!;
        const written = events.filter((e) => e.type === "invoke" && e.f !== "read").map((e) => e.value);
        const values = [null, ...written.flat(), 0, "1 2 "];
        events[i] = { ...events[i], value: values[value % values.length] };
      }
      const history = parseHistory(events);
      const ops = history.operations.filter((op) => op.type !== "fail");
      const outcomes = [...byKey(ops).values()].map(
        (list) =>
          search(
            list.map((op) => ({
              op,
              call: op.invoke.index,
              return: op.type === "ok" ? op.complete!.index : Infinity,
            })),
            plain,
            { memory: LIMITS.memory },
          ).linearizable,
      );
      const result = await checkHistory(history, LIMITS);
      // Where the plain search cannot decide, there is nothing to compare with.
      if (outcomes.includes(false)) assert.notEqual(result.verdict, "linearizable");
      else if (outcomes.includes("unknown")) return "skip";
      else assert.notEqual(result.verdict, "not linearizable");
      return result.verdict;
    });
  });

  test("of 10,000 operations of 50 processes are decided either way, within the default limit", async () => {
    const events = generate({ processes: 50, keys: 8, operations: 10_000, info: 0.05, seed: 7 });
    assert.equal((await checkHistory(events)).verdict, "linearizable");
    assert.equal((await checkHistory(staleRead(events).events)).verdict, "not linearizable");
  });
});
