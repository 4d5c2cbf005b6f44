// The envelope as the contract shapes it: enum Type, and PeerRequest and
// PeerReply each with a oneof message, one member per type. Read once here for
// add-message, remove-message, list and doctor.
import type protobuf from "protobufjs";
import { UserError } from "../errors.js";
import { type Definition, type Model, type ParsedFile, parseModel, resolveType } from "../proto/model.js";
import { type Block, scan, type Structure } from "../proto/scan.js";

export interface EnvelopeInput {
  /** Every proto of the project: path relative to the proto folder → text. */
  readonly protos: ReadonlyMap<string, string>;
  /** The envelope's path relative to the proto folder, e.g. "envelope.proto". */
  readonly envelope: string;
  /** The envelope's path as the user sees it, for errors, e.g. "proto/envelope.proto". */
  readonly envelopeShown: string;
}

export interface Envelope {
  readonly text: string;
  readonly model: Model;
  readonly file: ParsedFile;
  readonly structure: Structure;
  /** The envelope's package ("" when none). */
  readonly pkg: string;
  readonly typeEnum: protobuf.Enum;
  readonly peerRequest: protobuf.Type;
  readonly peerReply: protobuf.Type;
  /** Where each part is written, for the text edits. */
  readonly blocks: {
    readonly type: Block;
    readonly request: Block;
    readonly reply: Block;
    readonly requestOneof: Block;
    readonly replyOneof: Block;
  };
  /** A proto's path as the user sees it (relative to the proto folder → `proto/x.proto`). */
  shown(file: string): string;
  /** `Accept` → `pb.Accept` in the envelope's package. */
  scoped(simple: string): string;
  /** `pb.Accept` → `Accept` when it is in the envelope's package. */
  relative(fullName: string): string;
}

/** A oneof member of PeerRequest or PeerReply: its field, number and message type. */
export interface Member {
  readonly field: string;
  readonly number: number;
  /** Its message type's full name without the leading dot: `pb.AcceptRequest`. */
  readonly message: string;
  /** The proto that defines that message (relative to the proto folder), if the project does. */
  readonly file: string | undefined;
}

/** One Type value and the oneof members that carry it (matched as the runtime matches them). */
export interface EnvelopeType {
  readonly constant: string;
  readonly number: number;
  readonly request: Member | undefined;
  readonly reply: Member | undefined;
}

/** What the envelope holds: its types, and the oneof members no Type value matches. */
export interface EnvelopeTypes {
  readonly types: readonly EnvelopeType[];
  readonly strayRequests: readonly Member[];
  readonly strayReplies: readonly Member[];
}

/** Parses the project's protos and finds the envelope's parts; refuses an envelope that lacks one. */
export function readEnvelope(input: EnvelopeInput): Envelope {
  const { protos, envelope, envelopeShown } = input;
  const shownDir = envelopeShown.endsWith(envelope) ? envelopeShown.slice(0, -envelope.length) : "";
  const text = protos.get(envelope);
  if (text === undefined) throw new UserError(`${envelopeShown}: no such file: the envelope must be a project proto`);
  const model = parseModel(protos, shownDir);
  const file = model.files.get(envelope)!;
  const pkg = file.package;
  const scoped = (simple: string) => (pkg ? `${pkg}.${simple}` : simple);
  const inEnvelope = (simple: string): Definition | undefined => {
    const definition = model.names.get(scoped(simple));
    return definition && definition.file === envelope ? definition : undefined;
  };

  const typeEnum = inEnvelope("Type");
  if (typeEnum?.kind !== "enum") {
    throw new UserError(`${envelopeShown}: no enum Type: the envelope needs enum Type { BEACON = 0; … }`);
  }
  const peerMessage = (simple: "PeerRequest" | "PeerReply") => {
    const definition = inEnvelope(simple);
    if (definition?.kind !== "message") {
      throw new UserError(
        `${envelopeShown}: no message ${simple}: the envelope needs PeerRequest and PeerReply, each with a oneof message { … }`,
      );
    }
    if (!definition.node.oneofs?.["message"]) {
      throw new UserError(
        `${envelopeShown}: message ${simple} has no oneof message: add "oneof message { … }" with one member per type`,
      );
    }
    return definition.node;
  };
  const peerRequest = peerMessage("PeerRequest");
  const peerReply = peerMessage("PeerReply");

  const structure = scan(text);
  const textBlock = (keyword: string, name: string, parent?: Block) =>
    (parent ? parent.children : structure.top).find(
      (block) => block.keyword === keyword && block.name === name && block.close >= 0,
    );
  const type = textBlock("enum", "Type");
  const request = textBlock("message", "PeerRequest");
  const reply = textBlock("message", "PeerReply");
  const requestOneof = request && textBlock("oneof", "message", request);
  const replyOneof = reply && textBlock("oneof", "message", reply);
  if (!type || !request || !reply || !requestOneof || !replyOneof) {
    throw new UserError(
      `${envelopeShown}: enum Type, PeerRequest and PeerReply (with its oneof message) must be written at the top level to be edited`,
    );
  }
  return {
    text,
    model,
    file,
    structure,
    pkg,
    typeEnum: typeEnum.node,
    peerRequest,
    peerReply,
    blocks: { type, request, reply, requestOneof, replyOneof },
    shown: (path) => `${shownDir}${path}`,
    scoped,
    relative: (fullName) => (pkg && fullName.startsWith(`${pkg}.`) ? fullName.slice(pkg.length + 1) : fullName),
  };
}

/** `PRE_ACCEPT`, `PreAccept`, `preAccept` and `preaccept` all become `preaccept`: the runtime matches a member to its Type value so. */
export const typeKey = (name: string): string => name.replaceAll("_", "").toLowerCase();

/** The envelope's Type values in number order, each with its oneof members, and the members no value matches. */
export function envelopeTypes(envelope: Envelope): EnvelopeTypes {
  const members = (message: protobuf.Type): Member[] =>
    message.oneofs["message"]!.fieldsArray.map((field) => {
      // Each file is parsed alone (its imports unresolved): the name is resolved against the whole model.
      const fullName = resolveType(envelope.model, field.type, message.fullName.replace(/^\./, ""));
      return { field: field.name, number: field.id, message: fullName, file: envelope.model.names.get(fullName)?.file };
    });
  const requests = members(envelope.peerRequest);
  const replies = members(envelope.peerReply);
  const types = Object.entries(envelope.typeEnum.values)
    .sort(([, a], [, b]) => a - b)
    .map(([constant, number]) => ({
      constant,
      number,
      request: requests.find((member) => typeKey(member.field) === typeKey(constant)),
      reply: replies.find((member) => typeKey(member.field) === typeKey(constant)),
    }));
  const matched = (member: Member) => types.some((type) => typeKey(type.constant) === typeKey(member.field));
  return {
    types,
    strayRequests: requests.filter((member) => !matched(member)),
    strayReplies: replies.filter((member) => !matched(member)),
  };
}
