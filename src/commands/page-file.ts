// The pages that --html, --report and `consensus report` write: none replaces
// a file that is there unless --force, so that a rerun does not lose a page
// someone kept. Refused before any work (a bench or a search can take
// minutes), and again at the write, which puts the file in place only if absent.
import { access, link, rename, rm, writeFile } from "node:fs/promises";
import { UserError } from "../core/errors.js";

/** How a command fails: a UserError unless it says otherwise (check's bad input exits 2). */
type Fail = (message: string) => Error;

const userError: Fail = (message) => new UserError(message);

function refusal(file: string): string {
  return `${file} exists: give --force to overwrite it`;
}

/** Throws unless `file` is absent or `force` is given. */
export async function refuseOverwrite(file: string, force: boolean | undefined, fail: Fail = userError): Promise<void> {
  if (force) return;
  try {
    await access(file);
  } catch {
    return;
  }
  throw fail(refusal(file));
}

/**
 * Writes the page whole or not at all: into a file beside it first, then linked into place (which
 * fails if the page is there) or, with `force`, renamed over it.
 */
export async function writePage(
  file: string,
  html: string,
  force: boolean | undefined,
  fail: Fail = userError,
): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temp, html);
    await (force ? rename : link)(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw fail(refusal(file));
    throw error;
  } finally {
    await rm(temp, { force: true });
  }
}
