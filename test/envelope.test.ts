// The envelope plans of `consensus add-message` and `remove-message`, and the
// wire check: golden files, formatting fixtures (input → expected, byte for
// byte), the ePaxos numbers, property tests over random envelopes, every
// refusal with its exact message, and buf breaking as the wire check's oracle.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import protobuf from "protobufjs";
import { compileProtos } from "../src/core/compile.js";
import { planAddMessage, type MessagePlan } from "../src/core/envelope/add.js";
import { planRemoveMessage, type RemovalPlan } from "../src/core/envelope/remove.js";
import { parseFieldSpecs } from "../src/core/proto/field-specs.js";
import { checkWireCompatible } from "../src/core/proto/wire.js";
import { ProtoError, UserError } from "../src/core/errors.js";
import { messageNames } from "../src/core/names.js";
import { bufBreaking } from "./support/buf.js";
import { CANONICAL_PROTOS, REPO } from "./support/paths.js";

const FIXTURES = path.join(REPO, "test/fixtures/envelope");
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), "utf8");
const canonical = (name: string) => readFileSync(path.join(CANONICAL_PROTOS, name), "utf8");
const crlf = (text: string) => text.replace(/\n/g, "\r\n");

/** The protos of a new `blank` project: the canonical set without the ePaxos messages. */
function blankProtos(envelope = canonical("envelope.proto")): Map<string, string> {
  return new Map([
    ["beacon.proto", canonical("beacon.proto")],
    ["client.proto", canonical("client.proto")],
    ["envelope.proto", envelope],
    ["service.proto", canonical("service.proto")],
  ]);
}

function epaxosProtos(): Map<string, string> {
  return new Map([...blankProtos(), ["epaxos.proto", canonical("epaxos.proto")]]);
}

interface Add {
  readonly request?: string;
  readonly reply?: string | null;
}

