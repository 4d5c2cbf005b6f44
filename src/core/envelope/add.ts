// add-message's plan for the protos: the new messages' proto (unless they
// exist) and the envelope's insertions (an import, a Type value, a oneof
// member in PeerRequest and in PeerReply), as pure functions on text.
import { UserError } from "../errors.js";
import type { MessageNames } from "../names.js";
import { addImport, appendMember, unreserveName } from "../proto/edit.js";
import { ALLOWED_TYPES, type FieldSpec, jsonKey } from "../proto/field-specs.js";
import type { Definition } from "../proto/model.js";
import { importersOf } from "../proto/model.js";
import {
  highest,
  isFreeField,
  MAX_ENUM_VALUE,
  nextFieldNumber,
  type Reserved,
  reservedNames,
} from "../proto/numbering.js";
import type { Block } from "../proto/scan.js";
import { checkWireCompatible } from "../proto/wire.js";
import { PROTO_KEYWORDS, SCALAR_TYPES, words } from "../proto/words.js";
import { applyEdits, type Edit } from "../text.js";
import { type EnvelopeInput, readEnvelope } from "./envelope.js";

export interface MessagePlan {
  /** The envelope's new text. */
  readonly envelope: string;
  /** A new proto file for the messages (relative to the proto folder), or undefined when existing messages are reused. */
  readonly proto?: { readonly path: string; readonly text: string };
  /** The proto file (relative to the proto folder) that holds <Prefix>Request (and Reply): new or reused. */
  readonly messagesFile: string;
  /** Whether the type has a reply message (false: --no-reply, or a reused Request without a Reply). */
  readonly reply: boolean;
  /** The numbers given: the Type value and the oneof field numbers (reply undefined when no reply). */
  readonly numbers: { readonly type: number; readonly request: number; readonly reply?: number };
  /** The names taken back from `reserved` (a type removed earlier and added again), sorted. */
  readonly revived: readonly string[];
}

export interface PlanMessageInput extends EnvelopeInput {
  readonly name: MessageNames;
  readonly request: readonly FieldSpec[];
  /** null: a request-only type (--no-reply). */
  readonly reply: readonly FieldSpec[] | null;
}

/** Reserved words of TypeScript/JavaScript (strict mode and modules), and names a binding must not take. */
const TS_RESERVED = words(`
  break case catch class const continue debugger default delete do else enum export extends false finally for
  function if import in instanceof new null return super switch this throw true try typeof var void while with
  implements interface let package private protected public static yield await async arguments eval
  undefined constructor prototype
`);

/** Local names of the generated replica.ts, where the handler of each type is imported under its field name. */
const REPLICA_LOCALS = words("request message context typeName isKnownType toStatusError");

/** The envelope's own names: no message type may take or define them. */
const ENVELOPE_NAMES = words("Type PeerRequest PeerReply ProposeRequest ProposeReply");

