// src/workbench/nemesis.ts: the fault names, the seeded schedule (replayable,
// never taking down more than a minority, one fault at a time) and the runner
// against a fake cluster on mocked timers, so that no test sleeps.
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { UserError } from "../../src/core/errors.js";
import {
  describeEvent,
  type Episode,
  type Fault,
  Nemesis,
  type NemesisEvent,
  type NemesisTarget,
  parseFaults,
  parseSeed,
  randomSeed,
  schedule,
  type ScheduleOptions,
} from "../../src/workbench/nemesis.js";

const ALL: Fault[] = ["kill", "pause", "partition", "delay"];
const REPLICAS = ["r1", "r2", "r3", "r4", "r5"];

function take<T>(iterable: Iterable<T>, count: number): T[] {
  const taken: T[] = [];
  for (const item of iterable) {
    if (taken.length === count) break;
    taken.push(item);
  }
  return taken;
}

/** Asserts that `run` throws a UserError of one line matching `message`. */
function assertUserError(run: () => unknown, message: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof UserError, `${String(error)} is not a UserError`);
    assert.match(error.message, message);
    assert.ok(!error.message.includes("\n"), `${JSON.stringify(error.message)} is more than one line`);
    return true;
  });
}

test("parseFaults reads the names in order and refuses an unknown or repeated one, naming the valid ones", () => {
  assert.deepEqual(parseFaults("kill,partition"), ["kill", "partition"]);
  assert.deepEqual(parseFaults(" delay , pause,kill,partition"), ["delay", "pause", "kill", "partition"]);
  assertUserError(
    () => parseFaults("kill,crash"),
    /unknown fault "crash" \(the faults are kill, pause, partition, delay\)/,
  );
  assertUserError(() => parseFaults(""), /unknown fault ""/);
  assertUserError(() => parseFaults("kill,,delay"), /unknown fault ""/);
  assertUserError(() => parseFaults("pause,kill,pause"), /pause is named twice/);
});

test("a seed is a 32-bit unsigned integer", () => {
  assert.equal(parseSeed("42"), 42);
  assert.equal(parseSeed("0"), 0);
  assert.equal(parseSeed("4294967295"), 4294967295);
  for (const text of ["-1", "1.5", "1e3", "abc", "", "4294967296"]) {
    assertUserError(() => parseSeed(text), /a seed is an integer from 0 to 4294967295/);
  }
  for (let i = 0; i < 100; i++) {
    const seed = randomSeed();
    assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32, `${seed}`);
  }
});

test("the same seed, faults, replicas and interval give the same schedule; another seed another one", () => {
  const options: ScheduleOptions = { seed: 1234, faults: ALL, replicas: REPLICAS, interval: 10 };
  const first = take(schedule(options), 100);
  assert.deepEqual(take(schedule({ ...options }), 100), first);
  // The order the faults are named in does not matter.
  assert.deepEqual(take(schedule({ ...options, faults: ["delay", "partition", "pause", "kill"] }), 100), first);
  const schedules = [1235, 0, 1, 2 ** 32 - 1].map((seed) => JSON.stringify(take(schedule({ ...options, seed }), 100)));
  assert.equal(new Set([JSON.stringify(first), ...schedules]).size, 5);
  assert.notDeepEqual(take(schedule({ ...options, interval: 11 }), 100), first);
  assert.notDeepEqual(take(schedule({ ...options, replicas: ["a", "b", "c", "d", "e"] }), 100), first);
});

test("a schedule is lazy and endless", () => {
  const episodes = take(schedule({ seed: 7, faults: ["delay"], replicas: ["r1"], interval: 0.001 }), 100_000);
  assert.equal(episodes.length, 100_000);
  assert.ok(episodes.every((episode, i) => episode.start === i + 1 && episode.end === i + 2));
});

/** Replicas down (killed, paused or cut off from the majority) at each moment, checked over the whole episode list. */
function maxDown(episodes: readonly Episode[]): number {
  const changes = episodes.flatMap((episode) => {
    const down =
      episode.fault === "kill" || episode.fault === "pause"
        ? 1
        : episode.fault === "partition"
          ? Math.min(...episode.value.map((side) => side.length))
          : 0;
    return [
      { time: episode.start, down },
      { time: episode.end, down: -down },
    ];
  });
  // At equal times an end comes before a start: the fault ending is undone before the next begins.
  changes.sort((a, b) => a.time - b.time || a.down - b.down);
  let down = 0;
  let max = 0;
  for (const change of changes) max = Math.max(max, (down += change.down));
  return max;
}