function plan(protos: ReadonlyMap<string, string>, name: string, add: Add = {}): MessagePlan {
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
function applied(protos: ReadonlyMap<string, string>, result: MessagePlan): Map<string, string> {
  const next = new Map(protos);
  next.set("envelope.proto", result.envelope);
  if (result.proto) next.set(result.proto.path, result.proto.text);
  return next;
}

/** Compiles with protoc (as `consensus protobuf` does) and returns its warnings. */
async function protoc(protos: ReadonlyMap<string, string>): Promise<string[]> {
  const planned = new Map([...protos].map(([file, text]) => [file, new TextEncoder().encode(text)] as const));
  const compiled = await compileProtos(REPO, "proto", [...protos.keys()], planned);
  return compiled.warnings;
}

describe("parseFieldSpecs", () => {
  it("reads name:type pairs, with spaces and repeated", () => {
    assert.deepEqual(
      parseFieldSpecs(" ballot : uint64 ,value:bytes, deps:repeated   int32,s: pb.Status ", "--request"),
      [
        { name: "ballot", type: "uint64", repeated: false },
        { name: "value", type: "bytes", repeated: false },
        { name: "deps", type: "int32", repeated: true },
        { name: "s", type: "pb.Status", repeated: false },
      ],
    );
    assert.deepEqual(parseFieldSpecs("", "--reply"), []);
    assert.deepEqual(parseFieldSpecs("   ", "--reply"), []);
  });
});

describe("planMessage", () => {
  it("adds Accept with request and reply fields to the canonical envelope (golden)", async () => {
    const protos = blankProtos();
    const result = plan(protos, "Accept", {
      request: "ballot:uint64,value:bytes,deps:repeated int32",
      reply: "ok:bool",
    });
    assert.equal(result.envelope, fixture("accept.envelope.proto"));
    assert.deepEqual(result.proto, { path: "accept.proto", text: fixture("accept.proto") });
    assert.equal(result.messagesFile, "accept.proto");
    assert.equal(result.reply, true);
    assert.deepEqual(result.numbers, { type: 1, request: 11, reply: 11 });
    assert.deepEqual(await protoc(applied(protos, result)), []);
  });

  it("keeps CRLF line endings", () => {
    const result = plan(blankProtos(crlf(canonical("envelope.proto"))), "Accept", {
      request: "ballot:uint64,value:bytes,deps:repeated int32",
      reply: "ok:bool",
    });
    assert.equal(result.envelope, crlf(fixture("accept.envelope.proto")));
  });

  it("writes a request-only proto, imports the files of the types it uses, and names them as given", async () => {
    const protos = epaxosProtos();
    const result = plan(protos, "Recover", {
      request: "status:Status, last:pb.Status, ids:repeated uint64",
      reply: null,
    });
    assert.deepEqual(result.proto, {
      path: "recover.proto",
      text: [
        "// Recover: the request of the RECOVER type, in PeerRequest.recover (request only: its reply carries no message).",
        'syntax = "proto3";',
        "package pb;",
        "",
        'import "epaxos.proto";',
        "",
        "message RecoverRequest {",
        "  Status status = 1;",
        "  Status last = 2;",
        "  repeated uint64 ids = 3;",
        "}",
        "",
      ].join("\n"),
    });
    assert.equal(result.reply, false);
    assert.deepEqual(result.numbers, { type: 1, request: 11 });
    assert.doesNotMatch(result.envelope, /RecoverReply/);
    assert.deepEqual(await protoc(applied(protos, result)), []);
  });

  it("writes empty messages when no fields are given", () => {
    const result = plan(blankProtos(), "Ping");
    assert.equal(
      result.proto?.text,
      [
        "// Ping: the messages of the PING type, in PeerRequest.ping and PeerReply.ping.",
        'syntax = "proto3";',
        "package pb;",
        "",
        "message PingRequest {}",
        "",
        "message PingReply {}",
        "",
      ].join("\n"),
    );
  });

  it("builds the ePaxos envelope by reusing epaxos.proto, with the original's numbers", async () => {
    let protos = epaxosProtos();
    const steps: Array<[string, Add, MessagePlan["numbers"]]> = [
      ["Prepare", {}, { type: 1, request: 11, reply: 11 }],
      ["accept", {}, { type: 2, request: 12, reply: 12 }],
      ["Commit", { reply: null }, { type: 3, request: 13 }],
      // PeerReply has no 13 (Commit has no reply): the reply shares its request's free number 14.
      ["try-pre-accept", {}, { type: 4, request: 14, reply: 14 }],
      ["preAccept", {}, { type: 5, request: 15, reply: 15 }],
    ];
    for (const [name, add, numbers] of steps) {
      const result = plan(protos, name, add);
      assert.equal(result.proto, undefined, name);
      assert.equal(result.messagesFile, "epaxos.proto", name);
      assert.equal(result.reply, add.reply !== null, name);
      assert.deepEqual(result.numbers, numbers, name);
      checkWireCompatible(protos, applied(protos, result));
      protos = applied(protos, result);
    }
    // What the epaxos template starts with (it is built this way), byte for byte.
    const expected = readFileSync(path.join(REPO, "test/fixtures/envelope/epaxos.envelope.proto"), "utf8");
    assert.equal(protos.get("envelope.proto"), expected);
    assert.equal(protos.get("envelope.proto")!.match(/import "epaxos.proto";/g)?.length, 1);
    assert.deepEqual(await protoc(protos), []);
  });

  it("reuses a Request without its Reply with --no-reply", () => {
    const result = plan(epaxosProtos(), "prepare", { reply: null });
    assert.equal(result.reply, false);
    assert.deepEqual(result.numbers, { type: 1, request: 11 });
    assert.doesNotMatch(result.envelope, /PrepareReply/);
  });

  it("gives the reply one past the highest when its request's number is taken in PeerReply", () => {
    const envelope = canonical("envelope.proto").replace("bool success = 3;", "bool success = 3;\n  string note = 11;");
    const result = plan(blankProtos(envelope), "Accept");
    assert.deepEqual(result.numbers, { type: 1, request: 11, reply: 12 });
  });

  it("does not add an import the envelope already has, nor one for messages in the envelope itself", () => {
    const envelope = canonical("envelope.proto").replace(
      "// The type of",
      "message PingRequest {}\nmessage PingReply {}\n\n// The type of",
    );
    const result = plan(blankProtos(envelope), "Ping");
    assert.equal(result.messagesFile, "envelope.proto");
    assert.equal(result.envelope.match(/^import /gm)?.length, 1);
    assert.match(result.envelope, /PingRequest ping = 11;/);
  });

  describe("formatting fixtures (Accept added to <case>.in.proto gives <case>.out.proto, and removed)", () => {
    const cases = readdirSync(FIXTURES).filter((file) => file.endsWith(".in.proto"));
    it("has the fixtures", () => assert.ok(cases.length >= 6));
    for (const file of cases) {
      it(file.replace(".in.proto", ""), async () => {
        const input = fixture(file);
        const protos = new Map([["envelope.proto", input]]);
        for (const other of ["beacon.proto", "client.proto"]) {
          if (input.includes(`import "${other}"`)) protos.set(other, canonical(other));
        }
        const result = plan(protos, "Accept");
        assert.equal(result.envelope, fixture(file.replace(".in.", ".out.")));
        assert.deepEqual(await protoc(applied(protos, result)), []);
      });
    }
    for (const file of cases) {
      const name = file.replace(".in.proto", "");
      it(`${name}: Accept removed again gives <case>.removed.proto, the input but for its reservations`, async () => {
        const added = fixture(file.replace(".in.", ".out."));
        const protos = new Map([
          ["envelope.proto", added],
          ["accept.proto", fixture("accept.proto")],
        ]);
        for (const other of ["beacon.proto", "client.proto"]) {
          if (added.includes(`import "${other}"`)) protos.set(other, canonical(other));
        }
        const result = planRemoval(protos, "Accept");
        assert.equal(result.envelope, fixture(`${name}.removed.proto`));
        assert.equal(withoutReserved(result.envelope), withoutReserved(fixture(file)));
        assert.equal(result.deletesMessagesFile, true);
        assert.deepEqual(await protoc(removed(protos, result)), []);
      });
    }
    it("skips reserved numbers in enum Type, PeerRequest and PeerReply", () => {
      const result = plan(
        new Map([
          ["envelope.proto", fixture("reserved.in.proto")],
          ["beacon.proto", canonical("beacon.proto")],
        ]),
        "Accept",
      );
      assert.deepEqual(result.numbers, { type: 10, request: 21, reply: 26 });
    });
  });
});

// ---------------------------------------------------------------------------
// Property: random envelopes, random sequences of added types

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
const shapes: fc.Arbitrary<EnvelopeShape> = fc.record({
  type: slots("free", "used", "reserved"),
  request: slots<Slot>("free", "oneof", "field", "reserved"),
  reply: slots<Slot>("free", "oneof", "field", "reserved"),
  choices: fc.array(fc.nat(59), { maxLength: 40 }),
  crlf: fc.boolean(),
});
const NAMES = ["Accept", "Prepare", "commit", "pre-accept", "TryPreAccept", "Heartbeat", "vote_request", "Append"];
const additions = fc.uniqueArray(
  fc.record({ name: fc.constantFrom(...NAMES), reply: fc.boolean(), fields: fc.boolean() }),
  { minLength: 1, maxLength: 8, selector: (add) => add.name },
);
type Addition = typeof additions extends fc.Arbitrary<(infer A)[]> ? A : never;

/** The protos of a random envelope: it and the beacon it imports. */
const randomProtos = (shape: EnvelopeShape) =>
  new Map([
    ["envelope.proto", renderEnvelope(shape)],
    ["beacon.proto", canonical("beacon.proto")],
  ]);

/** A random addition planned: with or without fields, with or without a reply. */
const planAddition = (protos: ReadonlyMap<string, string>, add: Addition) =>
  plan(protos, add.name, {
    request: add.fields ? "a:int32, b:repeated string" : "",
    reply: add.reply ? (add.fields ? "ok:bool" : "") : null,
  });

interface Numbers {
  readonly type: Map<string, number>;
  readonly request: Map<string, number>;
  readonly reply: Map<string, number>;
  readonly reserved: { type: number[][]; request: number[][]; reply: number[][] };
}

/** The envelope's numbers, read with protobufjs independently of the module under test. */
function numbersOf(text: string): Numbers {
  const { root } = protobuf.parse(text, new protobuf.Root(), { keepCase: true, alternateCommentMode: true });
  const type = root.lookupEnum("pb.Type");
  const request = root.lookupType("pb.PeerRequest");
  const reply = root.lookupType("pb.PeerReply");
  const fields = (message: protobuf.Type) => new Map(message.fieldsArray.map((field) => [field.name, field.id]));
  const ranges = (reserved: (number[] | string)[] | undefined) =>
    (reserved ?? []).filter((entry): entry is number[] => typeof entry !== "string");
  return {
    type: new Map(Object.entries(type.values)),
    request: fields(request),
    reply: fields(reply),
    reserved: { type: ranges(type.reserved), request: ranges(request.reserved), reply: ranges(reply.reserved) },
  };
}

/**
 * `text` without the inserted statements: a statement alone on its line goes
 * with its line, one inside a line with the space that separates it.
 */
function withoutInsertions(text: string, statements: readonly string[]): string {
  let result = text;
  for (const statement of statements) {
    const at = result.indexOf(statement);
    assert.ok(at >= 0, `${statement} is in the envelope`);
    assert.equal(result.indexOf(statement, at + 1), -1, `${statement} is there once`);
    const end = at + statement.length;
    const lineStart = result.lastIndexOf("\n", at - 1) + 1;
    const eol = /^\r?\n/.exec(result.slice(end))?.[0];
    if (/^[ \t]*$/.test(result.slice(lineStart, at)) && eol) {
      result = result.slice(0, lineStart) + result.slice(end + eol.length);
    } else if (result[at - 1] === " ") {
      result = result.slice(0, at - 1) + result.slice(end);
    } else {
      assert.equal(result[end], " ", `${statement} is separated by a space`);
      result = result.slice(0, at) + result.slice(end + 1);
    }
  }
  return result;
}

describe("property: random envelopes and additions", () => {
  it("keeps numbers unique, unreserved and unchanged, and every byte of the envelope", () => {
    fc.assert(
      fc.property(shapes, additions, (shape, adds) => {
        let protos = randomProtos(shape);
        for (const add of adds) {
          const before = protos.get("envelope.proto")!;
          const old = numbersOf(before);
          const result = planAddition(protos, add);
          const after = result.envelope;
          const now = numbersOf(after);
          const names = messageNames(add.name);
          for (const key of ["type", "request", "reply"] as const) {
            for (const [name, number] of old[key]) assert.equal(now[key].get(name), number, `${key} ${name}`);
            const values = [...now[key].values()];
            assert.equal(new Set(values).size, values.length, `${key} numbers are unique`);
            for (const [from, to] of now.reserved[key]) {
              for (const [name, number] of now[key]) {
                assert.ok(number < from! || number > to!, `${key} ${name} = ${number} is reserved`);
              }
            }
          }
          assert.equal(now.type.get(names.constant), result.numbers.type);
          assert.equal(now.request.get(names.field), result.numbers.request);
          assert.equal(now.reply.get(names.field), result.numbers.reply);
          assert.equal(now.type.size, old.type.size + 1);
          assert.equal(now.reply.size, old.reply.size + (add.reply ? 1 : 0));
          const inserted = [
            `${names.constant} = ${result.numbers.type};`,
            `${names.prefix}Request ${names.field} = ${result.numbers.request};`,
            ...(add.reply ? [`${names.prefix}Reply ${names.field} = ${result.numbers.reply};`] : []),
            `import "${result.messagesFile}";`,
          ];
          assert.equal(withoutInsertions(after, inserted), before, "only the new lines are added");
          // A reply is numbered above everything PeerReply used or reserved, with its request's number when that is.
          const replyNext = Math.max(0, ...old.reply.values(), ...old.reserved.reply.map(([, to]) => to!)) + 1;
          if (add.reply) {
            assert.ok(result.numbers.reply! >= replyNext, `reply ${result.numbers.reply} is above ${replyNext - 1}`);
            if (result.numbers.request >= replyNext) assert.equal(result.numbers.reply, result.numbers.request);
          }
          if (shape.crlf) assert.doesNotMatch(after, /[^\r]\n/);
          else assert.doesNotMatch(after, /\r/);
          const next = applied(protos, result);
          checkWireCompatible(protos, next);
          protos = next;
        }
      }),
      { numRuns: 150 },
    );
  });
});

/** A removal planned. */
const planRemoval = (protos: ReadonlyMap<string, string>, name: string) =>
  planRemoveMessage({
    protos,
    envelope: "envelope.proto",
    envelopeShown: "proto/envelope.proto",
    name: messageNames(name),
  });

/** The project's protos after a removal. */
function removed(protos: ReadonlyMap<string, string>, result: RemovalPlan): Map<string, string> {
  const next = new Map(protos);
  next.set("envelope.proto", result.envelope);
  if (result.deletesMessagesFile) next.delete(result.messagesFile!);
  return next;
}

/** `text` without its reserved statements (and the line each had to itself). */
const withoutReserved = (text: string) => text.replace(/^[ \t]*reserved [^;]*;[ \t]*\r?\n|[ \t]*reserved [^;]*;/gm, "");

describe("property: random envelopes, additions and removals", () => {
  it("add then remove gives back the envelope but for its reservations; every step wire-compatible, for buf too", () => {
    fc.assert(
      fc.property(shapes, additions, fc.array(fc.nat(), { maxLength: 8 }), (shape, adds, picks) => {
        let protos = randomProtos(shape);
        const live: string[] = [];
        const step = (next: Map<string, string>) => {
          checkWireCompatible(protos, next);
          assert.equal(bufBreaking(protos, next), null, `buf breaking after\n${next.get("envelope.proto")}`);
          protos = next;
        };
        for (const [index, add] of adds.entries()) {
          const before = protos.get("envelope.proto")!;
          const added = applied(protos, planAddition(protos, add));
          // The round trip, off the path: the removal right after the addition.
          const back = planRemoval(added, add.name);
          assert.equal(back.deletesMessagesFile, true);
          assert.equal(withoutReserved(back.envelope), withoutReserved(before), `${add.name} added and removed`);
          step(added);
          live.push(add.name);
          // Then, now and then, a removal of one of the types added so far (never added again here).
          const pick = picks[index];
          if (pick !== undefined && pick % 2 === 0) {
            const name = live.splice(pick % live.length, 1)[0]!;
            const result = planRemoval(protos, name);
            const names = messageNames(name);
            const now = numbersOf(result.envelope);
            assert.equal(now.type.has(names.constant), false);
            assert.equal(now.request.has(names.field), false);
            assert.ok(
              now.reserved.type.some(([from, to]) => result.removed.number >= from! && result.removed.number <= to!),
              `${names.constant} = ${result.removed.number} reserved`,
            );
            step(removed(protos, result));
          }
        }
      }),
      { numRuns: 8 },
    );
  });

  it("a type removed and added again gets new numbers, and the old ones stay reserved", () => {
    const blank = blankProtos();
    const first = plan(blank, "Accept", { request: "a:int32", reply: "ok:bool" });
    const withAccept = applied(blank, first);
    const removal = planRemoval(withAccept, "Accept");
    const without = removed(withAccept, removal);
    assert.equal(without.has("accept.proto"), false);
    const again = plan(without, "Accept", { request: "a:int32", reply: "ok:bool" });
    assert.deepEqual(again.revived, ["ACCEPT", "accept"]);
    assert.ok(again.numbers.type > first.numbers.type, `${again.numbers.type} > ${first.numbers.type}`);
    assert.ok(again.numbers.request > first.numbers.request);
    const now = numbersOf(again.envelope);
    assert.ok(now.reserved.type.some(([from, to]) => first.numbers.type >= from! && first.numbers.type <= to!));
    assert.ok(
      now.reserved.request.some(([from, to]) => first.numbers.request >= from! && first.numbers.request <= to!),
    );
    // Against the envelope before the removal, the new type is an addition: buf finds nothing breaking.
    assert.equal(bufBreaking(withAccept, applied(without, again)), null);
  });
});

// ---------------------------------------------------------------------------
// Refusals

function refuses(run: () => unknown, message: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof UserError, `a UserError, not ${String(error)}`);
    assert.equal(error.message, message);
    return true;
  });
}

