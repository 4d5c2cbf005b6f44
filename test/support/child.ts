// Every process a test starts, bounded: past its deadline, or still running when its test ends, it is
// sent SIGTERM, then SIGKILL after a grace period, and the test's output says which command, which
// signals and what it printed last. A hung child then fails its test instead of holding the run.
import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import type { TestContext } from "node:test";

/** The preload Child.exitWithin asks what holds a command open (node --import OPEN_RESOURCES). */
export const OPEN_RESOURCES = new URL("./open-resources.js", import.meta.url).href;
/** A child's deadline unless its test gives one: generous (a create-consensus that runs npm install on a busy machine), it only catches a hang. */
export const CHILD_TIMEOUT_MS = 600_000;
/** From SIGTERM to SIGKILL. */
const GRACE_MS = 5_000;
/** Lines of its output a report quotes. */
const QUOTED_LINES = 12;

/** How a child exited and all it printed. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ChildOptions extends SpawnOptions {
  /** Milliseconds before it is stopped (default CHILD_TIMEOUT_MS). */
  timeout?: number;
  /** The test it belongs to: stopped, and said so, if still running when the test ends. */
  t?: TestContext;
}

/** A process a test started. */
export class Child {
  readonly process: ChildProcess;
  stdout = "";
  stderr = "";
  /** Resolves once it has exited and its pipes are closed. */
  readonly exited: Promise<ChildExit>;
  /** Why it was stopped and with which signals, said once it has exited. */
  private stopped: Promise<string> | undefined;
  private readonly deadline: NodeJS.Timeout;
  /** Its stdout by line, the index of the next one line() looks at, and line()'s waiter. */
  private readonly lines: string[] = [];
  private next = 0;
  private wake: (() => void) | undefined;

  constructor(
    readonly command: readonly string[],
    options: ChildOptions,
  ) {
    const { timeout = CHILD_TIMEOUT_MS, t, ...spawnOptions } = options;
    this.process = spawn(command[0]!, command.slice(1), spawnOptions);
    this.process.stdout?.on("data", (chunk: Buffer) => (this.stdout += chunk));
    if (this.process.stdout) {
      createInterface({ input: this.process.stdout, crlfDelay: Infinity }).on("line", (line: string) => {
        this.lines.push(line);
        this.wake?.();
      });
    }
    this.process.stderr?.on("data", (chunk: Buffer) => (this.stderr += chunk));
    this.exited = new Promise((resolve) =>
      this.process.on("close", (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr })),
    );
    this.deadline = setTimeout(() => void this.stop(`still running after ${timeout} ms`, t), timeout);
    void this.exited.then(() => clearTimeout(this.deadline));
    t?.after(() => this.stop("still running when its test ended", t));
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** The next line of its stdout, after the last one this returned, that matches; rejects if it exits first. */
  async line(pattern: RegExp): Promise<string> {
    for (;;) {
      while (this.next < this.lines.length) {
        const line = this.lines[this.next++]!;
        if (pattern.test(line)) return line;
      }
      const more = new Promise<"line">((resolve) => (this.wake = () => resolve("line")));
      if ((await Promise.race([more, this.exited.then(() => "exited" as const)])) === "exited") {
        // Lines read before the exit came are still looked at once.
        if (this.next < this.lines.length) continue;
        throw new Error(`${this.describe()} exited before printing a line matching ${pattern}\n${this.tail()}`);
      }
    }
  }

  /**
   * Its exit, which must come within `ms` (from now: call it once it has printed its last line); if
   * it does not, rejects saying what still held it open, as support/open-resources.ts (preloaded
   * into it) prints on SIGUSR2, or that JavaScript no longer ran to answer, then stops it.
   */
  async exitWithin(ms: number): Promise<ChildExit> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(resolve, ms, "late")));
    const exit = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (exit !== "late") return this.result();
    const asked = this.stderr.length;
    this.process.kill("SIGUSR2");
    // What it says is one line; a process in Node's exit clean-up runs no JavaScript to say it.
    for (let waited = 0; waited < 2_000 && !this.stderr.slice(asked).includes("\n"); waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const open = /^open: .*$/m.exec(this.stderr.slice(asked))?.[0];
    await this.stop(`had not exited ${ms} ms after its last line`);
    throw new Error(
      `${this.describe()} had not exited ${ms} ms after its last line; ${open ?? "it did not answer SIGUSR2: no JavaScript runs (stuck in Node's exit clean-up?)"}\n${this.tail()}`,
    );
  }

  /** Its exit; rejects, saying what and why, when it had to be stopped. */
  async result(): Promise<ChildExit> {
    const exit = await this.exited;
    if (this.stopped !== undefined) throw new Error(await this.stopped);
    return exit;
  }

  /** SIGTERM, then SIGKILL after the grace period; says so in the test's output. */
  stop(reason: string, t?: TestContext): Promise<ChildExit> {
    if (this.running) this.stopped ??= this.signal(reason, t);
    return this.exited;
  }

  private async signal(reason: string, t: TestContext | undefined): Promise<string> {
    const signals = ["SIGTERM"];
    this.process.kill("SIGTERM");
    let grace: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      grace = setTimeout(() => {
        if (this.running) {
          signals.push(`SIGKILL ${GRACE_MS} ms later`);
          this.process.kill("SIGKILL");
        }
        resolve();
      }, GRACE_MS);
    });
    await Promise.race([this.exited, killed]);
    await this.exited;
    clearTimeout(grace);
    const said = `${this.describe()} ${reason}: sent ${signals.join(", then ")}; it printed last:\n${this.tail()}`;
    if (t !== undefined) t.diagnostic(said);
    else process.stderr.write(`${said}\n`);
    return said;
  }

  /** The command as a shell line, Node's own path shortened. */
  describe(): string {
    const [program, ...args] = this.command;
    const shown = program === process.execPath ? "node" : path.basename(program!);
    return [shown, ...args.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg)))].join(" ");
  }

  /** The last lines of its stdout and stderr. */
  tail(): string {
    const last = (text: string) => text.trimEnd().split("\n").slice(-QUOTED_LINES).join("\n");
    return `stdout:\n${last(this.stdout) || "(nothing)"}\nstderr:\n${last(this.stderr) || "(nothing)"}`;
  }
}

/** Starts `command` (the program, then its arguments), bounded as this file says. */
export function spawnChild(command: readonly string[], options: ChildOptions = {}): Child {
  return new Child(command, options);
}
