import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { CONSENSUS_BIN } from "./support/paths.js";
import { consensus, tsc } from "./support/project.js";
import { read, Scratch, tree } from "./support/scratch.js";
import { interruptOnceHandled } from "./support/signals.js";
import { killAtEveryStep } from "./support/steps.js";

const scratch = new Scratch("consensus-add-");
/** A freshly scaffolded project (no install: the repository's node_modules stand in for tsc). */
const project = (template = "blank") => scratch.scaffold(template);

const ACCEPT = [
  "add-message",
  "Accept",
  "--request",
  "ballot:uint64,value:bytes,deps:repeated int32",
  "--reply",
  "ok:bool",
];

describe("consensus add-message", () => {
  it("adds a type end to end: proto, envelope, stubs, handler, test, Dispatch case; the project compiles", async () => {
    const dir = await project();
    const run = await consensus(ACCEPT, dir);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    assert.deepEqual(
      run.stdout.split("\n").filter((line) => line.startsWith("  ")),
      [
        "  + proto/accept.proto",
        "  ~ proto/envelope.proto",
        "  + src/handlers/accept.ts",
        "  + src/pb/accept.ts",
        "  ~ src/pb/envelope.ts",
        "  ~ src/replica.ts",
        "  + test/handlers/accept.test.ts",
      ],
    );
    assert.match(run.stdout, /^✔ ACCEPT = 1, PeerRequest\.accept = 11, PeerReply\.accept = 11 \(\d+ ms\)$/m);
    const envelope = read(dir, "proto/envelope.proto");
    assert.match(envelope, /^import "accept\.proto";$/m);
    assert.match(envelope, /^ {2}ACCEPT = 1;$/m);
    assert.match(envelope, /^ {4}AcceptRequest accept = 11;$/m);
    assert.match(envelope, /^ {4}AcceptReply accept = 11;$/m);
    assert.match(
      read(dir, "proto/accept.proto"),
      /message AcceptRequest \{\n {2}uint64 ballot = 1;\n {2}bytes value = 2;\n {2}repeated int32 deps = 3;\n\}/,
    );
    assert.match(read(dir, "src/replica.ts"), /case "accept":/);
    assert.match(
      read(dir, "src/handlers/accept.ts"),
      /export async function accept\(_request: AcceptRequest, _context: Context\): Promise<AcceptReply>/,
    );
    assert.equal((await consensus(["protobuf", "--check"], dir)).code, 0, "the stubs are those of the new protos");

    const pre = await consensus(["add-message", "pre-accept", "--request", "ballot:uint64", "--reply", "ok:bool"], dir);
    assert.equal(pre.code, 0, pre.stderr);
    assert.match(pre.stdout, /^✔ PRE_ACCEPT = 2, PeerRequest\.preAccept = 12, PeerReply\.preAccept = 12/m);
    assert.equal(await tsc(dir, ["--noEmit"]), "");
  });

  it("regenerates only the stubs of the protos it changes, not those the envelope imports", async () => {
    const dir = await project();
    const beacon = path.join(dir, "src/pb/beacon.ts");
    const edited = `${read(dir, "src/pb/beacon.ts")}// kept\n`;
    writeFileSync(beacon, edited);
    const run = await consensus(ACCEPT, dir);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /beacon/);
    assert.equal(read(dir, "src/pb/beacon.ts"), edited);
  });

  it("adds a request-only type with --no-reply", async () => {
    const dir = await project();
    const run = await consensus(["add-message", "commit", "--request", "seq:uint64", "--no-reply"], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^✔ COMMIT = 1, PeerRequest\.commit = 11, no reply/m);
    assert.doesNotMatch(read(dir, "proto/envelope.proto"), /CommitReply/);
    assert.doesNotMatch(read(dir, "proto/commit.proto"), /CommitReply/);
    assert.equal(await tsc(dir, ["--noEmit"]), "");
  });

  it("reuses <Name>Request and <Name>Reply that a project proto defines, importing that file", async () => {
    const dir = await project();
    writeFileSync(
      path.join(dir, "proto/paxos.proto"),
      'syntax = "proto3";\npackage pb;\n\nmessage PrepareRequest {\n  uint64 ballot = 1;\n}\n\nmessage PrepareReply {\n  bool ok = 1;\n}\n',
    );
    assert.equal((await consensus(["protobuf"], dir)).code, 0);
    const run = await consensus(["add-message", "Prepare"], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /\(messages of proto\/paxos\.proto\)/);
    assert.equal(existsSync(path.join(dir, "proto/prepare.proto")), false);
    assert.match(read(dir, "proto/envelope.proto"), /^import "paxos\.proto";$/m);
    assert.match(read(dir, "src/handlers/prepare.ts"), /from "\.\.\/pb\/paxos\.js"/);
    assert.equal(await tsc(dir, ["--noEmit"]), "");
  });

  it("writes the handler where consensus.json says, with imports relative to it", async () => {
    const dir = await project();
    const config = JSON.parse(read(dir, "consensus.json"));
    writeFileSync(
      path.join(dir, "consensus.json"),
      `${JSON.stringify({ ...config, handlersDir: "src/protocol/steps" }, null, 2)}\n`,
    );
    const run = await consensus(ACCEPT, dir);
    assert.equal(run.code, 0, run.stderr);
    const handler = read(dir, "src/protocol/steps/accept.ts");
    assert.match(handler, /from "\.\.\/\.\.\/context\.js"/);
    assert.match(handler, /from "\.\.\/\.\.\/pb\/accept\.js"/);
    assert.match(handler, /unimplemented\("ACCEPT", "src\/protocol\/steps\/accept\.ts"\)/);
    assert.match(read(dir, "src/replica.ts"), /^import \{ accept \} from "\.\/protocol\/steps\/accept\.js";$/m);
    assert.equal(await tsc(dir, ["--noEmit"]), "");
  });

  it("with --dry-run, prints the unified diff of every file and writes nothing", async () => {
    const dir = await project();
    const before = tree(dir);
    const run = await consensus([...ACCEPT, "--dry-run"], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(tree(dir), before);
    assert.match(run.stdout, /^--- a\/proto\/envelope\.proto\n\+\+\+ b\/proto\/envelope\.proto\n@@ /m);
    assert.match(run.stdout, /^\+ {2}ACCEPT = 1;$/m);
    assert.match(run.stdout, /^--- \/dev\/null\n\+\+\+ b\/src\/handlers\/accept\.ts$/m);
    assert.match(run.stdout, /^\+ {8}case "accept":$/m);
    assert.match(run.stdout, /^dry run: ACCEPT would change 7 files; nothing written$/m);
  });
});