test("a schedule keeps a majority up and connected, one fault at a time, each within its interval", () => {
  for (const count of [3, 4, 5, 7]) {
    const replicas = REPLICAS.concat(["r6", "r7"]).slice(0, count);
    const minority = Math.floor((count - 1) / 2);
    for (const interval of [0.004, 1, 2.5, 10]) {
      for (let seed = 0; seed < 25; seed++) {
        const episodes = take(schedule({ seed, faults: ALL, replicas, interval }), 100);
        const ms = Math.round(interval * 1000);
        const label = `${count} replicas, ${interval} s, seed ${seed}`;
        assert.deepEqual(new Set(episodes.map((episode) => episode.fault)), new Set(ALL), label);
        assert.ok(maxDown(episodes) <= minority, label);
        for (const [i, episode] of episodes.entries()) {
          const { fault, value, start, end } = episode;
          assert.ok(
            start >= (i + 1) * ms && start < end && end <= (i + 2) * ms,
            `${label}: ${JSON.stringify(episode)}`,
          );
          if (i > 0) assert.ok(episodes[i - 1]!.end <= start, `${label}: two faults at once`);
          if (fault === "kill" || fault === "pause") assert.ok(replicas.includes(value), label);
          if (fault === "delay") assert.ok(value >= 50 && value <= 500 && value % 10 === 0, `${label}: ${value}`);
          if (fault === "partition") {
            const [majority, minoritySide] = value as [string[], string[]];
            assert.equal(value.length, 2, label);
            assert.ok(majority.length > count / 2 && minoritySide.length >= 1, `${label}: ${JSON.stringify(value)}`);
            // Each side in replica order, together every replica once.
            assert.deepEqual([...majority, ...minoritySide].sort(), [...replicas].sort(), label);
            for (const side of value)
              assert.deepEqual(
                side,
                [...side].sort((a, b) => replicas.indexOf(a) - replicas.indexOf(b)),
              );
          }
        }
      }
    }
  }
});

test("a partition of five replicas isolates one or cuts off two", () => {
  const sizes = new Set(
    take(schedule({ seed: 3, faults: ["partition"], replicas: REPLICAS, interval: 1 }), 100).map(
      (episode) => (episode.value as string[][])[1]!.length,
    ),
  );
  assert.deepEqual(sizes, new Set([1, 2]));
});

test("a fault that cannot leave a majority up is refused, as are a bad seed and interval", () => {
  const options: ScheduleOptions = { seed: 1, faults: ["kill"], replicas: ["r1", "r2"], interval: 1 };
  assertUserError(() => schedule(options), /--nemesis kill needs at least 3 replicas.*there are 2/);
  assertUserError(
    () => schedule({ ...options, faults: ["delay", "pause"] }),
    /--nemesis pause needs at least 3 replicas/,
  );
  assertUserError(
    () => schedule({ ...options, faults: ["partition"], replicas: ["r1"] }),
    /partition needs at least 2/,
  );
  const [split] = take(schedule({ ...options, faults: ["partition"] }), 1);
  assert.deepEqual(new Set((split!.value as string[][]).flat()), new Set(["r1", "r2"]));
  assert.equal(take(schedule({ ...options, faults: ["delay"], replicas: ["r1"] }), 1).length, 1);
  for (const seed of [-1, 1.5, 2 ** 32]) assertUserError(() => schedule({ ...options, seed }), /--seed/);
  for (const interval of [0, -1, NaN, Infinity]) {
    assertUserError(() => schedule({ ...options, faults: ["delay"], interval }), /--nemesis-interval/);
  }
});

/** A cluster that logs what is done to it, with `now()`; kill and restart take 3 ms. */
function fakeTarget(now: () => number, failOn?: string) {
  const calls: string[] = [];
  const log = (call: string) => {
    calls.push(`${now()} ${call}`);
    if (call === failOn) throw new Error(`${call} failed`);
  };
  const slow = (call: string) =>
    new Promise<void>((resolve, reject) =>
      setTimeout(() => {
        try {
          log(call);
          resolve();
        } catch (error) {
          reject(error as Error);
        }
      }, 3),
    );
  const target: NemesisTarget = {
    kill: (name) => slow(`kill ${name}`),
    restart: (name) => slow(`restart ${name}`),
    pause: (name) => log(`pause ${name}`),
    resume: (name) => log(`resume ${name}`),
    partition: (sides) => log(`partition ${sides.map((side) => side.join(" ")).join(" | ")}`),
    heal: () => log("heal"),
    delay: (ms) => log(`delay ${ms}`),
  };
  return { target, calls };
}

/** Mocked setTimeout and Date from `start`; `advance` moves time 1 ms at a time, letting promises settle in between. */
function mockClock(t: TestContext, start: number) {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: start });
  return {
    now: () => Date.now(),
    async advance(ms: number) {
      const settle = () => new Promise((resolve) => setImmediate(resolve));
      // Settles first, so that what was just set off (a stop()) sees the time it was set off at.
      await settle();
      for (let i = 0; i < ms; i++) {
        t.mock.timers.tick(1);
        await settle();
      }
    },
  };
}

function nemesis(t: TestContext, episodes: Iterable<Episode>, failOn?: string) {
  const clock = mockClock(t, 1000);
  const { target, calls } = fakeTarget(clock.now, failOn);
  const events: NemesisEvent[] = [];
  const runner = new Nemesis({ schedule: episodes, target, record: (event) => events.push(event), now: clock.now });
  return { runner, calls, events, lines: () => events.map((event) => `${event.time} ${describeEvent(event)}`), clock };
}

