// The core called directly, without the command line.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { codeCacheUsed, generateStubs } from "../src/core/codegen.js";
import { compileProtos, listProtos } from "../src/core/compile.js";
import { ProtoError } from "../src/core/errors.js";
import { messageNames } from "../src/core/names.js";
import { dependencyVersion } from "../src/core/package.js";
import { DEFAULT_TS_PROTO_OPTIONS, findProject, parseProject, tsProtoParameter } from "../src/core/project.js";
import { HELPERS, precompiledTemplate, render } from "../src/core/render.js";
import { templateSources } from "../src/core/scaffold.js";
import { walk } from "../src/core/walk.js";
import { goldenStubs } from "./support/golden.js";
import { CANONICAL_PROTOS, REPO } from "./support/paths.js";
import { tempProject } from "./support/project.js";

const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe("project", () => {
  it("fills every default and puts the project's ts-proto options after the defaults", () => {
    const project = parseProject(
      "/p",
      '{ "outDir": "gen", "tsProtoOptions": { "forceLong": "string", "M": ["a=b", "c=d"] } }',
    );
    assert.deepEqual(project.config, {
      protoDir: "proto",
      outDir: "gen",
      envelope: "proto/envelope.proto",
      handlersDir: "src/handlers",
      replica: "src/replica.ts",
      tsProtoOptions: { forceLong: "string", M: ["a=b", "c=d"] },
      start: ["node", "dist/src/main.js"],
    });
    assert.equal(
      tsProtoParameter(project.tsProtoOptions),
      "outputServices=grpc-js,oneof=unions-value,importSuffix=.js,esModuleInterop=true,env=node,forceLong=string,annotateFilesWithVersion=false,M=a=b,M=c=d",
    );
  });

  it("refuses text that is not JSON with its line, column and a reason in the tool's words, on every Node line", () => {
    const cases: [string, string][] = [
      ["", "1:1: expected a value"],
      ['{ "protoDir": "proto",\n  "outDir": "gen", }', "2:20: expected a property name in double quotes"],
      ["{ protoDir: proto }", '1:3: unexpected "protoDir"'],
      ["{'protoDir': 1}", "1:2: unexpected \"'protoDir'\""],
      ['{ "protoDir" "proto" }', "1:14: expected : after the property name"],
      ['{ "protoDir": "proto" "outDir": "gen" }', "1:23: expected , between two entries"],
      ['{ "protoDir": "proto"', "1:22: expected } to close the object"],
      ['["proto"', "1:9: expected ] to close the array"],
      ['{ "tsProtoOptions": { "M": ["a=b",] } }', "1:35: expected a value"],
      ['{ "protoDir": "proto" }}', "1:24: expected nothing after the value"],
      ['// where the protos are\n{ "protoDir": "proto" }', "1:1: comments are not JSON"],
      ['{ "protoDir": "proto }', "1:15: the string is not closed"],
      ['{ "tsProtoOptions": { "x": 1. } }', "1:28: the number is not complete"],
      ['{ "protoDir": "pr\\u00o" }', "1:15: a \\u escape needs four hex digits"],
      ['{ "protoDir": "pr\\o" }', "1:15: not an escape JSON knows"],
      ['{ "protoDir": "pr\toto" }', "1:15: a control character in a string must be escaped"],
    ];
    for (const [text, error] of cases) {
      assert.throws(() => parseProject("/p", text), { name: "UserError", message: `consensus.json:${error}` }, text);
    }
    // A byte order mark (as some editors write) is not an error.
    assert.equal(parseProject("/p", '\uFEFF{ "protoDir": "protos" }').config.protoDir, "protos");
  });

  it("is found from any folder below its root", () => {
    const dir = tempProject();
    dirs.push(dir);
    mkdirSync(path.join(dir, "a/b/c"), { recursive: true });
    assert.equal(findProject(path.join(dir, "a/b/c")).root, dir);
  });
});

