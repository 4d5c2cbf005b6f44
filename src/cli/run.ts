import { Command, CommanderError } from "commander";
import { UserError } from "../core/errors.js";
import { err } from "./output.js";

/**
 * Aborted on Ctrl-C. A command that writes passes it down to its commit, which
 * rolls back and throws; a second Ctrl-C exits at once (the next command then
 * recovers the tree from the journal).
 */
export const interrupt = new AbortController();

/** Thrown by a command stopped by Ctrl-C where the user is left something to do: `note` says what. */
export class Interrupted extends Error {
  constructor(readonly note: string) {
    super(note);
  }
}

/**
 * Runs a commander program the way every command of this tool behaves: one
 * `error: …` line on stderr and exit 1 on failure (or the UserError's
 * `exitCode`; the stack only with --debug), exit 130 on Ctrl-C.
 */
export async function run(program: Command, argv: string[] = process.argv): Promise<void> {
  process.on("SIGINT", () => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
  });
  const debug = argv.includes("--debug");
  program.exitOverride().configureOutput({ outputError: (text, write) => write(err.red(text)) });
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    if (interrupt.signal.aborted) {
      if (error instanceof Interrupted) process.stderr.write(`interrupted: ${error.note}\n`);
      process.exitCode = 130;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${err.red("error:")} ${message.split("\n")[0]}\n`);
    if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    else if (!(error instanceof UserError)) process.stderr.write("(run again with --debug for the stack)\n");
    // A UserError may carry its own code (consensus check: 2 for bad input).
    const code = (error as { exitCode?: unknown }).exitCode;
    process.exitCode = error instanceof UserError && typeof code === "number" ? code : 1;
  }
}
