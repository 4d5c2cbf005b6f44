// Runs a command that commits a change set with support/kill-at-step.ts preloaded: the steps of its
// commit as it made them, and, given a step, the command killed right after it.
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
 * Runs `node --import kill-at-step program…` in `cwd`, counting the steps under `root`, killed by
 * SIGKILL right after step `killAt` (1-based) if given; resolves with the steps made and how it ended.
 */
export async function runToStep(
  [node, ...args]: readonly string[],
  { cwd, root, killAt, t }: { cwd: string; root: string; killAt?: number; t?: TestContext },
): Promise<{ steps: Step[]; code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawnChild([node!, "--import", PRELOAD, ...args], {
    cwd,
    env: environment({
      NO_COLOR: "1",
      KILL_ROOT: root,
      KILL_AT_STEP: killAt === undefined ? undefined : String(killAt),
    }),
    stdio: ["ignore", "pipe", "pipe", "pipe"],
    t,
  });
  let listed = "";
  child.process.stdio[3]!.on("data", (chunk: Buffer) => (listed += chunk));
  const { code, signal, stderr } = await child.result();
  const steps = listed
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [, call, path] = /^\d+ (\S+) (.*)$/.exec(line)!;
      return { call: call!, path: path! };
    });
  return { steps, code, signal, stderr };
}

/**
 * Runs the consensus command `args` in `dir`, a copy of `pristine` (made anew before each run), once
 * whole and then killed after each step of its commit in turn; after each kill the next command
 * (`consensus protobuf --dry-run`) recovers what it left. Before the commit point (the journal's
 * rename into place) the project must be left as it was; from there until the journal is removed,
 * the journal must be left and the next command must undo the commit; after, it must be the whole
 * change. `tree` is what is compared. Resolves with how many kills ended each way.
 */
export async function killAtEveryStep(
  bin: string,
  args: readonly string[],
  { dir, pristine, tree, t }: { dir: string; pristine: string; tree: (dir: string) => string; t: TestContext },
): Promise<{ before: number; after: number; undone: number }> {
  const fresh = () => {
    rmSync(dir, { recursive: true, force: true });
    cpSync(pristine, dir, { recursive: true, verbatimSymlinks: true });
  };
  const run = (killAt?: number) => runToStep([NODE, bin, ...args], { cwd: dir, root: dir, killAt, t });
  const journal = path.join(dir, TRANSACTION_DIR, "journal.json");
  fresh();
  const before = tree(dir);
  const { steps, code, stderr } = await run();
  assert.equal(code, 0, stderr);
  const afterward = tree(dir);
  assert.ok(afterward !== before, "the command changed nothing");
  const commitPoint = steps.findIndex((step) => step.call === "renameSync" && step.path.endsWith("journal.tmp")) + 1;
  const whole = steps.findIndex((step) => step.call === "unlinkSync" && step.path.endsWith("journal.json")) + 1;
  assert.ok(0 < commitPoint && commitPoint < whole, steps.map((step) => `${step.call} ${step.path}`).join("\n"));

  const outcomes = { before: 0, after: 0, undone: 0 };
  for (let step = 1; step <= steps.length; step++) {
    fresh();
    assert.equal((await run(step)).signal, "SIGKILL", `step ${step}: not killed`);
    const cut = existsSync(journal);
    assert.equal(
      cut,
      commitPoint <= step && step < whole,
      `killed after step ${step}: the journal ${cut ? "left" : "gone"}`,
    );
    const next = await consensus(["protobuf", "--dry-run"], dir);
    assert.equal(next.code, 0, next.stderr);
    const expected = step < commitPoint || cut ? "before" : "after";
    // Not assert.equal: it would print both trees, hundreds of kilobytes.
    assert.ok(tree(dir) === (expected === "before" ? before : afterward), `killed after step ${step}: not ${expected}`);
    assert.equal(existsSync(path.join(dir, ".consensus")), false, `killed after step ${step}: .consensus left behind`);
    outcomes[cut ? "undone" : expected]++;
  }
  return outcomes;
}