describe("refusals", () => {
  const blank = blankProtos();
  const epaxos = epaxosProtos();
  const withFile = (file: string, text: string, base = blank) => new Map([...base, [file, text]]);
  const envelopeWith = (from: string, to: string) => blankProtos(canonical("envelope.proto").replace(from, to));

  describe("names", () => {
    const cases: Array<[string, ReadonlyMap<string, string>, string, Add, string]> = [
      [
        "a Type value",
        blank,
        "Beacon",
        {},
        "proto/envelope.proto: enum Type already has a value BEACON: choose another name",
      ],
      [
        "a field of PeerRequest",
        blank,
        "Sender",
        {},
        "proto/envelope.proto: message PeerRequest already has a field sender: choose another name",
      ],
      [
        "a field of PeerReply only",
        blank,
        "success",
        {},
        "proto/envelope.proto: message PeerReply already has a field success: choose another name",
      ],
      [
        "a field that differs in underscores only",
        envelopeWith("string sender = 2; // name of the replica that sent it", "string vote_request = 2;"),
        "VoteRequest",
        {},
        "proto/envelope.proto: message PeerRequest already has a field vote_request: choose another name",
      ],
      [
        "the envelope's Type",
        blank,
        "Type",
        {},
        `"Type" would use Type, one of the envelope's own names: choose another name`,
      ],
      [
        "PeerRequest by prefix",
        blank,
        "Peer",
        {},
        `"Peer" would use PeerRequest, one of the envelope's own names: choose another name`,
      ],
      [
        "PeerReply itself",
        blank,
        "PeerReply",
        {},
        `"PeerReply" would use PeerReply, one of the envelope's own names: choose another name`,
      ],
      [
        "ProposeRequest by prefix",
        blank,
        "propose",
        {},
        `"Propose" would use ProposeRequest, one of the envelope's own names: choose another name`,
      ],
      [
        "a proto keyword",
        blank,
        "Option",
        {},
        `"Option" gives the oneof field or Type value option, a proto keyword: choose another name`,
      ],
      [
        "a scalar type name",
        blank,
        "Bytes",
        {},
        `"Bytes" gives the oneof field or Type value bytes, a proto keyword: choose another name`,
      ],
      [
        "the oneof's name",
        blank,
        "message",
        {},
        `"Message" gives the oneof field or Type value message, a proto keyword: choose another name`,
      ],
      [
        "a TypeScript word",
        blank,
        "delete",
        {},
        `"Delete" gives the handler name delete, a TypeScript reserved word: choose another name`,
      ],
      [
        "another TypeScript word",
        blank,
        "Class",
        {},
        `"Class" gives the handler name class, a TypeScript reserved word: choose another name`,
      ],
      ["new", blank, "new", {}, `"New" gives the handler name new, a TypeScript reserved word: choose another name`],
      [
        "a replica.ts local",
        blank,
        "context",
        {},
        `"Context" gives the handler name context, a name replica.ts already uses: choose another name`,
      ],
      [
        "request",
        blank,
        "Request",
        {},
        `"Request" gives the handler name request, a name replica.ts already uses: choose another name`,
      ],
      [
        "typeName",
        blank,
        "type-name",
        {},
        `"TypeName" gives the handler name typeName, a name replica.ts already uses: choose another name`,
      ],
      [
        "toStatusError",
        blank,
        "ToStatusError",
        {},
        `"ToStatusError" gives the handler name toStatusError, a name replica.ts already uses: choose another name`,
      ],
      [
        "ts-proto's UNRECOGNIZED",
        blank,
        "unrecognized",
        {},
        `"Unrecognized" gives the Type value UNRECOGNIZED, which ts-proto adds to every enum: choose another name`,
      ],
      [
        "an enum value of the package",
        epaxos,
        "Accepted",
        {},
        "the Type value ACCEPTED would clash with ACCEPTED, a value of enum Status in proto/epaxos.proto (proto enum values share their package's scope): choose another name",
      ],
      [
        "an enum",
        epaxos,
        "Status",
        {},
        "Status is already an enum in proto/epaxos.proto: choose another name for the message type",
      ],
      [
        "a message",
        withFile("ping.proto", 'syntax = "proto3";\npackage pb;\nmessage Ping {}\n'),
        "Ping",
        {},
        "Ping is already a message in proto/ping.proto: choose another name for the message type",
      ],
      [
        "<Prefix>Request as an enum",
        withFile("ping.proto", 'syntax = "proto3";\npackage pb;\nenum PingRequest { PING_NONE = 0; }\n'),
        "Ping",
        {},
        "PingRequest is already an enum in proto/ping.proto, not a message: choose another name",
      ],
    ];
    for (const [what, protos, name, add, message] of cases) {
      it(what, () => refuses(() => plan(protos, name, add), message));
    }
  });

  describe("reuse", () => {
    it("field specs for messages that exist", () =>
      refuses(
        () => plan(epaxos, "Accept", { request: "ballot:uint64" }),
        "AcceptRequest is already defined in proto/epaxos.proto: drop --request and --reply to reuse it, or choose another name",
      ));
    it("a Request without a Reply, without --no-reply", () =>
      refuses(
        () => plan(epaxos, "Commit"),
        "CommitRequest exists in proto/epaxos.proto but CommitReply does not: add --no-reply for a request-only type, or define CommitReply there",
      ));
    it("a Reply without a Request", () =>
      refuses(
        () => plan(withFile("ping.proto", 'syntax = "proto3";\npackage pb;\nmessage PingReply {}\n'), "Ping"),
        "PingReply already exists in proto/ping.proto but PingRequest does not: define PingRequest beside it, or choose another name",
      ));
    it("a Reply in another file than the Request", () =>
      refuses(
        () =>
          plan(
            withFile(
              "b.proto",
              'syntax = "proto3";\npackage pb;\nmessage PingReply {}\n',
              withFile("a.proto", 'syntax = "proto3";\npackage pb;\nmessage PingRequest {}\n'),
            ),
            "Ping",
          ),
        "PingReply is defined in proto/b.proto, not beside PingRequest in proto/a.proto: move it there",
      ));
    it("messages in a file that imports the envelope", () =>
      refuses(
        () =>
          plan(
            withFile(
              "ping.proto",
              'syntax = "proto3";\npackage pb;\nimport "service.proto";\nmessage PingRequest {}\nmessage PingReply {}\n',
            ),
            "Ping",
          ),
        "proto/ping.proto imports proto/envelope.proto, which would then import it back: move PingRequest to a file of its own",
      ));
    it("a new file whose name is taken", () =>
      refuses(
        () => plan(withFile("ping.proto", 'syntax = "proto3";\npackage pb;\nmessage Pong {}\n'), "Ping"),
        "proto/ping.proto already exists and does not define PingRequest: define the messages there to reuse them, or choose another name",
      ));
  });

  describe("field specs", () => {
    const cases: Array<[string, string, "--request" | "--reply", string]> = [
      [
        "a missing colon",
        "ballot",
        "--request",
        `--request: "ballot" has no type: write it as name:type, e.g. ballot:uint64`,
      ],
      [
        "a missing name",
        ":bool",
        "--reply",
        `--reply: ":bool" has no field name: write it as name:type, e.g. ballot:uint64`,
      ],
      [
        "a missing type",
        "ok: repeated ",
        "--reply",
        `--reply: "ok: repeated" has no type: write it as name:type, e.g. ballot:uint64`,
      ],
      [
        "an empty item",
        "a:int32,,b:bool",
        "--request",
        `--request: empty field in "a:int32,,b:bool": write name:type pairs separated by commas`,
      ],
      [
        "a bad name",
        "1st:int32",
        "--request",
        `--request: "1st" is not a field name: use letters, digits and _, starting with a letter, e.g. ballot`,
      ],
      [
        "a bad type",
        "m:map<string",
        "--request",
        `--request: "map<string" (field m) is not a type: use a scalar such as int32, uint64, bool, string or bytes, or a message or enum of the project`,
      ],
      [
        "a duplicate",
        "ballot:uint64, ballot:int32",
        "--request",
        `--request: field "ballot" is given twice: give each field once`,
      ],
      [
        "a case clash",
        "fooBar:int32,foobar:int32",
        "--reply",
        `--reply: fields "fooBar" and "foobar" differ only in case or underscores, so they clash in JSON and TypeScript: rename one`,
      ],
      [
        "an underscore clash",
        "foo_bar:int32,fooBar:int32",
        "--request",
        `--request: fields "foo_bar" and "fooBar" differ only in case or underscores, so they clash in JSON and TypeScript: rename one`,
      ],
    ];
    for (const [what, text, flag, message] of cases)
      it(what, () => refuses(() => parseFieldSpecs(text, flag), message));

    it("an unknown type", () =>
      refuses(
        () => plan(blank, "Accept", { request: "ballot:Ballot" }),
        `--request: unknown type "Ballot" for field ballot: use a scalar such as int32, uint64, bool, string or bytes, or a message or enum of the project`,
      ));
    it("a service as a type", () =>
      refuses(
        () => plan(blank, "Accept", { reply: "c:Consensus" }),
        `--reply: unknown type "Consensus" for field c: use a scalar such as int32, uint64, bool, string or bytes, or a message or enum of the project`,
      ));
    it("a type of the envelope (an import cycle)", () =>
      refuses(
        () => plan(blank, "Accept", { request: "kind:Type" }),
        "--request: type Type (field kind) is defined in proto/envelope.proto, which would import the new file in turn: use a type from another file",
      ));
  });

  describe("the envelope", () => {
    it("does not parse: file:line:col", () => {
      const protos = envelopeWith("string sender = 2; // name of the replica that sent it", "string sender = ;");
      assert.throws(
        () => plan(protos, "Accept"),
        (error: unknown) =>
          error instanceof ProtoError &&
          error.message === "proto/envelope.proto:17:19: illegal id ';'" &&
          error.line === 17 &&
          error.column === 19,
      );
    });
    it("names the token protobufjs stopped at", () =>
      refuses(
        () => plan(envelopeWith("Type type = 1;     // which", "Type type = 1 oops;     // which"), "Accept"),
        "proto/envelope.proto:16:17: illegal token 'oops', ';' expected",
      ));
    it("ends early", () =>
      refuses(
        () => plan(blankProtos(canonical("envelope.proto").slice(0, -2)), "Accept"),
        "proto/envelope.proto:33:1: illegal end of input 'null'",
      ));
    it("declares a value twice (protobufjs gives no line)", () =>
      refuses(
        () => plan(envelopeWith("BEACON = 0;", "BEACON = 0;\n  BEACON = 1;"), "Accept"),
        "proto/envelope.proto:12:3: duplicate name 'BEACON' in Enum Type",
      ));
    it("numbers a field twice (protobufjs gives no line)", () =>
      refuses(
        () => plan(envelopeWith("bool success = 3;", "bool success = 3;\n  bool failure = 2;"), "Accept"),
        "proto/envelope.proto:29:18: duplicate id 2 in Type PeerReply",
      ));
    it("another proto does not parse", () =>
      refuses(
        () => plan(new Map([...blank, ["beacon.proto", 'syntax = "proto3";\nmessage {\n']]), "Accept"),
        "proto/beacon.proto:2:9: illegal type name '{'",
      ));
    it("has no enum Type", () =>
      refuses(
        () => plan(envelopeWith("enum Type {", "enum Kind {"), "Accept"),
        "proto/envelope.proto: no enum Type: the envelope needs enum Type { BEACON = 0; … }",
      ));
    it("has no PeerRequest", () =>
      refuses(
        () => plan(envelopeWith("message PeerRequest {", "message PeerAsk {"), "Accept"),
        "proto/envelope.proto: no message PeerRequest: the envelope needs PeerRequest and PeerReply, each with a oneof message { … }",
      ));
    it("has no oneof in PeerReply", () =>
      refuses(
        () =>
          plan(
            envelopeWith("oneof message {\n    BeaconReply beacon = 10;\n  }", "BeaconReply beacon = 10;"),
            "Accept",
          ),
        'proto/envelope.proto: message PeerReply has no oneof message: add "oneof message { … }" with one member per type',
      ));
    it("reserves Type values up to max", () =>
      refuses(
        () => plan(envelopeWith("BEACON = 0;", "BEACON = 0;\n  reserved 5 to max;"), "Accept"),
        "proto/envelope.proto: enum Type uses or reserves values up to the maximum: free some of its reserved range",
      ));
  });
});

