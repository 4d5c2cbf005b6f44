import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEFAULT_TS_PROTO_OPTIONS, tsProtoParameter } from "../../src/core/project.js";
import { walk } from "../../src/core/walk.js";
import { type ChildOptions, spawnChild } from "./child.js";
import { bufBinary, CANONICAL_PROTOS, CONSENSUS_BIN, NODE, REPO, TS_PROTO_PLUGIN } from "./paths.js";

/** A temp folder holding a project: consensus.json (with `config`) and a copy of the canonical protos. */
export function tempProject(config: object = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "consensus-test-"));
  cpSync(CANONICAL_PROTOS, path.join(dir, "proto"), { recursive: true });
  writeFileSync(path.join(dir, "consensus.json"), `${JSON.stringify(config, null, 2)}\n`);
  return dir;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a bin of this package with `args` in `cwd`, as a user would (NO_COLOR unless `env` unsets it),
 * with `node`: NODE by default, or another Node and the flags it takes before the bin. Bounded
 * (support/child.ts): a command still running after `bounds.timeout` ms, or when `bounds.t` ends, is
 * stopped and the call rejects, saying what it printed last.
 */
export async function runBin(
  bin: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
  [node, ...flags]: string[] = [NODE],
  bounds: Pick<ChildOptions, "t" | "timeout"> = {},
): Promise<Run> {
  const child = spawnChild([node!, ...flags, bin, ...args], {
    cwd,
    env: environment({ NO_COLOR: "1", ...env }),
    ...bounds,
  });
  const { code, stdout, stderr } = await child.result();
  // A process killed by a signal did not exit 0.
  return { code: code ?? 1, stdout, stderr };
}

/**
 * This process's environment with `changes` applied; an undefined value removes a variable. An
 * inherited FORCE_COLOR is dropped: whether output is coloured is each test's to say. So is what
 * the npm running the tests sets for its scripts (its prefix, for one, puts its own Node first
 * on the PATH of a nested `npm exec`): what the tests run sees the environment of a shell.
 * NODE's folder comes first on PATH, so npm, the scripts it runs and the `node` in them are that Node.
 */
export function environment(changes: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const PATH = [path.dirname(NODE), process.env.PATH].join(path.delimiter);
  const inherited = Object.entries(process.env).filter(([name]) => !/^(npm_.*|NODE|INIT_CWD|COLOR)$/.test(name));
  const merged = { ...Object.fromEntries(inherited), PATH, FORCE_COLOR: undefined, ...changes };
  return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined));
}

export const consensus = (args: string[], cwd: string, env?: NodeJS.ProcessEnv) =>
  runBin(CONSENSUS_BIN, args, cwd, env);

/**
 * Writes a buf.gen.yaml in `dir` that runs ts-proto as a local plugin with the
 * default options, into `out`, and returns the command that runs it.
 */
export function bufGenerate(dir: string, out: string): { file: string; args: string[] } {
  const opts = tsProtoParameter(DEFAULT_TS_PROTO_OPTIONS).split(",");
  writeFileSync(
    path.join(dir, "buf.gen.yaml"),
    [
      "version: v2",
      "plugins:",
      `  - local: ${JSON.stringify(TS_PROTO_PLUGIN)}`,
      `    out: ${out}`,
      "    strategy: all",
      `    opt: [${opts.join(", ")}]`,
      "",
    ].join("\n"),
  );
  return { file: bufBinary(), args: ["generate", "proto"] };
}

/**
 * Every file and folder under `dir` (relative POSIX path -> bytes, folders
 * with a trailing slash), to compare a tree before and after.
 */
export function snapshot(dir: string): Map<string, string> {
  return new Map(
    walk(dir).map((entry) => [
      entry,
      entry.endsWith("/") ? "" : readFileSync(path.join(dir, entry)).toString("base64"),
    ]),
  );
}

/** Runs this repository's tsc in `dir` with `args`; resolves with all it printed (empty: no diagnostics). */
export async function tsc(dir: string, args: string[] = []): Promise<string> {
  const bin = path.join(REPO, "node_modules/typescript/bin/tsc");
  const { stdout, stderr } = await spawnChild([process.execPath, bin, ...args], { cwd: dir }).result();
  return stdout + stderr;
}

/** A git identity for commits in tests, whatever the machine's configuration. */
export const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.com",
};
