// The wire check (checkWireCompatible): what it accepts and what it refuses, buf breaking as its
// oracle, and random changes of random messages.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { checkWireCompatible } from "../../src/core/proto/wire.js";
import { UserError } from "../../src/core/errors.js";
import { bufBreaking } from "../support/buf.js";
import { applied, refuses } from "../support/envelope.js";
import { shapes, additions, randomProtos, planAddition } from "../support/random-envelopes.js";

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
