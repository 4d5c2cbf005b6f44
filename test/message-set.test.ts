// Random sequences of add-message and remove-message on a real project, the
// real CLI each step: the project must compile, its handler and replica tests
// pass, and buf breaking (WIRE) find nothing between one step and the next.
// fast-check prints the seed and path of a failing sequence, which replay it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import fc from "fast-check";
import { bufBreaking } from "./support/buf.js";
import { consensus, tsc } from "./support/project.js";
import { NODE } from "./support/paths.js";
import { builtReplicaProject } from "./support/replica-project.js";

const NAMES = ["Accept", "Prepare", "Commit", "Vote", "Heartbeat"];

let dir: string;
/** The scaffolded envelope, with no reservations. */
let envelope: string;
before(async () => {
  dir = await builtReplicaProject();
  envelope = readFileSync(path.join(dir, "proto/envelope.proto"), "utf8");
});
after(() => rmSync(path.dirname(dir), { recursive: true, force: true }));

/** The project's protos, path under proto/ → text. */
function protos(): Map<string, string> {
  const folder = path.join(dir, "proto");
  return new Map(readdirSync(folder).map((file) => [file, readFileSync(path.join(folder, file), "utf8")]));
}

/** Builds the project and runs its handler tests and the replica's: the tests a message type changes. */
async function buildAndTest(): Promise<void> {
  rmSync(path.join(dir, "dist"), { recursive: true, force: true });
  assert.equal(await tsc(dir), "", "the project compiles");
  const handlers = readdirSync(path.join(dir, "dist/test/handlers")).map((file) => `dist/test/handlers/${file}`);
  const tests = [...handlers.filter((file) => file.endsWith(".test.js")), "dist/test/replica.test.js"];
  await promisify(execFile)(NODE, ["--test", ...tests], { cwd: dir });
}

describe("add-message and remove-message in random order", { timeout: 600_000 }, () => {
  it("keep the project compiling, its tests passing and every step wire-compatible for buf", async () => {
    const steps = fc.array(fc.record({ name: fc.constantFrom(...NAMES), reply: fc.boolean(), fields: fc.boolean() }), {
      minLength: 3,
      maxLength: 5,
    });
    await fc.assert(
      fc.asyncProperty(steps, async (sequence) => {
        const live = new Set<string>();
        const gone = new Set<string>();
        let previous = protos();
        const reset = await consensus(["doctor"], dir);
        assert.equal(reset.code, 0, reset.stdout + reset.stderr);
        try {
          for (const { name, reply, fields } of sequence) {
            // A removed name is not added again here: that takes its names back from reserved, which buf calls breaking.
            if (gone.has(name)) continue;
            const args = live.has(name)
              ? ["remove-message", name]
              : [
                  "add-message",
                  name,
                  ...(fields ? ["--request", "ballot:uint64,deps:repeated int32"] : []),
                  ...(reply ? (fields ? ["--reply", "ok:bool"] : []) : ["--no-reply"]),
                ];
            const run = await consensus(args, dir);
            assert.equal(run.code, 0, `${args.join(" ")}: ${run.stderr}`);
            if (live.delete(name)) gone.add(name);
            else live.add(name);
            const now = protos();
            assert.equal(bufBreaking(previous, now), null, `buf breaking after ${args.join(" ")}`);
            previous = now;
            await buildAndTest();
          }
          const doctor = await consensus(["doctor"], dir);
          assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
        } finally {
          // Back to the blank project for the next sequence: the types still there removed, then the
          // reservations of all of them dropped by restoring the scaffolded envelope.
          for (const name of live) await consensus(["remove-message", name], dir);
          writeFileSync(path.join(dir, "proto/envelope.proto"), envelope);
        }
      }),
      { numRuns: 2 },
    );
  });
});