const WIRE_BEFORE = new Map([
  [
    "a.proto",
    'syntax = "proto3";\npackage pb;\nenum E { A = 0; B = 1; reserved 5; reserved "GONE"; }\nenum F { X = 0; }\nmessage M {\n  int32 x = 1;\n  oneof o { string s = 2; }\n  E e = 3;\n  reserved 7, 9 to 11;\n  reserved "old";\n}\n',
  ],
]);
const wireChange = (from: string, to: string) => new Map([["a.proto", WIRE_BEFORE.get("a.proto")!.replace(from, to)]]);
const WIRE_ACCEPTED = [
  wireChange("E e = 3;", "E e = 3;\n  repeated bool more = 4;"),
  new Map([
    [
      "a.proto",
      'syntax = "proto3";\npackage pb;\nimport "b.proto";\nenum F { X = 0; }\nmessage M {\n  int32 x = 1;\n  oneof o { string s = 2; }\n  .pb.E e = 3;\n  reserved 7, 9 to 11;\n  reserved "old";\n}\n',
    ],
    ["b.proto", 'syntax = "proto3";\npackage pb;\nenum E { A = 0; B = 1; C = 2; reserved 5; reserved "GONE"; }\n'],
  ]),
  // What remove-message does: the field (the value) goes, its number and name reserved.
  wireChange("int32 x = 1;", 'reserved 1; reserved "x";'),
  wireChange(" B = 1;", ' reserved 1; reserved "B";'),
  // Reservations written otherwise, or grown.
  wireChange("reserved 7, 9 to 11;", "reserved 7, 9, 10, 11, 12 to 20;"),
  // A whole enum or message may go (only fields travel), as in buf's WIRE.
  wireChange("enum F { X = 0; }\n", ""),
];
/**
 * What changes, from, to, the message, and whether buf's WIRE check refuses it too. This check is
 * stricter than the wire: a renamed field or value, int32 made int64, or a removal that reserves the
 * number but not the name keep the bytes but change the generated stubs' names and types.
 */
