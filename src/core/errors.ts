/**
 * An error the user can fix: printed as one `error: …` line, without a stack.
 * Anything else that escapes a command is a bug and keeps its stack for --debug.
 */
export class UserError extends Error {
  override readonly name = "UserError";
}

/** A .proto that does not compile; `file` is relative to the project root. */
export class ProtoError extends UserError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly column: number | undefined,
    readonly reason: string,
  ) {
    const at = [file, line, column].filter((part) => part !== undefined).join(":");
    super(`${at}: ${reason}`);
  }
}
