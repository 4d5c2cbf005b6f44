// What the command tests share: projects scaffolded into a scratch folder of the test file's own
// (removed after its tests), and reading, editing and comparing a project's files.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after } from "node:test";
import { CREATE_BIN, REPO } from "./paths.js";
import { GIT_IDENTITY, runBin, snapshot } from "./project.js";

/** A scratch folder, removed once the file's tests are over, and the projects made in it. */
export class Scratch {
  readonly dir: string;
  private count = 0;

  /** Call at a test file's top level: its removal is an after() of the file. */
  constructor(prefix: string) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    after(() => rmSync(this.dir, { recursive: true, force: true }));
  }

  /**
   * A new project of `template`, with no install: the repository's node_modules are linked in
   * (unless `linked` is false), and a git repository made only with `git`.
   */
  async scaffold(template = "blank", { git = false, linked = true } = {}): Promise<string> {
    const dir = this.path("p");
    const flags = ["--no-install", ...(git ? [] : ["--no-git"])];
    const run = await runBin(CREATE_BIN, [dir, "-t", template, ...flags], this.dir, GIT_IDENTITY);
    assert.equal(run.code, 0, run.stderr);
    if (linked) symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
    return dir;
  }

  /** A copy of the project in `dir`, its links kept. */
  copy(dir: string): string {
    const to = this.path(`${path.basename(dir)}-`);
    cpSync(dir, to, { recursive: true, verbatimSymlinks: true });
    return to;
  }

  /** A new name in the scratch folder, starting with `prefix`. */
  path(prefix: string): string {
    return path.join(this.dir, `${prefix}${this.count++}`);
  }
}

/** A file of the project in `dir`, as text. */
export const read = (dir: string, file: string) => readFileSync(path.join(dir, file), "utf8");

/** Replaces the first match of `from` in a file of the project; fails when nothing matched. */
export function edit(dir: string, file: string, from: string | RegExp, to: string): void {
  const text = read(dir, file);
  const edited = text.replace(from, to);
  assert.notEqual(edited, text, `${file}: ${from} matched`);
  writeFileSync(path.join(dir, file), edited);
}

/** A project's files and folders but dist/ (node_modules, a link, is not walked), as path -> bytes. */
export const files = (dir: string) => new Map([...snapshot(dir)].filter(([file]) => !file.startsWith("dist/")));

/** The same, as one string to compare a tree before and after. */
export const tree = (dir: string) => JSON.stringify([...files(dir)]);