describe("consensus add-message killed", () => {
  it(
    "leaves the project before or after the change whatever step of its commit it is killed at; the next command undoes a cut commit",
    { timeout: 180_000 },
    async (t) => {
      const dir = await project();
      const pristine = scratch.copy(dir);
      const outcomes = await killAtEveryStep(CONSENSUS_BIN, ACCEPT, { dir, pristine, tree, t });
      t.diagnostic(
        `${outcomes.before} kills left it before, ${outcomes.after} after, ${outcomes.undone} inside the commit, undone`,
      );
    },
  );
});

describe("consensus add-message on Ctrl-C", () => {
  it("exits 130, printing nothing, with the project byte for byte as it was", async () => {
    const dir = await project();
    const before = tree(dir);
    // Sent once the command handles it, the signal lands while add-message plans, before its commit.
    assert.deepEqual(await interruptOnceHandled(CONSENSUS_BIN, ACCEPT, dir), { code: 130, signal: null, output: "" });
    assert.equal(tree(dir), before);
  });

  it("sent at any step of its commit, lets the commit finish whole (exit 0)", { timeout: 180_000 }, async (t) => {
    const dir = await project();
    const pristine = scratch.copy(dir);
    const outcomes = await killAtEveryStep(CONSENSUS_BIN, ACCEPT, { dir, pristine, tree, signal: "SIGINT", t });
    // The commit's steps are one synchronous run (src/core/changes.ts): a Ctrl-C is handled after it.
    assert.equal(outcomes.handledInCommit, 0, `${outcomes.handledInCommit} Ctrl-Cs handled inside the commit`);
  });
});

