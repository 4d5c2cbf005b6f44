// Known protocol bugs, kept as mutants that a template's own tests must kill:
// test/mutants/<template>/<name>.json says what the bug is, the text edits
// that make it, the project's test that must fail on it and what its output
// must then say. Each template is scaffolded once (a real install); its tests
// pass unmutated (the control), and each mutant is a copy of that project with
// the edits made, compiled, whose test must fail naming `killedBy`.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { CREATE_BIN, NODE, REPO } from "./support/paths.js";
import { runBin } from "./support/project.js";

interface Mutant {
  /** One line: the bug. */
  what: string;
  /** Each `find` must occur exactly once in its file (else the fixture is stale). */
  edits: { file: string; find: string; replace: string }[];
  /** The project's test file (under test/) that must fail. */
  test: string;
  /** What that test's output must contain: for a simulation, the first failing seed. */
  killedBy: string;
}

const FIXTURES = path.join(REPO, "test/mutants");
/** Bounds of the steps, far beyond what each takes here (install ~20 s, tsc ~10 s, a simulation ~1 min): only a hang reaches them. */
const CREATE_MS = 5 * 60_000;
const BUILD_MS = 2 * 60_000;
const TEST_MS = 5 * 60_000;
/** The project's test runs as its own runner, with the seeds its tests choose. */
const TEST_ENV = { NODE_TEST_CONTEXT: undefined, SIMULATION_SEED: undefined, SIMULATION_RUNS: undefined };

const scratch = mkdtempSync(path.join(os.tmpdir(), "consensus-mutants-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Compiles the project in `dir` with its own tsc; fails `t` with tsc's output if it does not compile. */
async function build(t: TestContext, dir: string): Promise<void> {
  const tsc = path.join(dir, "node_modules/typescript/bin/tsc");
  const run = await runBin(tsc, [], dir, {}, [NODE], { t, timeout: BUILD_MS });
  assert.equal(run.code, 0, `tsc failed in ${dir}:\n${run.stdout}${run.stderr}`);
}

/** Runs test/<file> of the compiled project in `dir`: its exit code and output. */
async function runTest(t: TestContext, dir: string, file: string): Promise<{ code: number; output: string }> {
  const compiled = path.join(dir, "dist/test", file.replace(/\.ts$/, ".js"));
  // TAP on every Node.js line, so that a killedBy naming a failed test ("not ok 5 - …") reads the same.
  const run = await runBin(compiled, [], dir, TEST_ENV, [NODE, "--test", "--test-reporter=tap"], {
    t,
    timeout: TEST_MS,
  });
  return { code: run.code, output: run.stdout + run.stderr };
}

/** A copy of `project` in `dir` without node_modules (linked) and dist, with `mutant`'s edits made. */
function mutate(project: string, dir: string, mutant: Mutant): void {
  cpSync(project, dir, {
    recursive: true,
    filter: (source) => !["node_modules", "dist"].includes(path.relative(project, source)),
  });
  symlinkSync(path.join(project, "node_modules"), path.join(dir, "node_modules"));
  for (const { file, find, replace } of mutant.edits) {
    const target = path.join(dir, file);
    const source = readFileSync(target, "utf8");
    const found = source.split(find).length - 1;
    assert.equal(found, 1, `stale fixture: ${file} holds ${JSON.stringify(find)} ${found} times, not once`);
    writeFileSync(
      target,
      source.replace(find, () => replace),
    );
  }
}

for (const template of readdirSync(FIXTURES)) {
  const folder = path.join(FIXTURES, template);
  const mutants = readdirSync(folder)
    .filter((file) => file.endsWith(".json"))
    .sort()
    .map((file) => ({ file, mutant: JSON.parse(readFileSync(path.join(folder, file), "utf8")) as Mutant }));

  describe(`the ${template} template kills its mutants`, () => {
    const project = path.join(scratch, template);

    before(async () => {
      const run = await runBin(
        CREATE_BIN,
        [template, "--template", template, "--yes", "--no-git"],
        scratch,
        {},
        [NODE],
        {
          timeout: CREATE_MS,
        },
      );
      assert.equal(run.code, 0, run.stdout + run.stderr);
    });

    it("the control: unmutated, every test a mutant names passes", async (t) => {
      await build(t, project);
      for (const file of new Set(mutants.map(({ mutant }) => mutant.test))) {
        const { code, output } = await runTest(t, project, file);
        assert.equal(code, 0, `test/${file} fails unmutated:\n${output}`);
      }
    });

    for (const { file, mutant } of mutants) {
      it(file, async (t) => {
        const dir = path.join(scratch, `${template}-${path.basename(file, ".json")}`);
        mutate(project, dir, mutant);
        await build(t, dir);
        const { code, output } = await runTest(t, dir, mutant.test);
        assert.notEqual(code, 0, `the mutant survived test/${mutant.test}: ${mutant.what}`);
        assert.ok(
          output.includes(mutant.killedBy),
          `test/${mutant.test} failed, but its output does not say ${JSON.stringify(mutant.killedBy)}:\n${output}`,
        );
      });
    }
  });
}
