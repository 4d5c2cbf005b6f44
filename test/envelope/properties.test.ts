// Property tests of the envelope plans over random envelopes: random sequences of added types,
// then of added and removed ones, every step wire-compatible (for buf breaking too).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import protobuf from "protobufjs";
import { checkWireCompatible } from "../../src/core/proto/wire.js";
import { messageNames } from "../../src/core/names.js";
import { bufBreaking } from "../support/buf.js";
import { blankProtos, plan, applied, planRemoval, removed, withoutReserved } from "../support/envelope.js";
import { shapes, additions, randomProtos, planAddition } from "../support/random-envelopes.js";

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
