// gRPC status codes for handlers: throw a StatusError to end the peer's
// Dispatch stream with a status of your choice (anything else thrown by a
// handler ends it with INTERNAL).
import { status as Code } from "@grpc/grpc-js";

export { Code };

/** An error that carries the gRPC status a Dispatch stream or a Propose call ends with. */
export class StatusError extends Error {
  override readonly name = "StatusError";

  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The error of a handler that is still the scaffolded stub: peers get
 * UNIMPLEMENTED with a message that names the type and the file to write.
 */
export function unimplemented(type: string, file: string): StatusError {
  return new StatusError(Code.UNIMPLEMENTED, `${type} is not implemented: write ${file}`);
}

/** The status an error thrown while handling a request ends its stream with. */
export function toStatusError(error: unknown, what: string): StatusError {
  if (error instanceof StatusError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new StatusError(Code.INTERNAL, `${what} failed: ${reason}`);
}
