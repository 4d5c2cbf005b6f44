// Runs a command that commits a change set with support/kill-at-step.ts preloaded: the steps of its
// commit as it made them, and, given a step, the command sent a signal right after it.
import assert from "node:assert/strict";
import { cpSync, existsSync, rmSync } from "node:fs";
import path from "node:path";
import type { TestContext } from "node:test";
import { TRANSACTION_DIR } from "../../src/core/changes.js";
import { spawnChild } from "./child.js";
import { NODE } from "./paths.js";
import { consensus, environment } from "./project.js";

const PRELOAD = new URL("./kill-at-step.js", import.meta.url).href;

/** One file-system change of a commit: `<call> <path>` (the path relative to the root). */
export interface Step {
  call: string;
  path: string;
}

/**
 * Runs `node --import kill-at-step program…` in `cwd`, counting the steps under `root`, sent `signal`
 * (SIGKILL unless given) right after step `killAt` (1-based) if given; resolves with the steps made,
 * how many of them came before the program's listener handled the signal (undefined: not handled),
 * and how it ended.
 */
export async function runToStep(
  [node, ...args]: readonly string[],
  {
    cwd,
    root,
    killAt,
    signal,
    t,
  }: { cwd: string; root: string; killAt?: number; signal?: NodeJS.Signals; t?: TestContext },
): Promise<{
  steps: Step[];
  handledAfter: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}> {
  const child = spawnChild([node!, "--import", PRELOAD, ...args], {
    cwd,
    env: environment({
      NO_COLOR: "1",
      KILL_ROOT: root,
      KILL_AT_STEP: killAt === undefined ? undefined : String(killAt),
      KILL_SIGNAL: signal,
    }),
    stdio: ["ignore", "pipe", "pipe", "pipe"],
    t,
  });
  let listed = "";
  child.process.stdio[3]!.on("data", (chunk: Buffer) => (listed += chunk));
  const ended = await child.result();
  const steps: Step[] = [];
  let handledAfter: number | undefined;
  for (const line of listed.split("\n").filter(Boolean)) {
    if (line === "handled") handledAfter = steps.length;
    else {
      const [, call, path] = /^\d+ (\S+) (.*)$/.exec(line)!;
      steps.push({ call: call!, path: path! });
    }
  }
  return { steps, handledAfter, code: ended.code, signal: ended.signal, stderr: ended.stderr };
}

/**
 * Runs the consensus command `args` in `dir`, a copy of `pristine` (made anew before each run), once
 * whole and then sent `signal` after each step of its commit in turn. `tree` is what is compared.
 *
 * SIGKILL (the default): after each kill the next command (`consensus protobuf --dry-run`) recovers
 * what it left. Before the commit point (the journal's rename into place) the project must be left as
 * it was; from there until the journal is removed, the journal must be left and the next command must
 * undo the commit; after, it must be the whole change.
 *
 * SIGINT (Ctrl-C): the command handles it itself, leaving no journal: exit 130 with the project as it
 * was, or exit 0 with the whole change. Handled before the commit point, the commit must see it (130);
 * handled after the last step, or not before the command exits, it cannot (0).
 *
 * Resolves with how many runs ended each way, and how many Ctrl-Cs were handled inside the commit
 * (after its first step, before its last).
 */
export async function killAtEveryStep(
  bin: string,
  args: readonly string[],
  {
    dir,
    pristine,
    tree,
    signal = "SIGKILL",
    t,
  }: {
    dir: string;
    pristine: string;
    tree: (dir: string) => string;
    signal?: "SIGKILL" | "SIGINT";
    t: TestContext;
  },
): Promise<{ before: number; after: number; undone: number; handledInCommit: number }> {
  const fresh = () => {
    rmSync(dir, { recursive: true, force: true });
    cpSync(pristine, dir, { recursive: true, verbatimSymlinks: true });
  };
  const run = (killAt?: number) => runToStep([NODE, bin, ...args], { cwd: dir, root: dir, killAt, signal, t });
  const journal = path.join(dir, TRANSACTION_DIR, "journal.json");
  fresh();
  const before = tree(dir);
  const { steps, code, stderr } = await run();
  assert.equal(code, 0, stderr);
  const afterward = tree(dir);
  assert.ok(afterward !== before, "the command changed nothing");
  // The commit begins with the folder of its transaction; steps before it are the command's planning.
  const begun = steps.findIndex((step) => step.path === path.dirname(TRANSACTION_DIR)) + 1;
  const commitPoint = steps.findIndex((step) => step.call === "renameSync" && step.path.endsWith("journal.tmp")) + 1;
  const whole = steps.findIndex((step) => step.call === "unlinkSync" && step.path.endsWith("journal.json")) + 1;
  assert.ok(
    0 < begun && begun < commitPoint && commitPoint < whole,
    steps.map((step) => `${step.call} ${step.path}`).join("\n"),
  );

  const stop = signal === "SIGKILL" ? "killed" : "Ctrl-C";
  const outcomes = { before: 0, after: 0, undone: 0, handledInCommit: 0 };
  for (let step = 1; step <= steps.length; step++) {
    fresh();
    const stopped = await run(step);
    let expected: "before" | "after";
    let cut = false;
    if (signal === "SIGKILL") {
      assert.equal(stopped.signal, "SIGKILL", `step ${step}: not killed`);
      cut = existsSync(journal);
      assert.equal(
        cut,
        commitPoint <= step && step < whole,
        `${stop} after step ${step}: the journal ${cut ? "left" : "gone"}`,
      );
      const next = await consensus(["protobuf", "--dry-run"], dir);
      assert.equal(next.code, 0, next.stderr);
      expected = step < commitPoint || cut ? "before" : "after";
    } else {
      const { code, handledAfter } = stopped;
      const landed = `${stop} after step ${step}, handled ${handledAfter === undefined ? "never" : `after step ${handledAfter}`}`;
      assert.ok(code === 130 || code === 0, `${landed}: exit ${code ?? stopped.signal}; ${stopped.stderr}`);
      if (handledAfter !== undefined && handledAfter < commitPoint) assert.equal(code, 130, landed);
      if (handledAfter === undefined || handledAfter >= steps.length) assert.equal(code, 0, landed);
      else if (handledAfter >= begun) outcomes.handledInCommit++;
      expected = code === 130 ? "before" : "after";
    }
    // Not assert.equal: it would print both trees, hundreds of kilobytes.
    assert.ok(
      tree(dir) === (expected === "before" ? before : afterward),
      `${stop} after step ${step}: not ${expected}`,
    );
    assert.equal(existsSync(path.join(dir, ".consensus")), false, `${stop} after step ${step}: .consensus left behind`);
    outcomes[cut ? "undone" : expected]++;
  }
  return outcomes;
}