test("the runner applies each fault at its time, undoes it at its end, and records both", async (t) => {
  const { runner, calls, lines, events, clock } = nemesis(t, [
    { fault: "kill", value: "r2", start: 10, end: 20 },
    { fault: "partition", value: [["r1", "r3"], ["r2"]], start: 30, end: 40 },
    { fault: "pause", value: "r1", start: 50, end: 60 },
    { fault: "delay", value: 200, start: 70, end: 80 },
  ]);
  runner.start();
  await clock.advance(100);
  // kill and restart take 3 ms: a start is recorded before the fault is applied, its stop once it is undone.
  assert.deepEqual(calls, [
    "1013 kill r2",
    "1023 restart r2",
    "1030 partition r1 r3 | r2",
    "1040 heal",
    "1050 pause r1",
    "1060 resume r1",
    "1070 delay 200",
    "1080 delay 0",
  ]);
  assert.deepEqual(lines(), [
    "1010 nemesis: kill r2",
    "1023 nemesis: restart r2",
    "1030 nemesis: partition r1 r3 | r2",
    "1040 nemesis: heal r1 r3 | r2",
    "1050 nemesis: pause r1",
    "1060 nemesis: resume r1",
    "1070 nemesis: delay 200 ms",
    "1080 nemesis: remove delay 200 ms",
  ]);
  assert.deepEqual(events[2], {
    process: "nemesis",
    type: "info",
    f: "start",
    fault: "partition",
    value: [["r1", "r3"], ["r2"]],
    time: 1030,
  });
  await runner.stop();
});

test("stop() ends the active fault and starts no other", async (t) => {
  const { runner, calls, lines, clock } = nemesis(t, [
    { fault: "kill", value: "r3", start: 10, end: 1000 },
    { fault: "pause", value: "r1", start: 1100, end: 1200 },
  ]);
  runner.start();
  await clock.advance(50);
  const stopped = runner.stop();
  await clock.advance(3);
  await stopped;
  await clock.advance(2000);
  assert.deepEqual(calls, ["1013 kill r3", "1053 restart r3"]);
  assert.deepEqual(lines(), ["1010 nemesis: kill r3", "1053 nemesis: restart r3"]);
});

test("stop() while a fault is being applied undoes it once applied", async (t) => {
  const { runner, calls, clock } = nemesis(t, [{ fault: "kill", value: "r1", start: 10, end: 1000 }]);
  runner.start();
  await clock.advance(11);
  const stopped = runner.stop();
  await clock.advance(10);
  await stopped;
  assert.deepEqual(calls, ["1013 kill r1", "1016 restart r1"]);
});

test("stop() before the first fault leaves the cluster alone", async (t) => {
  const { runner, calls, events, clock } = nemesis(t, [
    { fault: "partition", value: [["r1", "r2"], ["r3"]], start: 10, end: 20 },
  ]);
  runner.start();
  await clock.advance(5);
  await runner.stop();
  await clock.advance(100);
  assert.deepEqual(calls, []);
  assert.deepEqual(events, []);
  assert.throws(() => runner.start(), /already started/);
});

test("a fault that fails is still undone, and the nemesis stops and says why", async (t) => {
  const { runner, calls, lines, clock } = nemesis(
    t,
    [
      { fault: "partition", value: [["r1", "r2"], ["r3"]], start: 10, end: 20 },
      { fault: "pause", value: "r1", start: 30, end: 40 },
    ],
    "partition r1 r2 | r3",
  );
  runner.start();
  await clock.advance(100);
  assert.equal((await runner.failed).message, "partition r1 r2 | r3 failed");
  assert.deepEqual(calls, ["1010 partition r1 r2 | r3", "1010 heal"]);
  assert.deepEqual(lines(), ["1010 nemesis: partition r1 r2 | r3", "1010 nemesis: heal r1 r2 | r3"]);
  await runner.stop();
});

test("against a seeded schedule, every start is followed by its own stop before the next start", async (t) => {
  const { runner, events, calls, clock } = nemesis(
    t,
    schedule({ seed: 99, faults: ALL, replicas: ["r1", "r2", "r3"], interval: 0.1 }),
  );
  runner.start();
  await clock.advance(3000);
  const stopped = runner.stop();
  await clock.advance(3);
  await stopped;
  assert.ok(events.length >= 2 * 25, `${events.length} events`);
  assert.ok(events.every((event, i) => i === 0 || events[i - 1]!.time <= event.time));
  for (let i = 0; i < events.length; i += 2) {
    const [start, stop] = [events[i]!, events[i + 1]!];
    assert.equal(start.f, "start");
    assert.deepEqual({ ...stop, f: "start", time: 0 }, { ...start, time: 0 });
  }
  // Whatever the target was left with is undone: the last call ends a fault.
  assert.match(calls.at(-1)!, / (restart r\d|resume r\d|heal|delay 0)$/);
});
