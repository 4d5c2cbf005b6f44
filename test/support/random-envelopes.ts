// Random envelopes for the property tests: a shape (which numbers are free, used or reserved,
// and layout choices) rendered to envelope.proto, and random sequences of types to add.
import fc from "fast-check";
import { canonical, crlf, plan } from "./envelope.js";

type Slot = "free" | "oneof" | "field" | "reserved";

interface EnvelopeShape {
  readonly type: readonly ("free" | "used" | "reserved")[];
  readonly request: readonly Slot[];
  readonly reply: readonly Slot[];
  /** Layout choices (one-line blocks, comments, blank lines, indentation), consumed in turn. */
  readonly choices: readonly number[];
  readonly crlf: boolean;
}

const COMMENTS = [
  "// a comment { with braces }",
  "/* a block } comment */",
  "/* two\n   lines { */",
  "// }",
  '/* "a string" } */',
];

/** Consecutive numbers as `a to b` ranges. */
function ranges(numbers: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < numbers.length;) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    parts.push(i === j ? `${numbers[i]}` : `${numbers[i]} to ${numbers[j]}`);
    i = j + 1;
  }
  return parts.join(", ");
}

function renderEnvelope(shape: EnvelopeShape): string {
  let cursor = 0;
  /** The next layout choice, in [0, n). */
  const pick = (n: number) =>
    shape.choices.length === 0 ? n - 1 : shape.choices[cursor++ % shape.choices.length]! % n;
  const comment = () => COMMENTS[pick(COMMENTS.length)]!;
  const unit = ["  ", "    ", "\t"][pick(3)]!;

  /** A block, one-line or not; `nested` is rendered inside it, after its members. */
  const block = (header: string, members: readonly string[], indent: string, nested?: (indent: string) => string) => {
    const inner = indent + unit;
    if (pick(3) === 0) {
      const parts = members.map((member) => {
        const choice = pick(6);
        if (choice === 0) return `${member} ${COMMENTS[1]}`;
        if (choice === 1) return `${member} ${COMMENTS[0]}\n${inner}`;
        return member;
      });
      if (nested) parts.push(nested(inner).trimStart());
      return `${indent}${header} { ${parts.join(" ")} }`;
    }
    const lines = [`${indent}${header} {`];
    for (const member of members) {
      if (pick(5) === 0) lines.push(`${inner}${comment()}`);
      if (pick(6) === 0) lines.push("");
      lines.push(pick(4) === 0 ? `${inner}${member} ${comment()}` : `${inner}${member}`);
    }
    if (nested) lines.push("", nested(inner));
    if (pick(3) === 0) lines.push(`${inner}${comment()}`);
    lines.push(`${indent}}`);
    return lines.join("\n");
  };

  const typeValues = ["BEACON = 0;"];
  const typeReserved: number[] = [];
  shape.type.forEach((slot, index) => {
    if (slot === "used") typeValues.push(`OLD_${index + 1} = ${index + 1};`);
    if (slot === "reserved") typeReserved.push(index + 1);
  });
  if (typeReserved.length > 0) typeValues.push(`reserved ${ranges(typeReserved)};`);

  const message = (name: "PeerRequest" | "PeerReply", slots: readonly Slot[]) => {
    const fields = ["Type type = 1;", "string sender = 2;"];
    if (name === "PeerReply") fields.push("bool success = 3;");
    const payload = name === "PeerRequest" ? "BeaconRequest" : "BeaconReply";
    const members = [`${payload} beacon = 10;`];
    const reserved: number[] = [];
    slots.forEach((slot, index) => {
      const number = index + 11;
      if (slot === "oneof") members.push(`${payload} old${number} = ${number};`);
      if (slot === "field") fields.push(`int32 extra${number} = ${number};`);
      if (slot === "reserved") reserved.push(number);
    });
    if (reserved.length > 0) fields.push(`reserved ${ranges(reserved)};`);
    return block(`message ${name}`, fields, "", (indent) => block("oneof message", members, indent));
  };

  const text = [
    "// A random envelope.",
    'syntax = "proto3";',
    "package pb;",
    "",
    'import "beacon.proto";',
    "",
    comment(),
    block("enum Type", typeValues, ""),
    "",
    message("PeerRequest", shape.request),
    pick(2) === 0 ? comment() : "",
    message("PeerReply", shape.reply),
    "",
  ].join("\n");
  return shape.crlf ? crlf(text) : text;
}

const slots = <T extends string>(...values: T[]) => fc.array(fc.constantFrom(...values), { maxLength: 12 });
export const shapes: fc.Arbitrary<EnvelopeShape> = fc.record({
  type: slots("free", "used", "reserved"),
  request: slots<Slot>("free", "oneof", "field", "reserved"),
  reply: slots<Slot>("free", "oneof", "field", "reserved"),
  choices: fc.array(fc.nat(59), { maxLength: 40 }),
  crlf: fc.boolean(),
});
const NAMES = ["Accept", "Prepare", "commit", "pre-accept", "TryPreAccept", "Heartbeat", "vote_request", "Append"];
export const additions = fc.uniqueArray(
  fc.record({ name: fc.constantFrom(...NAMES), reply: fc.boolean(), fields: fc.boolean() }),
  { minLength: 1, maxLength: 8, selector: (add) => add.name },
);
type Addition = typeof additions extends fc.Arbitrary<(infer A)[]> ? A : never;

/** The protos of a random envelope: it and the beacon it imports. */
export const randomProtos = (shape: EnvelopeShape) =>
  new Map([
    ["envelope.proto", renderEnvelope(shape)],
    ["beacon.proto", canonical("beacon.proto")],
  ]);

/** A random addition planned: with or without fields, with or without a reply. */
export const planAddition = (protos: ReadonlyMap<string, string>, add: Addition) =>
  plan(protos, add.name, {
    request: add.fields ? "a:int32, b:repeated string" : "",
    reply: add.reply ? (add.fields ? "ok:bool" : "") : null,
  });
