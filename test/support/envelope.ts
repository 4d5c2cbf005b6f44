// What the envelope tests share: the canonical protos and fixtures, an addition or a removal
// planned as the commands plan it, the protos after it, compiling them as `consensus protobuf`
// does, and a refusal's exact message.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { compileProtos } from "../../src/core/compile.js";
import { planAddMessage, type MessagePlan } from "../../src/core/envelope/add.js";
import { planRemoveMessage, type RemovalPlan } from "../../src/core/envelope/remove.js";
import { parseFieldSpecs } from "../../src/core/proto/field-specs.js";
import { UserError } from "../../src/core/errors.js";
import { messageNames } from "../../src/core/names.js";
import { CANONICAL_PROTOS, REPO } from "./paths.js";

export const FIXTURES = path.join(REPO, "test/fixtures/envelope");
export const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), "utf8");
export const canonical = (name: string) => readFileSync(path.join(CANONICAL_PROTOS, name), "utf8");
export const crlf = (text: string) => text.replace(/\n/g, "\r\n");

/** The protos of a new `blank` project: the canonical set without the ePaxos messages. */
export function blankProtos(envelope = canonical("envelope.proto")): Map<string, string> {
  return new Map([
    ["beacon.proto", canonical("beacon.proto")],
    ["client.proto", canonical("client.proto")],
    ["envelope.proto", envelope],
    ["service.proto", canonical("service.proto")],
  ]);
}

export function epaxosProtos(): Map<string, string> {
  return new Map([...blankProtos(), ["epaxos.proto", canonical("epaxos.proto")]]);
}

export interface Add {
  readonly request?: string;
  readonly reply?: string | null;
}

export function plan(protos: ReadonlyMap<string, string>, name: string, add: Add = {}): MessagePlan {
  return planAddMessage({
    protos,
    envelope: "envelope.proto",
    envelopeShown: "proto/envelope.proto",
    name: messageNames(name),
    request: parseFieldSpecs(add.request ?? "", "--request"),
    reply: add.reply === null ? null : parseFieldSpecs(add.reply ?? "", "--reply"),
  });
}

/** The project's protos after a plan. */
export function applied(protos: ReadonlyMap<string, string>, result: MessagePlan): Map<string, string> {
  const next = new Map(protos);
  next.set("envelope.proto", result.envelope);
  if (result.proto) next.set(result.proto.path, result.proto.text);
  return next;
}

/** Compiles with protoc (as `consensus protobuf` does) and returns its warnings. */
export async function protoc(protos: ReadonlyMap<string, string>): Promise<string[]> {
  const planned = new Map([...protos].map(([file, text]) => [file, new TextEncoder().encode(text)] as const));
  const compiled = await compileProtos(REPO, "proto", [...protos.keys()], planned);
  return compiled.warnings;
}

/** A removal planned. */
export const planRemoval = (protos: ReadonlyMap<string, string>, name: string) =>
  planRemoveMessage({
    protos,
    envelope: "envelope.proto",
    envelopeShown: "proto/envelope.proto",
    name: messageNames(name),
  });

/** The project's protos after a removal. */
export function removed(protos: ReadonlyMap<string, string>, result: RemovalPlan): Map<string, string> {
  const next = new Map(protos);
  next.set("envelope.proto", result.envelope);
  if (result.deletesMessagesFile) next.delete(result.messagesFile!);
  return next;
}

/** `text` without its reserved statements (and the line each had to itself). */
export const withoutReserved = (text: string) =>
  text.replace(/^[ \t]*reserved [^;]*;[ \t]*\r?\n|[ \t]*reserved [^;]*;/gm, "");

export function refuses(run: () => unknown, message: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof UserError, `a UserError, not ${String(error)}`);
    assert.equal(error.message, message);
    return true;
  });
}