describe("compile and codegen", () => {
  const sources = async () => {
    const files = await listProtos(CANONICAL_PROTOS);
    return { files, planned: new Map<string, Uint8Array>() };
  };

  it("generate the golden stubs, the same bytes on every call", async () => {
    const { files, planned } = await sources();
    const compiled = await compileProtos(REPO, "proto", files, planned);
    assert.deepEqual(compiled.files, [
      "beacon.proto",
      "client.proto",
      "envelope.proto",
      "epaxos.proto",
      "service.proto",
    ]);
    assert.deepEqual(compiled.warnings, []);
    const parameter = tsProtoParameter(DEFAULT_TS_PROTO_OPTIONS);
    const first = generateStubs(compiled.descriptorSet, compiled.files, parameter);
    const second = generateStubs(compiled.descriptorSet, compiled.files, parameter);
    assert.deepEqual(second, first);
    const golden = goldenStubs();
    assert.deepEqual(
      first.map((stub) => stub.path),
      [...golden.keys()],
    );
    for (const stub of first) assert.equal(stub.content, golden.get(stub.path), stub.path);
  });

  it(
    "load ts-proto from the code cache the build wrote, on the Node.js that built it",
    {
      // npm run test:lines runs the tests on other lines, after a build by this one: V8 takes no cache of another.
      skip: process.env.CONSENSUS_TEST_NODE !== undefined && "the code cache is of the Node.js that built the package",
    },
    () => {
      assert.equal(codeCacheUsed, true);
    },
  );

  it("compile planned content over the disk, and report its errors with a position", async () => {
    const { files } = await sources();
    const broken = readFileSync(path.join(CANONICAL_PROTOS, "beacon.proto"), "utf8").replace(
      "string timestamp = 1;",
      "strin timestamp = 1;",
    );
    const planned = new Map([["beacon.proto", Buffer.from(broken)]]);
    await assert.rejects(compileProtos(REPO, "proto", files, planned), (err: unknown) => {
      assert.ok(err instanceof ProtoError);
      assert.deepEqual(
        [err.file, err.line, err.column, err.reason],
        ["proto/beacon.proto", 6, 3, '"strin" is not defined.'],
      );
      return true;
    });
  });

  it("compile the protos on disk beside planned ones, naming them as the project does", async () => {
    const dir = tempProject();
    dirs.push(dir);
    const beacon = path.join(dir, "proto/beacon.proto");
    writeFileSync(beacon, readFileSync(beacon, "utf8").replace("string timestamp = 1;", "strin timestamp = 1;"));
    const { files } = await sources();
    // A new proto planned, every other one read from the project's folder.
    const planned = new Map([["extra.proto", Buffer.from('syntax = "proto3";\npackage pb;\nmessage Extra {}\n')]]);
    await assert.rejects(compileProtos(dir, "proto", [...files, "extra.proto"], planned), (err: unknown) => {
      assert.ok(err instanceof ProtoError);
      assert.deepEqual([err.file, err.line, err.column], ["proto/beacon.proto", 6, 3]);
      return true;
    });
    writeFileSync(beacon, readFileSync(path.join(CANONICAL_PROTOS, "beacon.proto")));
    const compiled = await compileProtos(dir, "proto", [...files, "extra.proto"], planned);
    assert.deepEqual(compiled.files, [...files, "extra.proto"].sort());
    assert.deepEqual(compiled.warnings, []);
  });
});

describe("walk", () => {
  it("lists files and folders, sorted, and neither lists nor follows symbolic links, whatever the Node line", () => {
    const dir = tempProject();
    dirs.push(dir);
    mkdirSync(path.join(dir, "a/b"), { recursive: true });
    writeFileSync(path.join(dir, "a/b/c.txt"), "c");
    symlinkSync(path.join(dir, "proto"), path.join(dir, "a/folder-link"), "dir");
    symlinkSync(path.join(dir, "consensus.json"), path.join(dir, "a/file-link"), "file");
    assert.deepEqual(walk(path.join(dir, "a")), ["b/", "b/c.txt"]);
    assert.deepEqual(
      walk(dir).filter((entry) => !/^proto\/./.test(entry)),
      ["a/", "a/b/", "a/b/c.txt", "consensus.json", "proto/"],
    );
  });
});

describe("names", () => {
  it("normalise every accepted spelling to one set of names", () => {
    for (const spelling of ["PreAccept", "preAccept", "pre-accept", "pre_accept", "PRE_ACCEPT"]) {
      assert.deepEqual(messageNames(spelling), {
        prefix: "PreAccept",
        constant: "PRE_ACCEPT",
        field: "preAccept",
        file: "pre-accept",
        proto: "pre_accept.proto",
      });
    }
    assert.deepEqual(messageNames("TryPreAccept").constant, "TRY_PRE_ACCEPT");
    assert.deepEqual(messageNames("accept").prefix, "Accept");
    assert.deepEqual(messageNames("HTTPServer").file, "http-server");
    assert.deepEqual(messageNames("phase2a").constant, "PHASE2A");
  });

  it("refuse a name that is empty, too long, or not letters and digits", () => {
    assert.throws(() => messageNames(""), /the message name is empty/);
    assert.throws(() => messageNames("a".repeat(65)), /longer than 64 characters/);
    for (const bad of ["2pc", "pre accept", "pre--accept", "-accept", "accept_", "ac.cept"]) {
      assert.throws(() => messageNames(bad), /is not a message name/, bad);
    }
  });
});

describe("render", () => {
  it("gives the same text from a template precompiled at build time as from one compiled now", async () => {
    const Handlebars = (await import("handlebars")).default;
    // The values of a project template and of a message template in one object.
    const message = {
      ...messageNames("accept"),
      module: "accept",
      reply: true,
      handler: "src/handlers/accept.ts",
      test: "test/handlers/accept.test.ts",
      pb: "../pb",
      src: "..",
    };
    const values = { name: "demo", toolDependency: "file:/x", messages: [message], ...message };
    const sources = await templateSources();
    assert.ok(sources.length >= 4);
    for (const source of sources) {
      // From the build cache, not compiled on a miss: a missing or stale cache fails here.
      const precompiled = await precompiledTemplate(source);
      assert.ok(precompiled, `no precompiled template for:\n${source.slice(0, 200)}`);
      const compiled = Handlebars.compile(source, { noEscape: true, strict: true });
      assert.equal(precompiled(values, { helpers: HELPERS }), compiled(values, { helpers: HELPERS }));
      assert.equal(await render(source, values), compiled(values, { helpers: HELPERS }));
    }
  });

  it("compiles a template that was not precompiled, strictly and without escaping", async () => {
    assert.equal(await precompiledTemplate("<{{name}}> {{version 'typescript'}}"), undefined);
    assert.equal(
      await render("<{{name}}> {{version 'typescript'}}", { name: "a&b" }),
      `<a&b> ${dependencyVersion("typescript")}`,
    );
    await assert.rejects(render("{{missing}}", {}), /"missing" not defined/);
  });
});
