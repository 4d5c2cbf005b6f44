// `npm run build` as a project linked to this checkout sees it: the bins keep
// working while the tool rebuilds (the build is made in dist-next/ and swapped
// in), and a build that fails leaves the last good one.
import assert from "node:assert/strict";
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import { spawnChild } from "./support/child.js";
import { REPO } from "./support/paths.js";
import { environment, runBin } from "./support/project.js";

const copy = mkdtempSync(path.join(os.tmpdir(), "consensus-build-"));
after(() => rmSync(copy, { recursive: true, force: true }));
for (const entry of ["package.json", "tsconfig.json", "bin", "src", "test", "templates", "proto", "dist"])
  cpSync(path.join(REPO, entry), path.join(copy, entry), { recursive: true });
symlinkSync(path.join(REPO, "node_modules"), path.join(copy, "node_modules"), "dir");
const BIN = path.join(copy, "bin/consensus.js");
const VERSION = (await runBin(BIN, ["--version"], copy)).stdout;
// A file of the old build: gone once a new one is in place.
const MARK = path.join(copy, "dist/cli/old-build");

/** Runs `npm run build` in the copy, running the bin over and over until it ends; each run's outcome. */
async function buildWhileRunning(
  t: TestContext,
): Promise<{ code: number | null; runs: { code: number; stderr: string }[] }> {
  const build = spawnChild(["npm", "run", "build"], { cwd: copy, env: environment({}), t, timeout: 240_000 });
  const runs = [];
  while (build.running) {
    const run = await runBin(BIN, ["--version"], copy, {}, undefined, { t });
    runs.push({ code: run.code, stderr: run.stderr });
    assert.equal(run.stdout, run.code === 0 ? VERSION : "");
  }
  const { code } = await build.exited;
  return { code, runs };
}

describe("npm run build", () => {
  it(
    "keeps the bins of a linked project working while it rebuilds, and swaps the new build in",
    { timeout: 300_000 },
    async (t) => {
      writeFileSync(MARK, "");
      // A change to the bundle: the new build's chunks have other names than the old one's.
      appendFileSync(path.join(copy, "src/core/names.ts"), "\nexport const rebuilt = true;\n");
      const { code, runs } = await buildWhileRunning(t);
      assert.equal(code, 0);
      assert.deepEqual(
        runs.filter((run) => run.code !== 0),
        [],
        `${runs.length} runs during the build`,
      );
      assert.ok(runs.length >= 3, `only ${runs.length} runs during the build`);
      assert.equal(existsSync(MARK), false, "the new build replaced the old");
      // The old build's chunks stay beside the new ones for a bin that started on the old build.
      const carried = readFileSync(path.join(copy, "dist/cli/chunks/.carried"), "utf8").split("\n");
      assert.ok(carried.length > 0 && carried.every((name) => existsSync(path.join(copy, "dist/cli/chunks", name))));
      for (const left of ["dist-next", "dist-old"]) assert.equal(existsSync(path.join(copy, left)), false, left);
    },
  );

  it("leaves the last good build in place when it fails", { timeout: 300_000 }, async (t) => {
    writeFileSync(MARK, "");
    appendFileSync(path.join(copy, "src/core/names.ts"), "\nexport const broken: number = 'not a number';\n");
    const { code, runs } = await buildWhileRunning(t);
    assert.notEqual(code, 0);
    assert.ok(existsSync(MARK), "the old build is still dist/");
    assert.equal((await runBin(BIN, ["--version"], copy)).stdout, VERSION);
    assert.ok(runs.every((run) => run.code === 0));
  });
});
