import { readFile } from "node:fs/promises";
import path from "node:path";
import { UserError } from "../core/errors.js";
import { findProjectIfAny, type Project } from "../core/project.js";
import {
  type BenchHooks,
  type BenchOptions,
  type BenchRun,
  type Checked,
  checkHistoryFile,
  runBench,
} from "../workbench/bench.js";
import { HistoryFileError } from "../workbench/history.js";
import { renderReport } from "../workbench/report.js";
import { readRun, type Run } from "../workbench/results.js";
import { refuseOverwrite, writePage } from "./page-file.js";

export type BenchCommandOptions = Omit<BenchOptions, "start" | "version"> & {
  /** Where to start looking for consensus.json (needed only for a cluster of the bench's own). */
  cwd: string;
  /** An HTML page of the run to write, if any. */
  report?: string;
  /** Whether the report may replace a file that is there. */
  force?: boolean;
};

/** `consensus bench <load>`: one run, appended to the results file, drawn with --report. */
export async function bench(options: BenchCommandOptions, hooks: BenchHooks = {}): Promise<BenchRun> {
  const { cwd, report, force, ...rest } = options;
  if (report !== undefined) await refuseOverwrite(report, force);
  // A bench of replicas running elsewhere needs no project.
  const project = findProjectIfAny(cwd);
  const run = await runBench(
    {
      ...rest,
      start: project && { command: project.config.start, cwd: project.root },
      version: project ? await projectVersion(project) : "",
    },
    hooks,
  );
  if (report !== undefined) {
    const history = run.checked ?? (await historyOf(options.results, run));
    await writePage(report, renderReport(run, history, messagesOf(options.results, run, report)), force);
  }
  return run;
}

export interface ReportCommandOptions {
  /** The results file (JSON lines). */
  results: string;
  /** The run to draw (default: the file's last). */
  run?: string;
  /** The page to write (default: the results file's name with .html). */
  output?: string;
  /** Whether the page may replace a file that is there. */
  force?: boolean;
}

/** `consensus report [results.jsonl]`: draws a run of a results file as one HTML page; resolves with the page's path and the run. */
export async function report(options: ReportCommandOptions): Promise<{ output: string; run: Run }> {
  const run = await readRun(options.results, options.run);
  const output = options.output ?? options.results.replace(/(\.jsonl?)?$/, ".html");
  if (path.resolve(output) === path.resolve(options.results)) {
    throw new UserError(`the report would overwrite ${options.results}: give --output <file.html>`);
  }
  await refuseOverwrite(output, options.force);
  const history = await historyOf(options.results, run);
  await writePage(output, renderReport(run, history, messagesOf(options.results, run, output)), options.force);
  return { output, run };
}

/** The link from page `report` to the run's messages page (--trace), if it has one. */
function messagesOf(results: string, run: Run, report: string): string | undefined {
  const { messages } = run.client;
  if (messages === undefined) return undefined;
  return path.relative(path.dirname(path.resolve(report)), path.resolve(path.dirname(results), messages));
}

/** A kv run's history, checked, for its report; the file's name when it cannot be read; nothing for other loads. */
async function historyOf(results: string, run: Run): Promise<Checked | { missing: string } | undefined> {
  const { history } = run.client;
  if (history === undefined) return undefined;
  const file = path.resolve(path.dirname(results), history);
  try {
    return await checkHistoryFile(file);
  } catch (error) {
    // A history that is there but is not one is an error; one that is gone only leaves the report without it.
    if (error instanceof HistoryFileError && error.missing) return { missing: history };
    throw error;
  }
}

/** The version in the project's package.json ("" when it has none). */
async function projectVersion(project: Project): Promise<string> {
  try {
    const { version } = JSON.parse(await readFile(path.join(project.root, "package.json"), "utf8")) as {
      version?: unknown;
    };
    return typeof version === "string" ? version : "";
  } catch {
    return "";
  }
}
