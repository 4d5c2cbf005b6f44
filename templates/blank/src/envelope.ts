// Helpers over the generated envelope (src/pb/envelope.ts): the oneof members
// of PeerRequest and PeerReply as types, and the envelope `type` of a member,
// found by name so that adding a message needs no table to update here.
import { PeerReply, type PeerRequest, Type } from "./pb/envelope.js";

/** A request message as it goes in a PeerRequest: `{ $case: "beacon", value: BeaconRequest }`. */
export type RequestMessage = NonNullable<PeerRequest["message"]>;
/** A reply message as it comes in a PeerReply: `{ $case: "beacon", value: BeaconReply }`. */
export type ReplyMessage = NonNullable<PeerReply["message"]>;
/** The reply member matching request member `M`, or never for a request-only type. */
export type ReplyMember<M extends RequestMessage> = Extract<ReplyMessage, { $case: M["$case"] }>;
/** What a peer answers to request member `M`: the reply's value, or void for a request-only type. */
export type ReplyTo<M extends RequestMessage> = [ReplyMember<M>] extends [never] ? void : ReplyMember<M>["value"];

/** `PRE_ACCEPT`, `PreAccept`, `preAccept` and `preaccept` all become `preaccept`. */
const key = (name: string): string => name.replaceAll("_", "").toLowerCase();

/** Type values by key, computed once from the generated enum (UNRECOGNIZED left out). */
const types = new Map<string, Type>(
  Object.entries(Type).flatMap(([name, value]) =>
    typeof value === "number" && value !== Type.UNRECOGNIZED ? [[key(name), value as Type]] : [],
  ),
);
const known = new Set<number>(types.values());
const withReply = new Map<string, boolean>();

/** Whether `type` is a value of this replica's Type enum. */
export function isKnownType(type: number): type is Type {
  return known.has(type);
}

/** The enum name of a type (`PRE_ACCEPT`), or its number when it is not known here. */
export function typeName(type: number): string {
  return isKnownType(type) ? Type[type] : String(type);
}

/**
 * The Type of a oneof member, matched by name case- and underscore-insensitively:
 * beacon → BEACON, preAccept → PRE_ACCEPT, tryPreAccept → TRYPREACCEPT or TRY_PRE_ACCEPT.
 */
export function typeOf($case: string): Type {
  const type = types.get(key($case));
  if (type === undefined) throw new Error(`no Type value in src/pb/envelope.ts matches the message "${$case}"`);
  return type;
}

/** Whether PeerReply has a member named `$case` (false for request-only types like Commit). */
export function hasReply($case: string): boolean {
  let has = withReply.get($case);
  if (has === undefined) {
    // fromPartial keeps a oneof member only if PeerReply declares it.
    const probe = PeerReply.fromPartial({ message: { $case, value: {} } } as Parameters<
      typeof PeerReply.fromPartial
    >[0]);
    withReply.set($case, (has = probe.message !== undefined));
  }
  return has;
}

/** The PeerRequest that carries `message` from `sender`. */
export function envelope(sender: string, message: RequestMessage): PeerRequest {
  return { type: typeOf(message.$case), sender, message };
}

/**
 * What a trace shows of a message (--trace): its `success` and its member's
 * scalars, lists by their length, short printable bytes as text.
 */
export function messageFields(message: PeerRequest | PeerReply): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  if ("success" in message) out.success = message.success;
  for (const [name, value] of Object.entries(message.message?.value ?? {}) as [string, unknown][]) {
    if (typeof value === "number" || typeof value === "boolean") out[name] = value;
    else if (typeof value === "bigint") out[name] = Number.isSafeInteger(Number(value)) ? Number(value) : String(value);
    else if (typeof value === "string" && value !== "")
      out[name] = value.length > 40 ? `${value.slice(0, 39)}…` : value;
    else if (value instanceof Uint8Array && value.length > 0) {
      const printable = value.length <= 40 && value.every((b) => b >= 0x20 && b < 0x7f);
      out[name] = printable ? String.fromCharCode(...value) : `${value.length} bytes`;
    } else if (Array.isArray(value)) out[name] = `[${value.length}]`;
  }
  return out;
}
