// The envelope plans of `consensus add-message` and `remove-message`: field specs, golden files,
// formatting fixtures (input → expected, byte for byte) and the ePaxos numbers.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { type MessagePlan } from "../../src/core/envelope/add.js";
import { parseFieldSpecs } from "../../src/core/proto/field-specs.js";
import { checkWireCompatible } from "../../src/core/proto/wire.js";
import { REPO } from "../support/paths.js";
import {
  FIXTURES,
  fixture,
  canonical,
  crlf,
  blankProtos,
  epaxosProtos,
  type Add,
  plan,
  applied,
  protoc,
  planRemoval,
  removed,
  withoutReserved,
} from "../support/envelope.js";

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