const WIRE_REFUSED: Array<[string, string, string, string, boolean]> = [
  [
    "a renumbered field",
    "int32 x = 1;",
    "int32 x = 5;",
    "field pb.M.x changed number from 1 to 5: existing names and numbers must not change",
    true,
  ],
  [
    "a removed field",
    "int32 x = 1;",
    "",
    'field pb.M.x (number 1) was removed without reserving its number and name: add reserved 1; reserved "x"; where it was',
    true,
  ],
  [
    "a removed field whose name only is reserved",
    "int32 x = 1;",
    'reserved "x";',
    'field pb.M.x (number 1) was removed without reserving its number: add reserved 1; reserved "x"; where it was',
    true,
  ],
  [
    "a removed field whose number only is reserved",
    "int32 x = 1;",
    "reserved 1;",
    'field pb.M.x (number 1) was removed without reserving its name: add reserved 1; reserved "x"; where it was',
    false,
  ],
  [
    "a renamed field",
    "int32 x = 1;",
    "int32 y = 1;",
    'field pb.M.x (number 1) was removed without reserving its number and name: add reserved 1; reserved "x"; where it was',
    false,
  ],
  [
    "a changed type",
    "int32 x = 1;",
    "string x = 1;",
    "field pb.M.x changed type from int32 to string: existing names and numbers must not change",
    true,
  ],
  [
    "a type changed within the wire",
    "int32 x = 1;",
    "int64 x = 1;",
    "field pb.M.x changed type from int32 to int64: existing names and numbers must not change",
    false,
  ],
  [
    "a changed label",
    "int32 x = 1;",
    "repeated int32 x = 1;",
    "field pb.M.x changed type from int32 to repeated int32: existing names and numbers must not change",
    true,
  ],
  [
    "a member out of its oneof",
    "oneof o { string s = 2; }",
    "string s = 2;",
    "field pb.M.s moved out of oneof o: existing names and numbers must not change",
    true,
  ],
  [
    "a field into a oneof",
    "int32 x = 1;\n  oneof o { string s = 2; }",
    "oneof o { string s = 2; int32 x = 1; }",
    "field pb.M.x moved into oneof o: existing names and numbers must not change",
    true,
  ],
  [
    "a renumbered value",
    "B = 1;",
    "B = 2;",
    "value B of enum pb.E changed from 1 to 2: existing names and numbers must not change",
    true,
  ],
  [
    "a removed value",
    " B = 1;",
    "",
    'value B of enum pb.E (number 1) was removed without reserving its number and name: add reserved 1; reserved "B"; where it was',
    true,
  ],
  [
    "a renamed value",
    "B = 1;",
    "C = 1;",
    'value B of enum pb.E (number 1) was removed without reserving its number and name: add reserved 1; reserved "B"; where it was',
    false,
  ],
  [
    "a deleted reserved range",
    "reserved 7, 9 to 11;",
    "reserved 7;",
    "message pb.M no longer reserves 9 to 11: a reserved number stays reserved, so that no new field reads old data as its own",
    true,
  ],
  [
    "a narrowed reserved range",
    "reserved 7, 9 to 11;",
    "reserved 7, 9, 11;",
    "message pb.M no longer reserves 10: a reserved number stays reserved, so that no new field reads old data as its own",
    true,
  ],
  [
    "a reserved number taken by a new field",
    "reserved 7, 9 to 11;",
    "reserved 9 to 11;\n  bool seven = 7;",
    "message pb.M no longer reserves 7: a reserved number stays reserved, so that no new field reads old data as its own",
    true,
  ],
  [
    "a deleted reserved name",
    '  reserved "old";\n',
    "",
    'message pb.M no longer reserves the name "old": a reserved name stays reserved',
    true,
  ],
  [
    "a deleted reserved enum number",
    "reserved 5; ",
    "",
    "enum pb.E no longer reserves 5: a reserved number stays reserved, so that no new field reads old data as its own",
    true,
  ],
  [
    "a deleted reserved enum name",
    'reserved "GONE"; ',
    "",
    'enum pb.E no longer reserves the name "GONE": a reserved name stays reserved',
    true,
  ],
];

