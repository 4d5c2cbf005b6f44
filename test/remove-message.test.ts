import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { CONSENSUS_BIN } from "./support/paths.js";
import { consensus, tsc } from "./support/project.js";
import { files, read, Scratch, tree } from "./support/scratch.js";
import { interruptOnceHandled } from "./support/signals.js";
import { killAtEveryStep } from "./support/steps.js";

const scratch = new Scratch("consensus-remove-");

/** One scaffolded project per template for the whole file (no install: the repository's node_modules stand in). */
const scaffolded = new Map<string, Promise<string>>();
/** A copy of the template's project of its own. */
async function project(template = "blank"): Promise<string> {
  if (!scaffolded.has(template)) scaffolded.set(template, scratch.scaffold(template));
  return scratch.copy(await scaffolded.get(template)!);
}

const ACCEPT = ["add-message", "Accept", "--request", "ballot:uint64", "--reply", "ok:bool"];

/** A blank project with Accept added, shared by the tests that remove it (each works on a copy). */
let withAccept: Promise<string> | undefined;
function acceptProject(): Promise<string> {
  withAccept ??= (async () => {
    const dir = await project();
    const run = await consensus(ACCEPT, dir);
    assert.equal(run.code, 0, run.stderr);
    return dir;
  })();
  return withAccept.then((dir) => scratch.copy(dir));
}

describe("consensus remove-message", () => {
  it("gives back the blank project byte for byte but the envelope's reserved lines; a new Accept gets new numbers", async () => {
    const dir = await project();
    const before = files(dir);
    assert.equal((await consensus(ACCEPT, dir)).code, 0);

    const run = await consensus(["remove-message", "Accept"], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    const lines = run.stdout.trimEnd().split("\n");
    assert.deepEqual(lines.slice(0, -1), [
      "  - proto/accept.proto",
      "  ~ proto/envelope.proto",
      "  - src/handlers/accept.ts",
      "  - src/pb/accept.ts",
      "  ~ src/pb/envelope.ts",
      "  ~ src/replica.ts",
      "  - test/handlers/accept.test.ts",
    ]);
    assert.match(
      lines.at(-1)!,
      /^✔ removed ACCEPT; reserved ACCEPT = 1, PeerRequest\.accept = 11, PeerReply\.accept = 11 \(\d+ ms\)$/,
    );

    const now = files(dir);
    const envelope = "proto/envelope.proto";
    assert.deepEqual(
      [...now.keys()].filter((file) => file !== envelope),
      [...before.keys()].filter((file) => file !== envelope),
    );
    for (const [file, bytes] of before) if (file !== envelope) assert.equal(now.get(file), bytes, file);
    const original = Buffer.from(before.get(envelope)!, "base64").toString("utf8");
    const removed = read(dir, envelope);
    const reserved = /^ *reserved .*\n/gm;
    assert.equal(removed.replace(reserved, ""), original, "the envelope differs only by its reserved lines");
    assert.deepEqual(removed.match(reserved), [
      "  reserved 1;\n",
      '  reserved "ACCEPT";\n',
      "  reserved 11;\n",
      '  reserved "accept";\n',
      "  reserved 11;\n",
      '  reserved "accept";\n',
    ]);

    const again = await consensus(ACCEPT, dir);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^✔ ACCEPT = 2, PeerRequest\.accept = 12, PeerReply\.accept = 12 /m);
    assert.deepEqual(read(dir, envelope).match(/^ *reserved \d+;$/gm), [
      "  reserved 1;",
      "  reserved 11;",
      "  reserved 11;",
    ]);
    const check = await consensus(["protobuf", "--check"], dir);
    assert.equal(check.code, 0, check.stderr);
  });

  it("keeps epaxos.proto while other types use it, and the project still compiles", async () => {
    const dir = await project("epaxos");
    // TryPreAccept, whose handler is still the stub (the others are written, so kept without --force).
    const tryPreAccept = await consensus(["remove-message", "TryPreAccept"], dir);
    assert.equal(tryPreAccept.code, 0, tryPreAccept.stderr);
    assert.match(
      tryPreAccept.stdout,
      /^✔ removed TRY_PRE_ACCEPT; reserved TRY_PRE_ACCEPT = 4, PeerRequest\.tryPreAccept = 14, /m,
    );
    assert.doesNotMatch(tryPreAccept.stdout, /^ {2}. .*epaxos/m, "no change to epaxos.proto or its stubs is listed");
    assert.match(tryPreAccept.stdout, /^proto\/epaxos\.proto is kept: another proto still uses it$/m);
    assert.ok(existsSync(path.join(dir, "proto/epaxos.proto")));
    assert.ok(existsSync(path.join(dir, "src/pb/epaxos.ts")));
    const replica = read(dir, "src/replica.ts");
    assert.doesNotMatch(replica, /case "tryPreAccept":|handlers\/try-pre-accept\.js/);
    assert.match(replica, /case "prepare":/);
    assert.match(replica, /case "preAccept":/);
    assert.equal((await consensus(["protobuf", "--check"], dir)).code, 0);
    assert.equal(await tsc(dir, ["--noEmit"]), "");
  });

  it("deletes an edited handler and its edited test with --force", async () => {
    const dir = await acceptProject();
    writeFileSync(path.join(dir, "src/handlers/accept.ts"), "// my work\n");
    writeFileSync(path.join(dir, "test/handlers/accept.test.ts"), "// my test\n");
    const run = await consensus(["remove-message", "Accept", "--force"], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^ {2}- src\/handlers\/accept\.ts$/m);
    assert.match(run.stdout, /^ {2}- test\/handlers\/accept\.test\.ts$/m);
    assert.equal(existsSync(path.join(dir, "src/handlers/accept.ts")), false);
    assert.equal(existsSync(path.join(dir, "test/handlers/accept.test.ts")), false);
  });

  it("with --dry-run, prints the unified diff of every file and writes nothing", async () => {
    const dir = await acceptProject();
    const before = tree(dir);
    const run = await consensus(["remove-message", "Accept", "--dry-run"], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(tree(dir), before);
    for (const file of [
      "proto/accept.proto",
      "src/handlers/accept.ts",
      "src/pb/accept.ts",
      "test/handlers/accept.test.ts",
    ]) {
      assert.match(run.stdout, new RegExp(`^--- a/${file}\\n\\+\\+\\+ /dev/null\\n@@ `, "m"), file);
    }
    for (const file of ["proto/envelope.proto", "src/pb/envelope.ts", "src/replica.ts"]) {
      assert.match(run.stdout, new RegExp(`^--- a/${file}\\n\\+\\+\\+ b/${file}\\n@@ `, "m"), file);
    }
    assert.match(run.stdout, /^\+ {2}reserved "ACCEPT";$/m);
    assert.match(run.stdout, /^- {8}case "accept":$/m);
    assert.match(run.stdout, /^dry run: removing ACCEPT would change 7 files; nothing written$/m);
  });
});

// Every refusal: one error line, exit 1, and the project's bytes as they were.
const REFUSALS: { name: string; args: string[]; files?: Record<string, string>; error: string }[] = [
  {
    name: "BEACON",
    args: ["beacon"],
    error:
      "error: BEACON is the contract's own type (every replica answers it; the workbench sends it): it cannot be removed",
  },
  {
    name: "a name not in the envelope",
    args: ["Prepare"],
    error:
      "error: proto/envelope.proto: enum Type has no value PREPARE: nothing to remove (consensus list shows the types)",
  },
  {
    name: "a bad name",
    args: ["1abc"],
    error:
      'error: "1abc" is not a message name: use letters and digits, starting with a letter, words joined by - or _',
  },
  {
    name: "an edited handler without --force",
    args: ["Accept"],
    files: { "src/handlers/accept.ts": "// my work\n" },
    error:
      "error: src/handlers/accept.ts is no longer the scaffolded stub: move your work out of it, or pass --force to delete it",
  },
  {
    name: "an edited handler test without --force",
    args: ["Accept"],
    files: { "test/handlers/accept.test.ts": "// my test\n" },
    error:
      "error: test/handlers/accept.test.ts is no longer the scaffolded stub: move your work out of it, or pass --force to delete it",
  },
  {
    name: "a replica.ts without its Dispatch switch",
    args: ["Accept"],
    files: { "src/replica.ts": "export class Replica {}\n" },
    error:
      'error: src/replica.ts: no dispatch method found (a method dispatch in a class, holding the switch on the message\'s $case); take the case for "accept" (and its import) out by hand',
  },
];

describe("consensus remove-message refuses and changes nothing", () => {
  for (const { name, args, files, error } of REFUSALS) {
    it(`refuses ${name}`, async () => {
      const dir = await acceptProject();
      for (const [file, content] of Object.entries(files ?? {})) writeFileSync(path.join(dir, file), content);
      const before = tree(dir);
      const run = await consensus(["remove-message", ...args], dir);
      assert.equal(run.stderr, `${error}\n`);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, "");
      assert.equal(tree(dir), before);
    });
  }

  it("refuses outside a project", async () => {
    const before = tree(scratch.dir);
    const run = await consensus(["remove-message", "Accept"], scratch.dir);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: no consensus\.json in [^\n]*\n$/);
    assert.equal(tree(scratch.dir), before);
  });
});

