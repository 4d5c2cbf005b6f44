import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { consensus, GIT_IDENTITY } from "./support/project.js";
import { edit, Scratch, tree } from "./support/scratch.js";

const scratch = new Scratch("consensus-doctor-");
const git = (dir: string, ...args: string[]) =>
  execFileSync("git", args, { cwd: dir, env: { ...process.env, ...GIT_IDENTITY }, stdio: "pipe" }).toString();

/** A blank project with Accept added (no git), shared: each test works on a copy. */
let base: Promise<string> | undefined;
async function project(): Promise<string> {
  base ??= (async () => {
    const dir = await scratch.scaffold("blank");
    const run = await consensus(["add-message", "Accept", "--request", "ballot:uint64", "--reply", "ok:bool"], dir);
    assert.equal(run.code, 0, run.stderr);
    return dir;
  })();
  return scratch.copy(await base);
}
/** Like project(), in a git work tree with one commit. */
async function committed(): Promise<string> {
  const dir = await project();
  git(dir, "init", "-q");
  git(dir, "add", "-A");
  git(dir, "commit", "-qm", "one");
  return dir;
}

/** The doctor's findings (the lines before its summary) and its exit code. */
async function doctor(dir: string, ...args: string[]) {
  const run = await consensus(["doctor", ...args], dir);
  assert.equal(run.stderr, "");
  const lines = run.stdout.trimEnd().split("\n");
  return { code: run.code, lines, summary: lines.at(-1)! };
}

const CASE_ACCEPT = /^ {8}case "accept":\n(.*\n)*? {10}\}\);\n/m;

describe("consensus doctor on fresh projects", () => {
  for (const template of ["blank", "epaxos", "paxos"]) {
    for (const withGit of [false, true]) {
      it(`finds no problems in a fresh ${template} project ${withGit ? "with" : "without"} git`, async () => {
        const dir = await scratch.scaffold(template, { git: withGit });
        const run = await doctor(dir);
        assert.deepEqual(run.lines, [
          `✔ no problems; ${withGit ? "wire-compatible with HEAD" : "wire check skipped (not in a git work tree)"}`,
        ]);
        assert.equal(run.code, 0);
      });
    }
  }
});

