// Command-line helpers shared by main.ts (through config.ts), the cluster
// and the bench, so that a bad flag reads the same in each.

/** A bad command line; the commands print its one-line message with a hint to see --help. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** One line for an error of node:util's parseArgs (its own messages run on over several). */
export function flagError(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  const option = /'(-[^' ]+)/.exec(message ?? "")?.[1];
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${option}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return `option ${option} needs a value`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument ${/'([^']*)'/.exec(message ?? "")?.[1] ?? ""}`.trimEnd();
    default:
      return (message ?? String(error)).split("\n")[0]!;
  }
}

/** The integer `value` of `flag` (`fallback` when not given); a UsageError unless it is one from `min` to `max`. */
export function integer(
  value: string | undefined,
  flag: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range =
      max < Number.MAX_SAFE_INTEGER
        ? `an integer from ${min} to ${max}`
        : min === 0
          ? "a whole number"
          : `an integer of at least ${min}`;
    throw new UsageError(`${flag} ${JSON.stringify(value)} is not ${range}`);
  }
  return n;
}