describe("checkWireCompatible", () => {
  it("accepts additions and moves between files", () => {
    for (const after of WIRE_ACCEPTED) checkWireCompatible(WIRE_BEFORE, after);
  });
  for (const [what, from, to, message] of WIRE_REFUSED) {
    it(`refuses ${what}`, () =>
      refuses(() => checkWireCompatible(WIRE_BEFORE, wireChange(from, to)), `not wire-compatible: ${message}`));
  }
});

describe("checkWireCompatible against buf breaking (WIRE), the oracle", () => {
  it("accepts only what buf accepts, and refuses all that buf refuses", () => {
    for (const after of WIRE_ACCEPTED) assert.equal(bufBreaking(WIRE_BEFORE, after), null);
    for (const [what, from, to, , refusedByBuf] of WIRE_REFUSED) {
      assert.equal(bufBreaking(WIRE_BEFORE, wireChange(from, to)) !== null, refusedByBuf, what);
    }
  });

  it("finds nothing breaking in random sequences of additions to random envelopes", () => {
    fc.assert(
      fc.property(shapes, additions, (shape, adds) => {
        const first = randomProtos(shape);
        let protos = first;
        for (const add of adds) protos = applied(protos, planAddition(protos, add));
        assert.equal(bufBreaking(first, protos), null);
      }),
      { numRuns: 12 },
    );
  });

  it("refuses every random breaking change that buf refuses, and more only where it is stricter", () => {
    fc.assert(
      fc.property(wireModels, wireMutations, (model, mutations) => {
        const before = new Map([["a.proto", renderWireModel(model)]]);
        const after = new Map([["a.proto", renderWireModel(mutated(model, mutations))]]);
        let ours: string | null = null;
        try {
          checkWireCompatible(before, after);
        } catch (error) {
          assert.ok(error instanceof UserError, String(error));
          ours = error.message;
        }
        const buf = bufBreaking(before, after);
        if (buf !== null)
          assert.notEqual(ours, null, `buf refuses, the check does not:\n${buf}\n${after.get("a.proto")}`);
        if (ours !== null && buf === null) {
          // Where this check is stricter than the wire: names and types of the generated stubs.
          assert.match(ours, /without reserving its (number and )?name|changed type from/, ours);
        }
      }),
      { numRuns: 30 },
    );
  });
});