describe("consensus doctor finds", () => {
  const CASES: { name: string; make: (dir: string) => void; found: string[] }[] = [
    {
      name: "a Type value without a PeerRequest member",
      make: (dir) => edit(dir, "proto/envelope.proto", /^ {2}BEACON = 0;\n/m, "  BEACON = 0;\n  EXTRA = 7;\n"),
      found: [
        "✖ proto/envelope.proto: Type value EXTRA = 7 has no member in PeerRequest's oneof message",
        "✖ src/pb/ is out of date: src/pb/envelope.ts (stale) (--fix repairs it)",
      ],
    },
    {
      name: "a oneof member without a Type value",
      make: (dir) =>
        edit(dir, "proto/envelope.proto", /^( {4}BeaconRequest beacon = 10;\n)/m, "$1    BeaconRequest stray = 20;\n"),
      found: [
        "✖ proto/envelope.proto: PeerRequest.stray = 20 matches no value of enum Type",
        "✖ src/pb/ is out of date: src/pb/envelope.ts (stale) (--fix repairs it)",
      ],
    },
    {
      name: "a handler without a case",
      make: (dir) => edit(dir, "src/replica.ts", CASE_ACCEPT, ""),
      found: ["✖ src/handlers/accept.ts has no case in the Dispatch switch of src/replica.ts (--fix repairs it)"],
    },
    {
      name: "a case without a handler",
      make: (dir) => rmSync(path.join(dir, "src/handlers/accept.ts")),
      found: [
        "✖ src/replica.ts has a case for accept, but its handler src/handlers/accept.ts does not exist (--fix repairs it)",
      ],
    },
    {
      name: "stale stubs",
      make: (dir) => edit(dir, "proto/accept.proto", /^( {2}uint64 ballot = 1;\n)/m, "$1  uint64 slot = 2;\n"),
      found: ["✖ src/pb/ is out of date: src/pb/accept.ts (stale) (--fix repairs it)"],
    },
  ];
  for (const { name, make, found } of CASES) {
    it(name, async () => {
      const dir = await project();
      make(dir);
      const before = tree(dir);
      const run = await doctor(dir);
      assert.deepEqual(run.lines.slice(0, -1), found);
      assert.equal(run.code, 1);
      assert.match(run.summary, new RegExp(`^${found.length} problems? `));
      assert.equal(tree(dir), before, "without --fix nothing changes");
    });
  }

  it("a wire break against HEAD: a renumbered field, a reserved line taken out after remove-message", async () => {
    const dir = await committed();
    edit(dir, "proto/accept.proto", /ballot = 1;/, "ballot = 3;");
    assert.equal((await consensus(["protobuf"], dir)).code, 0);
    const renumbered = await doctor(dir);
    assert.deepEqual(renumbered.lines, [
      "✖ proto/ against HEAD: not wire-compatible: field pb.AcceptRequest.ballot changed number from 1 to 3: existing names and numbers must not change",
      "1 problem",
    ]);
    assert.equal(renumbered.code, 1);

    git(dir, "checkout", "-q", ".");
    assert.equal((await consensus(["remove-message", "Accept"], dir)).code, 0);
    git(dir, "commit", "-qam", "two");
    assert.equal((await doctor(dir)).code, 0, "the removal reserves what it takes out");
    edit(dir, "proto/envelope.proto", /(message PeerReply \{(.*\n)*?) {2}reserved 11;\n/m, "$1");
    const unreserved = await doctor(dir);
    assert.deepEqual(unreserved.lines, [
      "✖ proto/ against HEAD: not wire-compatible: message pb.PeerReply no longer reserves 11: a reserved number stays reserved, so that no new field reads old data as its own",
      "1 problem",
    ]);
    assert.equal(unreserved.code, 1);
  });

  it("a wire break against --against <ref>, an older commit HEAD has moved on from", async () => {
    const dir = await committed();
    edit(dir, "proto/accept.proto", /ballot = 1;/, "ballot = 3;");
    assert.equal((await consensus(["protobuf"], dir)).code, 0);
    git(dir, "commit", "-qam", "renumbered");
    assert.equal((await doctor(dir)).code, 0, "HEAD has the renumbering");
    const older = await doctor(dir, "--against", "HEAD~1");
    assert.deepEqual(older.lines, [
      "✖ proto/ against HEAD~1: not wire-compatible: field pb.AcceptRequest.ballot changed number from 1 to 3: existing names and numbers must not change",
      "1 problem",
    ]);
    assert.equal(older.code, 1);
  });
});

describe("consensus doctor --fix", () => {
  it("repairs the stubs, a missing case and a missing stub handler, giving back the consistent project", async () => {
    const dir = await project();
    const consistent = tree(dir);
    edit(dir, "src/replica.ts", CASE_ACCEPT, "");
    rmSync(path.join(dir, "src/handlers/accept.ts"));
    rmSync(path.join(dir, "test/handlers/accept.test.ts"));
    rmSync(path.join(dir, "src/pb/accept.ts"));
    const run = await doctor(dir, "--fix");
    assert.equal(run.code, 0);
    assert.deepEqual(run.lines, [
      "  + src/handlers/accept.ts",
      "  + src/pb/accept.ts",
      "  ~ src/replica.ts",
      "  + test/handlers/accept.test.ts",
      "fixed: ACCEPT has no handler (src/handlers/accept.ts) and no case in src/replica.ts",
      "fixed: src/pb/ is out of date: src/pb/accept.ts (missing)",
      "✔ all repaired; wire check skipped (not in a git work tree)",
    ]);
    assert.equal(tree(dir), consistent);
  });

  it("leaves what is not mechanical, and exits 1 for it", async () => {
    const dir = await project();
    edit(dir, "proto/envelope.proto", /^ {2}BEACON = 0;\n/m, "  BEACON = 0;\n  EXTRA = 7;\n");
    edit(dir, "src/replica.ts", CASE_ACCEPT, "");
    const run = await doctor(dir, "--fix");
    assert.deepEqual(run.lines, [
      "  ~ src/pb/envelope.ts",
      "  ~ src/replica.ts",
      "fixed: src/handlers/accept.ts has no case in the Dispatch switch of src/replica.ts",
      "✖ proto/envelope.proto: Type value EXTRA = 7 has no member in PeerRequest's oneof message",
      "fixed: src/pb/ is out of date: src/pb/envelope.ts (stale)",
      "1 problem",
    ]);
    assert.equal(run.code, 1);
    assert.deepEqual((await doctor(dir)).lines.slice(0, -1), [
      "✖ proto/envelope.proto: Type value EXTRA = 7 has no member in PeerRequest's oneof message",
    ]);
  });
});

describe("consensus doctor refuses", () => {
  it("--against outside a git work tree, and --against a revision that does not exist", async () => {
    const plain = await project();
    const before = tree(plain);
    const outside = await consensus(["doctor", "--against", "HEAD", "--fix"], plain);
    assert.equal(
      outside.stderr,
      `error: --against HEAD: ${plain} is not in a git work tree: run doctor without --against\n`,
    );
    assert.equal(outside.code, 1);
    assert.equal(outside.stdout, "");
    assert.equal(tree(plain), before);

    const dir = await committed();
    rmSync(path.join(dir, "src/pb/accept.ts"));
    const unchanged = tree(dir);
    const missing = await consensus(["doctor", "--against", "nosuchref", "--fix"], dir);
    assert.equal(missing.stderr, "error: --against nosuchref: no such git revision\n");
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, "");
    assert.equal(tree(dir), unchanged, "--fix repairs nothing when the command is refused");
  });

  it("--against a revision without the protos: a project git ignores (the set-up's demo/), and one not committed yet", async () => {
    // An enclosing repository that ignores the project's folder, as the tool's checkout ignores demo/.
    const outer = scratch.path("outer-");
    cpSync(await project(), path.join(outer, "demo"), { recursive: true, verbatimSymlinks: true });
    writeFileSync(path.join(outer, ".gitignore"), "demo/\n");
    git(outer, "init", "-q");
    git(outer, "add", "-A");
    git(outer, "commit", "-qm", "one");
    const ignored = path.join(outer, "demo");
    edit(ignored, "proto/accept.proto", /ballot = 1;/, "ballot = 3;");
    assert.equal((await consensus(["protobuf"], ignored)).code, 0);
    const before = tree(ignored);
    const refused = await consensus(["doctor", "--against", "HEAD"], ignored);
    assert.deepEqual(
      [refused.code, refused.stdout, refused.stderr],
      [
        1,
        "",
        "error: --against HEAD: git ignores proto/, so there is nothing to compare with: run doctor without --against\n",
      ],
    );
    assert.equal(tree(ignored), before);
    assert.deepEqual((await doctor(ignored)).lines, ["✔ no problems; wire check skipped (git ignores proto/)"]);

    const uncommitted = path.join(outer, "fresh");
    cpSync(ignored, uncommitted, { recursive: true, verbatimSymlinks: true });
    const fresh = await consensus(["doctor", "--against", "HEAD"], uncommitted);
    assert.equal(
      fresh.stderr,
      "error: --against HEAD: proto/ is not in HEAD, so there is nothing to compare with: commit the protos, or name a revision that has them\n",
    );
    assert.equal(fresh.code, 1);
  });
});
