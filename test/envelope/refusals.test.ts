// Every refusal of the envelope plans, with its exact message.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseFieldSpecs } from "../../src/core/proto/field-specs.js";
import { ProtoError } from "../../src/core/errors.js";
import { canonical, blankProtos, epaxosProtos, type Add, plan, refuses } from "../support/envelope.js";

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
