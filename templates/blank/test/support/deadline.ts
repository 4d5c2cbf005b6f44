// Every call a test makes carries a deadline: a replica that never answers
// fails its test with DEADLINE_EXCEEDED instead of holding the whole run.
import type { CallOptions } from "@grpc/grpc-js";

/** Generous: it only catches a hang, on a loaded machine too. */
export const CALL_TIMEOUT_MS = 10_000;

/** Call options with a deadline `ms` from now. */
export function deadline(ms = CALL_TIMEOUT_MS): Partial<CallOptions> {
  return { deadline: Date.now() + ms };
}