describe("consensus remove-message interrupted", () => {
  it(
    "leaves the project before or after the removal whatever step of its commit it is killed at; the next command undoes a cut commit",
    { timeout: 180_000 },
    async (t) => {
      const pristine = await acceptProject();
      const dir = scratch.copy(pristine);
      const outcomes = await killAtEveryStep(CONSENSUS_BIN, ["remove-message", "Accept"], { dir, pristine, tree, t });
      t.diagnostic(
        `${outcomes.before} kills left it before, ${outcomes.after} after, ${outcomes.undone} inside the commit, undone`,
      );
    },
  );

  it(
    "exits 130 on Ctrl-C with the project as it was, or finishes: never half-written, whatever step of its commit it is sent at",
    { timeout: 180_000 },
    async (t) => {
      const pristine = await acceptProject();
      const dir = scratch.copy(pristine);
      // Sent the moment the command handles it, the signal lands while it plans: 130, nothing written.
      const handled = await interruptOnceHandled(CONSENSUS_BIN, ["remove-message", "Accept"], dir);
      assert.deepEqual(handled, { code: 130, signal: null, output: "" });
      assert.equal(tree(dir), tree(pristine));
      const outcomes = await killAtEveryStep(CONSENSUS_BIN, ["remove-message", "Accept"], {
        dir,
        pristine,
        tree,
        signal: "SIGINT",
        t,
      });
      // The commit makes all its steps in one synchronous run (src/core/changes.ts): a Ctrl-C sent at
      // any of them is handled, if at all, once the commit is done, so that run finishes (exit 0).
      // Sent at a step before the commit (the protos copied out for codegen), it lands while the command
      // plans: 130, as it was.
      assert.equal(outcomes.handledInCommit, 0, `${outcomes.handledInCommit} Ctrl-Cs handled inside the commit`);
    },
  );
});