export function planAddMessage(input: PlanMessageInput): MessagePlan {
  const { protos, envelope, envelopeShown, name } = input;
  const { prefix, constant, field } = name;
  const parsed = readEnvelope(input);
  const { model, file: envelopeFile, pkg, scoped, relative, shown, structure, blocks } = parsed;
  const { typeEnum: typeNode, peerRequest, peerReply } = parsed;

  // Names: the envelope's own, keywords, and the names generated code uses.
  const requestName = `${prefix}Request`;
  const replyName = `${prefix}Reply`;
  for (const taken of [prefix, requestName, replyName]) {
    if (ENVELOPE_NAMES.has(taken)) {
      throw new UserError(`"${prefix}" would use ${taken}, one of the envelope's own names: choose another name`);
    }
  }
  if (PROTO_KEYWORDS.has(field) || PROTO_KEYWORDS.has(constant)) {
    const word = PROTO_KEYWORDS.has(field) ? field : constant;
    throw new UserError(
      `"${prefix}" gives the oneof field or Type value ${word}, a proto keyword: choose another name`,
    );
  }
  if (TS_RESERVED.has(field)) {
    throw new UserError(`"${prefix}" gives the handler name ${field}, a TypeScript reserved word: choose another name`);
  }
  if (REPLICA_LOCALS.has(field)) {
    throw new UserError(
      `"${prefix}" gives the handler name ${field}, a name replica.ts already uses: choose another name`,
    );
  }
  if (constant === "UNRECOGNIZED") {
    throw new UserError(
      `"${prefix}" gives the Type value UNRECOGNIZED, which ts-proto adds to every enum: choose another name`,
    );
  }

  // Collisions with the envelope.
  if (Object.hasOwn(typeNode.values, constant)) {
    throw new UserError(`${envelopeShown}: enum Type already has a value ${constant}: choose another name`);
  }
  for (const message of [peerRequest, peerReply]) {
    const clash =
      message.fieldsArray.find((f) => jsonKey(f.name) === jsonKey(field))?.name ??
      message.oneofsArray.find((o) => o.name === field)?.name;
    if (clash !== undefined) {
      throw new UserError(
        `${envelopeShown}: message ${message.name} already has a field ${clash}: choose another name`,
      );
    }
  }

  // Collisions in the package's scope (enum values are siblings of their enum there).
  const describe = (definition: Definition) =>
    definition.kind === "enum value"
      ? `a value of enum ${definition.enumName}`
      : `${definition.kind === "enum" ? "an" : "a"} ${definition.kind}`;
  const constantClash = model.names.get(scoped(constant));
  if (constantClash) {
    throw new UserError(
      `the Type value ${constant} would clash with ${constant}, ${describe(constantClash)} in ${shown(constantClash.file)} (proto enum values share their package's scope): choose another name`,
    );
  }
  const prefixClash = model.names.get(scoped(prefix));
  if (prefixClash) {
    throw new UserError(
      `${prefix} is already ${describe(prefixClash)} in ${shown(prefixClash.file)}: choose another name for the message type`,
    );
  }
  const requestDefinition = model.names.get(scoped(requestName));
  const replyDefinition = model.names.get(scoped(replyName));
  for (const [messageName, definition] of [
    [requestName, requestDefinition],
    [replyName, replyDefinition],
  ] as const) {
    if (definition && definition.kind !== "message") {
      throw new UserError(
        `${messageName} is already ${describe(definition)} in ${shown(definition.file)}, not a message: choose another name`,
      );
    }
  }

  const reachesEnvelope = importersOf(model, envelope);
  let messagesFile: string;
  let reply: boolean;
  let proto: { path: string; text: string } | undefined;
  if (requestDefinition) {
    // Reuse the messages the project already defines.
    messagesFile = requestDefinition.file;
    if (input.request.length > 0 || (input.reply?.length ?? 0) > 0) {
      throw new UserError(
        `${requestName} is already defined in ${shown(messagesFile)}: drop --request and --reply to reuse it, or choose another name`,
      );
    }
    if (replyDefinition && replyDefinition.file !== messagesFile) {
      throw new UserError(
        `${replyName} is defined in ${shown(replyDefinition.file)}, not beside ${requestName} in ${shown(messagesFile)}: move it there`,
      );
    }
    if (!replyDefinition && input.reply !== null) {
      throw new UserError(
        `${requestName} exists in ${shown(messagesFile)} but ${replyName} does not: add --no-reply for a request-only type, or define ${replyName} there`,
      );
    }
    if (messagesFile !== envelope && reachesEnvelope.has(messagesFile)) {
      throw new UserError(
        `${shown(messagesFile)} imports ${envelopeShown}, which would then import it back: move ${requestName} to a file of its own`,
      );
    }
    reply = input.reply !== null;
  } else {
    if (replyDefinition) {
      throw new UserError(
        `${replyName} already exists in ${shown(replyDefinition.file)} but ${requestName} does not: define ${requestName} beside it, or choose another name`,
      );
    }
    messagesFile = name.proto;
    if (protos.has(messagesFile)) {
      throw new UserError(
        `${shown(messagesFile)} already exists and does not define ${requestName}: define the messages there to reuse them, or choose another name`,
      );
    }
    const imports = new Set<string>();
    const fieldLines = (specs: readonly FieldSpec[], flag: "--request" | "--reply") =>
      specs.map((spec, index) => {
        let typeText = spec.type;
        if (!SCALAR_TYPES.has(spec.type)) {
          const candidates = spec.type.startsWith(".") ? [spec.type.slice(1)] : [scoped(spec.type), spec.type];
          const found = candidates
            .map((candidate) => [candidate, model.names.get(candidate)] as const)
            .find(([, definition]) => definition?.kind === "message" || definition?.kind === "enum");
          if (!found)
            throw new UserError(`${flag}: unknown type "${spec.type}" for field ${spec.name}: ${ALLOWED_TYPES}`);
          const [fullName, definition] = found;
          if (reachesEnvelope.has(definition!.file)) {
            throw new UserError(
              `${flag}: type ${spec.type} (field ${spec.name}) is defined in ${shown(definition!.file)}, which would import the new file in turn: use a type from another file`,
            );
          }
          imports.add(definition!.file);
          typeText = relative(fullName);
        }
        return `  ${spec.repeated ? "repeated " : ""}${typeText} ${spec.name} = ${index + 1};`;
      });
    const requestFields = fieldLines(input.request, "--request");
    const replyFields = input.reply === null ? undefined : fieldLines(input.reply, "--reply");
    proto = {
      path: messagesFile,
      text: messagesProto({ name, pkg, imports: [...imports].sort(), requestFields, replyFields }),
    };
    reply = input.reply !== null;
  }

  // Numbers: one past the highest used or reserved; a reply shares its request's number when that is higher.
  const typeNumber = highest(Object.values(typeNode.values), typeNode.reserved) + 1;
  if (typeNumber > MAX_ENUM_VALUE) {
    throw new UserError(
      `${envelopeShown}: enum Type uses or reserves values up to the maximum: free some of its reserved range`,
    );
  }
  const requestNumber = nextFieldNumber(peerRequest, envelopeShown);
  // The original ePaxos set numbers a type's request and reply alike (a
  // request-only type leaves its number unused in PeerReply: 11, 12, 14, 15),
  // so the reply takes the request's number when that is free and above every
  // number PeerReply uses or reserves: never a gap, which an old field may have left.
  const nextReply = reply ? nextFieldNumber(peerReply, envelopeShown) : undefined;
  const replyNumber =
    nextReply === undefined
      ? undefined
      : requestNumber >= nextReply && isFreeField(peerReply, requestNumber)
        ? requestNumber
        : nextReply;

  // The edits.
  const messagesPackage = model.files.get(messagesFile)?.package ?? pkg;
  const messageType = (simple: string) => relative(messagesPackage ? `${messagesPackage}.${simple}` : simple);
  const edits: Edit[] = [
    appendMember(structure, blocks.type, `${constant} = ${typeNumber};`),
    appendMember(structure, blocks.requestOneof, `${messageType(requestName)} ${field} = ${requestNumber};`),
  ];
  if (replyNumber !== undefined) {
    edits.push(appendMember(structure, blocks.replyOneof, `${messageType(replyName)} ${field} = ${replyNumber};`));
  }
  if (messagesFile !== envelope && !envelopeFile.imports.includes(messagesFile)) {
    edits.push(addImport(structure, messagesFile));
  }
  // A removed type's names come back (its numbers stay reserved): their reservation is lifted.
  const revived = new Set<string>();
  const revive = (reserved: Reserved | undefined, block: Block, name: string) => {
    if (!reservedNames(reserved).includes(name)) return;
    const edit = unreserveName(structure, block, name);
    if (edit) edits.push(edit);
    revived.add(name);
  };
  revive(typeNode.reserved, blocks.type, constant);
  revive(peerRequest.reserved, blocks.request, field);
  if (replyNumber !== undefined) revive(peerReply.reserved, blocks.reply, field);
  const envelopeAfter = applyEdits(parsed.text, edits);

  // Guard: the result parses and keeps every existing number.
  const after = new Map(protos);
  after.set(envelope, envelopeAfter);
  if (proto) after.set(proto.path, proto.text);
  try {
    checkWireCompatible(protos, after, { revived });
  } catch (error) {
    throw new Error(
      `add-message planned an envelope that breaks the wire format (a bug): ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return {
    envelope: envelopeAfter,
    ...(proto ? { proto } : {}),
    messagesFile,
    reply,
    revived: [...revived].sort(),
    numbers: { type: typeNumber, request: requestNumber, ...(replyNumber !== undefined ? { reply: replyNumber } : {}) },
  };
}

function messagesProto(input: {
  name: MessageNames;
  pkg: string;
  imports: readonly string[];
  requestFields: readonly string[];
  replyFields: readonly string[] | undefined;
}): string {
  const { name, pkg, imports, requestFields, replyFields } = input;
  const lines = [
    replyFields
      ? `// ${name.prefix}: the messages of the ${name.constant} type, in PeerRequest.${name.field} and PeerReply.${name.field}.`
      : `// ${name.prefix}: the request of the ${name.constant} type, in PeerRequest.${name.field} (request only: its reply carries no message).`,
    'syntax = "proto3";',
  ];
  if (pkg) lines.push(`package ${pkg};`);
  lines.push("");
  if (imports.length > 0) lines.push(...imports.map((file) => `import "${file}";`), "");
  const message = (messageName: string, fields: readonly string[]) =>
    fields.length === 0 ? [`message ${messageName} {}`] : [`message ${messageName} {`, ...fields, "}"];
  lines.push(...message(`${name.prefix}Request`, requestFields));
  if (replyFields) lines.push("", ...message(`${name.prefix}Reply`, replyFields));
  return `${lines.join("\n")}\n`;
}
