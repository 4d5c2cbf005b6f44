import { UserError } from "./errors.js";

/** Every spelling a message type takes, derived from one name such as `pre-accept`. */
export interface MessageNames {
  /** Message prefix: `PreAccept` (messages `PreAcceptRequest`, `PreAcceptReply`). */
  readonly prefix: string;
  /** Value of the envelope's `Type` enum: `PRE_ACCEPT`. */
  readonly constant: string;
  /** Oneof field in `PeerRequest` / `PeerReply`, and the handler's function name: `preAccept`. */
  readonly field: string;
  /** Handler file (and its test) without extension: `pre-accept`. */
  readonly file: string;
  /** Proto file the messages are written to when they are new: `pre_accept.proto`. */
  readonly proto: string;
}

const MAX_LENGTH = 64;
const SPELLING = /^[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)*$/;
/** Words of a camel- or Pascal-case run: `TryPreAccept` → Try Pre Accept, `HTTPServer` → HTTP Server. */
const WORD = /[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+|[0-9]+/g;

/**
 * Normalises `Accept`, `accept`, `preAccept`, `PreAccept`, `pre-accept` or
 * `pre_accept` to the names of one message type.
 */
export function messageNames(name: string): MessageNames {
  if (name.length === 0) throw new UserError("the message name is empty: give one such as Accept or pre-accept");
  if (name.length > MAX_LENGTH) {
    throw new UserError(`the message name "${name}" is longer than ${MAX_LENGTH} characters`);
  }
  if (!SPELLING.test(name)) {
    throw new UserError(
      `"${name}" is not a message name: use letters and digits, starting with a letter, words joined by - or _`,
    );
  }
  const words = name.split(/[-_]/).flatMap((part) => part.match(WORD) ?? []);
  const lower = words.map((word) => word.toLowerCase());
  const pascal = lower.map((word) => word[0]!.toUpperCase() + word.slice(1));
  return {
    prefix: pascal.join(""),
    constant: lower.join("_").toUpperCase(),
    field: lower[0]! + pascal.slice(1).join(""),
    file: lower.join("-"),
    proto: `${lower.join("_")}.proto`,
  };
}

/** Types a protocol commonly has, in the order the next steps of a new project suggest them. */
const SUGGESTIONS = ["Accept", "Prepare", "Commit", "Heartbeat", "Snapshot", "Vote"];

/** A message type to suggest adding to a project whose Type values are `types`: one it does not have yet. */
export function suggestedMessage(types: readonly string[]): string {
  return SUGGESTIONS.find((name) => !types.includes(messageNames(name).constant)) ?? "Example";
}