// Every refusal: one error line, exit 1, and the project's bytes as they were.
const REFUSALS: { name: string; args: string[]; files?: Record<string, string>; error: string }[] = [
  {
    name: "an empty name",
    args: [""],
    error: "error: the message name is empty: give one such as Accept or pre-accept",
  },
  {
    name: "a name starting with a digit",
    args: ["1accept"],
    error:
      'error: "1accept" is not a message name: use letters and digits, starting with a letter, words joined by - or _',
  },
  {
    name: "a name with a space",
    args: ["pre accept"],
    error:
      'error: "pre accept" is not a message name: use letters and digits, starting with a letter, words joined by - or _',
  },
  {
    name: "a name with an empty word",
    args: ["pre--accept"],
    error:
      'error: "pre--accept" is not a message name: use letters and digits, starting with a letter, words joined by - or _',
  },
  {
    name: "a name longer than 64",
    args: ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
    error:
      'error: the message name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" is longer than 64 characters',
  },
  {
    name: "a Type value that exists",
    args: ["Beacon"],
    error: "error: proto/envelope.proto: enum Type already has a value BEACON: choose another name",
  },
  {
    name: "a Type value that exists, in another spelling",
    args: ["beacon"],
    error: "error: proto/envelope.proto: enum Type already has a value BEACON: choose another name",
  },
  {
    name: "the envelope's Type",
    args: ["Type"],
    error: 'error: "Type" would use Type, one of the envelope\'s own names: choose another name',
  },
  {
    name: "the envelope's PeerRequest",
    args: ["peer-request"],
    error: 'error: "PeerRequest" would use PeerRequest, one of the envelope\'s own names: choose another name',
  },
  {
    name: "the envelope's PeerReply",
    args: ["PeerReply"],
    error: 'error: "PeerReply" would use PeerReply, one of the envelope\'s own names: choose another name',
  },
  {
    name: "Propose, the client's messages",
    args: ["propose"],
    error: 'error: "Propose" would use ProposeRequest, one of the envelope\'s own names: choose another name',
  },
  {
    name: "a proto keyword",
    args: ["message"],
    error: 'error: "Message" gives the oneof field or Type value message, a proto keyword: choose another name',
  },
  {
    name: "another proto keyword",
    args: ["enum"],
    error: 'error: "Enum" gives the oneof field or Type value enum, a proto keyword: choose another name',
  },
  {
    name: "a TypeScript reserved word",
    args: ["class"],
    error: 'error: "Class" gives the handler name class, a TypeScript reserved word: choose another name',
  },
  {
    name: "another TypeScript reserved word",
    args: ["delete"],
    error: 'error: "Delete" gives the handler name delete, a TypeScript reserved word: choose another name',
  },
  {
    name: "a local name of replica.ts: context",
    args: ["context"],
    error: 'error: "Context" gives the handler name context, a name replica.ts already uses: choose another name',
  },
  {
    name: "a local name of replica.ts: request",
    args: ["request"],
    error: 'error: "Request" gives the handler name request, a name replica.ts already uses: choose another name',
  },
  {
    name: "a name replica.ts imports",
    args: ["type-name"],
    error: 'error: "TypeName" gives the handler name typeName, a name replica.ts already uses: choose another name',
  },
  {
    name: "UNRECOGNIZED, which ts-proto adds",
    args: ["unrecognized"],
    error:
      'error: "Unrecognized" gives the Type value UNRECOGNIZED, which ts-proto adds to every enum: choose another name',
  },
  {
    name: "the service's name",
    args: ["Consensus"],
    error: "error: Consensus is already a service in proto/service.proto: choose another name for the message type",
  },
  {
    name: "a field without a type",
    args: ["Accept", "--request", "ballot"],
    error: 'error: --request: "ballot" has no type: write it as name:type, e.g. ballot:uint64',
  },
  {
    name: "a field with an empty type",
    args: ["Accept", "--request", "ballot:"],
    error: 'error: --request: "ballot:" has no type: write it as name:type, e.g. ballot:uint64',
  },
  {
    name: "a field without a name",
    args: ["Accept", "--request", ":uint64"],
    error: 'error: --request: ":uint64" has no field name: write it as name:type, e.g. ballot:uint64',
  },
  {
    name: "an unknown scalar",
    args: ["Accept", "--request", "ballot:uint65"],
    error:
      'error: --request: unknown type "uint65" for field ballot: use a scalar such as int32, uint64, bool, string or bytes, or a message or enum of the project',
  },
  {
    name: "a field given twice",
    args: ["Accept", "--request", "a:bool,a:bool"],
    error: 'error: --request: field "a" is given twice: give each field once',
  },
  {
    name: "fields that differ only in case",
    args: ["Accept", "--request", "a:bool,A:bool"],
    error:
      'error: --request: fields "a" and "A" differ only in case or underscores, so they clash in JSON and TypeScript: rename one',
  },
  {
    name: "an unknown message type",
    args: ["Accept", "--request", "x:Foo"],
    error:
      'error: --request: unknown type "Foo" for field x: use a scalar such as int32, uint64, bool, string or bytes, or a message or enum of the project',
  },
  {
    name: "repeated without a type",
    args: ["Accept", "--request", "x:repeated"],
    error: 'error: --request: "x:repeated" has no type: write it as name:type, e.g. ballot:uint64',
  },
  {
    name: "a field name starting with a digit",
    args: ["Accept", "--request", "1x:bool"],
    error: 'error: --request: "1x" is not a field name: use letters, digits and _, starting with a letter, e.g. ballot',
  },
  {
    name: "--reply with --no-reply",
    args: ["Accept", "--reply", "ok:bool", "--no-reply"],
    error: "error: --reply and --no-reply cannot both be given: a type has reply fields or no reply",
  },
  {
    name: "a field type that would make an import cycle",
    args: ["Accept", "--request", "s:PeerRequest"],
    error:
      "error: --request: type PeerRequest (field s) is defined in proto/envelope.proto, which would import the new file in turn: use a type from another file",
  },
  {
    name: "a proto file of that name that defines other messages",
    args: ["Accept"],
    error:
      "error: proto/accept.proto already exists and does not define AcceptRequest: define the messages there to reuse them, or choose another name",
    files: {
      "proto/accept.proto": 'syntax = "proto3";\npackage pb;\nmessage Other {}\n',
    },
  },
  {
    name: "a handler file that exists",
    args: ["Accept"],
    error: "error: src/handlers/accept.ts already exists: move it out of the way, or choose another name",
    files: {
      "src/handlers/accept.ts": "// mine\n",
    },
  },
  {
    name: "a replica.ts without a dispatch method",
    args: ["Accept"],
    error:
      'error: src/replica.ts: no dispatch method found (a method dispatch in a class, holding the switch on the message\'s $case); add the case for "accept" (and its import) by hand',
    files: {
      "src/replica.ts": "export class Replica {}\n",
    },
  },
  {
    name: "an envelope that does not parse",
    args: ["Accept"],
    error: "error: proto/envelope.proto:3:24: illegal token '}', ';' expected",
    files: {
      "proto/envelope.proto": 'syntax = "proto3";\npackage pb;\nenum Type { BEACON = 0 }\n',
    },
  },
  {
    name: "an envelope without enum Type",
    args: ["Accept"],
    error: "error: proto/envelope.proto: no enum Type: the envelope needs enum Type { BEACON = 0; … }",
    files: {
      "proto/envelope.proto": 'syntax = "proto3";\npackage pb;\nmessage PeerRequest {}\nmessage PeerReply {}\n',
    },
  },
  {
    name: "a Request defined without its Reply",
    args: ["Accept"],
    error:
      "error: AcceptRequest exists in proto/paxos.proto but AcceptReply does not: add --no-reply for a request-only type, or define AcceptReply there",
    files: {
      "proto/paxos.proto": 'syntax = "proto3";\npackage pb;\nmessage AcceptRequest { uint64 b = 1; }\n',
    },
  },
  {
    name: "fields for messages that exist",
    args: ["Accept", "--request", "b:uint64"],
    error:
      "error: AcceptRequest is already defined in proto/paxos.proto: drop --request and --reply to reuse it, or choose another name",
    files: {
      "proto/paxos.proto":
        'syntax = "proto3";\npackage pb;\nmessage AcceptRequest { uint64 b = 1; }\nmessage AcceptReply {}\n',
    },
  },
  {
    name: "a Request that is an enum",
    args: ["Accept"],
    error: "error: AcceptRequest is already an enum in proto/paxos.proto, not a message: choose another name",
    files: {
      "proto/paxos.proto": 'syntax = "proto3";\npackage pb;\nenum AcceptRequest { A = 0; }\n',
    },
  },
  {
    name: "a replica file that is missing",
    args: ["Accept"],
    error: "error: src/missing.ts: no such file (replica in consensus.json): it holds the Dispatch switch",
    files: {
      "consensus.json": '{ "replica": "src/missing.ts" }\n',
    },
  },
];

