import assert from "node:assert/strict";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { consensus } from "./support/project.js";
import { Scratch } from "./support/scratch.js";

const scratch = new Scratch("consensus-list-");
/** A freshly scaffolded project (list reads files only: no node_modules needed). */
const project = (template: string) => scratch.scaffold(template, { linked: false });

/** The table's rows as cells (split on the runs of two or more spaces that separate columns). */
async function table(dir: string): Promise<string[][]> {
  const run = await consensus(["list"], dir);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, "");
  return run.stdout
    .trimEnd()
    .split("\n")
    .map((line) => line.split(/ {2,}/));
}

const HEADER = ["TYPE", "PEERREQUEST", "PEERREPLY", "MESSAGES", "HANDLER", "CASE"];
const BEACON = ["BEACON = 0", "beacon = 10", "beacon = 10", "proto/beacon.proto", "src/handlers/beacon.ts", "yes"];

describe("consensus list", () => {
  it("shows the blank project's BEACON, then a type add-message adds, its handler a stub", async () => {
    const dir = await project("blank");
    assert.deepEqual(await table(dir), [HEADER, BEACON]);
    const added = await consensus(["add-message", "pre-accept", "--request", "ballot:uint64", "--no-reply"], dir);
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual(await table(dir), [
      HEADER,
      BEACON,
      ["PRE_ACCEPT = 1", "preAccept = 11", "–", "proto/pre_accept.proto", "src/handlers/pre-accept.ts (stub)", "yes"],
    ]);
  });

  it("shows every type of the epaxos project: messages in epaxos.proto, the handlers written, TryPreAccept's stub, a request-only COMMIT", async () => {
    const dir = await project("epaxos");
    const stub = (file: string) => `src/handlers/${file}.ts (stub)`;
    const written = (file: string) => `src/handlers/${file}.ts`;
    assert.deepEqual(await table(dir), [
      HEADER,
      BEACON,
      ["PREPARE = 1", "prepare = 11", "prepare = 11", "proto/epaxos.proto", written("prepare"), "yes"],
      ["ACCEPT = 2", "accept = 12", "accept = 12", "proto/epaxos.proto", written("accept"), "yes"],
      ["COMMIT = 3", "commit = 13", "–", "proto/epaxos.proto", written("commit"), "yes"],
      [
        "TRY_PRE_ACCEPT = 4",
        "tryPreAccept = 14",
        "tryPreAccept = 14",
        "proto/epaxos.proto",
        stub("try-pre-accept"),
        "yes",
      ],
      ["PRE_ACCEPT = 5", "preAccept = 15", "preAccept = 15", "proto/epaxos.proto", written("pre-accept"), "yes"],
    ]);
  });

  it("shows the paxos project's written handlers; a missing handler and a missing case as such", async () => {
    const dir = await project("paxos");
    const paxos = (constant: string, field: string, number: number, file: string) => [
      `${constant} = ${number}`,
      `${field} = ${number + 10}`,
      `${field} = ${number + 10}`,
      "proto/paxos.proto",
      `src/handlers/${file}.ts`,
      "yes",
    ];
    const rows = [
      HEADER,
      BEACON,
      paxos("PREPARE", "prepare", 1, "prepare"),
      paxos("ACCEPT", "accept", 2, "accept"),
      paxos("COMMIT", "commit", 3, "commit"),
      paxos("CATCH_UP", "catchUp", 4, "catch-up"),
    ];
    assert.deepEqual(await table(dir), rows);

    const broken = `${dir}-broken`;
    cpSync(dir, broken, { recursive: true });
    rmSync(path.join(broken, "src/handlers/commit.ts"));
    const replica = path.join(broken, "src/replica.ts");
    const source = readFileSync(replica, "utf8");
    const withoutCase = source.replace(/^ {8}case "catchUp":\n(.*\n)*? {10}\}\);\n/m, "");
    assert.notEqual(withoutCase, source);
    writeFileSync(replica, withoutCase);
    const cells = await table(broken);
    assert.deepEqual(cells.slice(0, 4), rows.slice(0, 4));
    assert.deepEqual(cells[4], [...rows[4]!.slice(0, 4), "src/handlers/commit.ts (missing)", "yes"]);
    assert.deepEqual(cells[5], [...rows[5]!.slice(0, 5), "no"]);
  });

  it("--json holds the same facts as the table", async () => {
    const dir = await project("epaxos");
    rmSync(path.join(dir, "src/handlers/accept.ts"));
    const run = await consensus(["list", "--json"], dir);
    assert.equal(run.code, 0, run.stderr);
    const listing = JSON.parse(run.stdout);
    assert.deepEqual(Object.keys(listing).sort(), ["strayCases", "strayReplies", "strayRequests", "types"]);
    assert.deepEqual(listing.types[0], {
      constant: "BEACON",
      number: 0,
      request: { field: "beacon", number: 10, message: "pb.BeaconRequest", file: "proto/beacon.proto" },
      reply: { field: "beacon", number: 10, message: "pb.BeaconReply", file: "proto/beacon.proto" },
      handler: { file: "src/handlers/beacon.ts", exists: true, stub: false },
      dispatchCase: true,
    });
    const rows = (await table(dir)).slice(1);
    assert.equal(listing.types.length, rows.length);
    for (const [i, type] of listing.types.entries()) {
      const member = (m?: { field: string; number: number }) => (m ? `${m.field} = ${m.number}` : "–");
      const { handler } = type;
      assert.deepEqual(rows[i], [
        `${type.constant} = ${type.number}`,
        member(type.request),
        member(type.reply),
        type.request.file,
        `${handler.file}${handler.exists ? (handler.stub ? " (stub)" : "") : " (missing)"}`,
        type.dispatchCase ? "yes" : "no",
      ]);
    }
    assert.equal(listing.types[3].reply, undefined, "COMMIT has no reply");
    assert.deepEqual(listing.types[2].handler, { file: "src/handlers/accept.ts", exists: false, stub: false });
  });

  it("refuses outside a project", async () => {
    const run = await consensus(["list"], scratch.dir);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: no consensus\.json in [^\n]*\n$/);
    assert.equal(run.stdout, "");
  });
});
