// Every process a test starts, bounded: past its deadline, or still running when its test ends, it is
// sent SIGTERM, then SIGKILL after a grace period, and the test's output says which command, which
// signals and what it printed last. A hung child then fails its test instead of holding the run.
import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process";
import path from "node:path";
import type { TestContext } from "node:test";

/** A child's deadline unless its test gives one: generous, it only catches a hang. */
export const CHILD_TIMEOUT_MS = 120_000;
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

  constructor(
    readonly command: readonly string[],
    options: ChildOptions,
  ) {
    const { timeout = CHILD_TIMEOUT_MS, t, ...spawnOptions } = options;
    this.process = spawn(command[0]!, command.slice(1), spawnOptions);
    this.process.stdout?.on("data", (chunk: Buffer) => (this.stdout += chunk));
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