describe("consensus add-message refuses and changes nothing", () => {
  let base: string;
  for (const { name, args, files, error } of REFUSALS) {
    it(`refuses ${name}`, async () => {
      base ??= await project();
      const dir = scratch.copy(base);
      for (const [file, content] of Object.entries(files ?? {})) writeFileSync(path.join(dir, file), content);
      const before = tree(dir);
      const run = await consensus(["add-message", ...args], dir);
      assert.equal(run.stderr, `${error}\n`);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, "");
      assert.equal(tree(dir), before);
    });
  }

  it("refuses a type added twice, and outside a project", async () => {
    const dir = await project();
    assert.equal((await consensus(ACCEPT, dir)).code, 0);
    const before = tree(dir);
    const again = await consensus(ACCEPT, dir);
    assert.equal(
      again.stderr,
      "error: proto/envelope.proto: enum Type already has a value ACCEPT: choose another name\n",
    );
    assert.equal(again.code, 1);
    assert.equal(tree(dir), before);
    const outside = await consensus(ACCEPT, scratch.dir);
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /^error: no consensus\.json/);
  });

  it("refuses, in the epaxos project, a type that already is one, and a name clashing with Status", async () => {
    const dir = await project("epaxos");
    const before = tree(dir);
    for (const [name, error] of [
      [
        "try-pre-accept",
        "error: proto/envelope.proto: enum Type already has a value TRY_PRE_ACCEPT: choose another name",
      ],
      [
        "accepted",
        "error: the Type value ACCEPTED would clash with ACCEPTED, a value of enum Status in proto/epaxos.proto (proto enum values share their package's scope): choose another name",
      ],
    ]) {
      const run = await consensus(["add-message", name!], dir);
      assert.equal(run.stderr, `${error}\n`);
      assert.equal(run.code, 1);
    }
    assert.equal(tree(dir), before);
  });
});