// ---------------------------------------------------------------------------
// Random protos for the wire oracle: one message (some fields in a oneof) and one enum, with reservations.

interface WireField {
  name: string;
  number: number;
  type: string;
  oneof: boolean;
}
interface WireModel {
  fields: WireField[];
  reservedNumbers: number[];
  reservedNames: string[];
  values: { name: string; number: number }[];
  valueReservedNumbers: number[];
  valueReservedNames: string[];
}

const WIRE_TYPES = ["int32", "int64", "uint64", "bool", "string", "bytes", "E"];
const wireModels: fc.Arbitrary<WireModel> = fc
  .record({
    fieldCount: fc.integer({ min: 1, max: 5 }),
    types: fc.array(fc.constantFrom(...WIRE_TYPES), { minLength: 5, maxLength: 5 }),
    oneof: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    reserved: fc.uniqueArray(fc.integer({ min: 10, max: 30 }), { maxLength: 4 }),
    names: fc.integer({ min: 0, max: 2 }),
    valueCount: fc.integer({ min: 1, max: 4 }),
    valueReserved: fc.uniqueArray(fc.integer({ min: 10, max: 20 }), { maxLength: 3 }),
  })
  .map((r) => ({
    fields: Array.from({ length: r.fieldCount }, (_, i) => ({
      name: `f${i + 1}`,
      number: i + 1,
      type: r.types[i]!,
      oneof: r.oneof[i]!,
    })),
    reservedNumbers: r.reserved,
    reservedNames: Array.from({ length: r.names }, (_, i) => `old${i}`),
    values: Array.from({ length: r.valueCount }, (_, i) => ({ name: `E_V${i}`, number: i })),
    valueReservedNumbers: r.valueReserved,
    valueReservedNames: Array.from({ length: r.names }, (_, i) => `E_OLD${i}`),
  }));

