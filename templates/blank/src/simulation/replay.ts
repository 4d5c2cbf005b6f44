// Running a simulation test over many seeds, and replaying the one that
// failed: `SIMULATION_SEED=17 npm test` runs seed 17 alone, and
// `SIMULATION_RUNS=1000 npm test` tries more seeds than the test asks for.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AssertionError } from "node:assert";
import { parseHistory, parseTrace, renderHistory, renderMessages, type TraceRecorder } from "create-consensus/check";
import type { HistoryEvent } from "./client.js";
import { type FaultKind, HurtWatch } from "./faults.js";
import type { SimulationResult } from "./simulation.js";

/** The seeds to run: SIMULATION_SEED alone when set, else 1 … SIMULATION_RUNS (default `count`). */
export function seeds(count: number, env: NodeJS.ProcessEnv = process.env): number[] {
  const seed = env.SIMULATION_SEED?.trim();
  if (seed) return [integer("SIMULATION_SEED", seed)];
  const runs = env.SIMULATION_RUNS?.trim() ? integer("SIMULATION_RUNS", env.SIMULATION_RUNS) : count;
  return Array.from({ length: runs }, (_, i) => i + 1);
}

function integer(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name}=${text} is not an integer`);
  return value;
}

/**
 * Throws an AssertionError unless the run's history is linearizable and every
 * operation completed. The message names the seed, how to replay it, and the
 * files it wrote: the history, a page that draws it with what cannot be
 * ordered (the page `npx consensus check --html` draws), and, when the result
 * has its trace, the run's messages and a page that draws them.
 */
export function assertLinearizable(
  result: Pick<SimulationResult, "seed" | "history" | "check" | "finished" | "time"> & { trace?: TraceRecorder },
): void {
  const { seed, check } = result;
  const problems: string[] = [];
  if (check.verdict === "not linearizable") {
    problems.push("the history is not linearizable:", ...check.violations.map((v) => `  ${v.message}`));
  } else if (check.verdict === "unknown") {
    problems.push("the checker could not decide whether the history is linearizable (raise its timeout)");
  }
  if (!result.finished) problems.push(`operations were still open at the limit (${result.time} virtual ms)`);
  if (problems.length === 0) return;
  const folder = mkdtempSync(path.join(tmpdir(), `simulation-seed-${seed}-`));
  const file = path.join(folder, "history.jsonl");
  writeFileSync(file, result.history);
  const page = path.join(folder, "history.html");
  const history = parseHistory(result.history);
  writeFileSync(page, renderHistory(history, check, `seed ${seed}`));
  const lines = [
    `seed ${seed}: ${problems.join("\n")}`,
    `replay it: SIMULATION_SEED=${seed} npm test`,
    `history: ${file} (drawn in ${page}; check it again with npx consensus check ${file})`,
  ];
  if (result.trace !== undefined) {
    const trace = path.join(folder, "messages.jsonl");
    const text = result.trace.text();
    writeFileSync(trace, text);
    const diagram = path.join(folder, "messages.html");
    writeFileSync(diagram, renderMessages(parseTrace(text), history, `seed ${seed}: messages`, check));
    const { sent, kept } = result.trace.size;
    lines.push(`messages: ${diagram} (${kept < sent ? `the last ${kept} of ${sent}` : `all ${sent}`}, in ${trace})`);
  }
  throw new AssertionError({ message: lines.join("\n") });
}

/**
 * Throws an AssertionError unless the run was hurt: each of `kinds` was
 * injected, and some operation failed or ended indeterminate while a fault
 * was on. A run that no fault reached proves nothing about faults.
 */
export function assertHurt(result: Pick<SimulationResult, "seed" | "history">, kinds: readonly FaultKind[]): void {
  const watch = new HurtWatch();
  for (const line of result.history.split("\n")) {
    if (line === "") continue;
    const event = JSON.parse(line) as HistoryEvent & { time: number };
    watch.observe(event, event.time);
  }
  const problems: string[] = [];
  const missing = kinds.filter((kind) => !watch.injected.has(kind));
  if (missing.length > 0) problems.push(`no ${missing.join(", ")} fault was injected`);
  if (!watch.hurt) problems.push("no operation failed or was indeterminate during a fault");
  if (problems.length === 0) return;
  throw new AssertionError({
    message: [
      `seed ${result.seed}: the run was not hurt: ${problems.join("; ")}`,
      `replay it: SIMULATION_SEED=${result.seed} npm test`,
    ].join("\n"),
  });
}