const WIRE_MUTATIONS = [
  "remove field",
  "remove field, reserve number",
  "remove field, reserve name",
  "remove field, reserve both",
  "renumber field",
  "rename field",
  "retype field",
  "toggle oneof",
  "add field",
  "drop reserved number",
  "drop reserved name",
  "remove value, reserve both",
  "remove value",
  "renumber value",
  "drop reserved value number",
  "drop reserved value name",
] as const;
const wireMutations = fc.array(fc.record({ kind: fc.constantFrom(...WIRE_MUTATIONS), at: fc.nat(), pick: fc.nat() }), {
  minLength: 1,
  maxLength: 3,
});

/** `model` after `mutations`; a mutation with nothing to act on is skipped. Every result is a valid proto. */
function mutated(model: WireModel, mutations: { kind: (typeof WIRE_MUTATIONS)[number]; at: number; pick: number }[]) {
  const m: WireModel = structuredClone(model);
  const usedNumbers = () => new Set([...m.fields.map((f) => f.number), ...m.reservedNumbers]);
  const usedNames = () => new Set([...m.fields.map((f) => f.name), ...m.reservedNames]);
  const free = (used: Set<number>, from: number) => {
    let n = from;
    while (used.has(n)) n++;
    return n;
  };
  for (const { kind, at, pick } of mutations) {
    const field = m.fields[at % Math.max(1, m.fields.length)];
    const value = m.values.length > 1 ? m.values[1 + (at % (m.values.length - 1))] : undefined;
    switch (kind) {
      case "remove field":
      case "remove field, reserve number":
      case "remove field, reserve name":
      case "remove field, reserve both":
        if (!field || m.fields.length === 1) break;
        m.fields.splice(m.fields.indexOf(field), 1);
        if (kind.endsWith("number") || kind.endsWith("both")) m.reservedNumbers.push(field.number);
        if (kind.endsWith("name") || kind.endsWith("both")) m.reservedNames.push(field.name);
        break;
      case "renumber field":
        if (field) field.number = free(usedNumbers(), 40 + (pick % 5));
        break;
      case "rename field":
        if (field && !usedNames().has(`g${pick % 9}`)) field.name = `g${pick % 9}`;
        break;
      case "retype field":
        if (field) field.type = WIRE_TYPES[pick % WIRE_TYPES.length]!;
        break;
      case "toggle oneof":
        if (field) field.oneof = !field.oneof;
        break;
      case "add field":
        if (!usedNames().has(`n${pick % 9}`)) {
          m.fields.push({
            name: `n${pick % 9}`,
            number: free(usedNumbers(), 50 + (pick % 5)),
            type: "string",
            oneof: pick % 2 === 0,
          });
        }
        break;
      case "drop reserved number":
        m.reservedNumbers.splice(pick % Math.max(1, m.reservedNumbers.length), 1);
        break;
      case "drop reserved name":
        m.reservedNames.splice(pick % Math.max(1, m.reservedNames.length), 1);
        break;
      case "remove value":
      case "remove value, reserve both":
        if (!value) break;
        m.values.splice(m.values.indexOf(value), 1);
        if (kind.endsWith("both")) (m.valueReservedNumbers.push(value.number), m.valueReservedNames.push(value.name));
        break;
      case "renumber value":
        if (value) {
          const used = new Set([...m.values.map((v) => v.number), ...m.valueReservedNumbers]);
          value.number = free(used, 30 + (pick % 5));
        }
        break;
      case "drop reserved value number":
        m.valueReservedNumbers.splice(pick % Math.max(1, m.valueReservedNumbers.length), 1);
        break;
      case "drop reserved value name":
        m.valueReservedNames.splice(pick % Math.max(1, m.valueReservedNames.length), 1);
        break;
    }
  }
  return m;
}

function renderWireModel(m: WireModel): string {
  const reserved = (numbers: number[], names: string[]) => [
    ...(numbers.length > 0 ? [`reserved ${numbers.join(", ")};`] : []),
    ...(names.length > 0 ? [`reserved ${names.map((name) => `"${name}"`).join(", ")};`] : []),
  ];
  const field = (f: WireField) => `${f.type} ${f.name} = ${f.number};`;
  const inOneof = m.fields.filter((f) => f.oneof);
  const lines = [
    'syntax = "proto3";',
    "package pb;",
    "enum E {",
    ...m.values.map((v) => `  ${v.name} = ${v.number};`),
    ...reserved(m.valueReservedNumbers, m.valueReservedNames).map((line) => `  ${line}`),
    "}",
    "message M {",
    ...m.fields.filter((f) => !f.oneof).map((f) => `  ${field(f)}`),
    ...(inOneof.length > 0 ? ["  oneof o {", ...inOneof.map((f) => `    ${field(f)}`), "  }"] : []),
    ...reserved(m.reservedNumbers, m.reservedNames).map((line) => `  ${line}`),
    "}",
  ];
  return `${lines.join("\n")}\n`;
}
