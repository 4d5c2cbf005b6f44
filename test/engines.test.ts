// The Node.js lines this package runs on: package.json's engines, what the bins
// do on a Node outside them, what a generated project asks for, and V8's compile cache.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import semver from "semver";
import { satisfies } from "../src/cli/start.js";
import { PACKAGE_JSON } from "../src/core/package.js";
import { walk } from "../src/core/walk.js";
import { CONSENSUS_BIN, CREATE_BIN, NODE, REPO } from "./support/paths.js";
import { runBin } from "./support/project.js";

const ENGINES = PACKAGE_JSON.engines.node;
const scratch = mkdtempSync(path.join(os.tmpdir(), "consensus-engines-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Asserts that both bins refuse to run on `node` (with its flags), in one line naming `version`, and that nothing was created. */
async function assertRefused(node: string[], version: string): Promise<void> {
  for (const [bin, name] of [
    [CREATE_BIN, "create-consensus"],
    [CONSENSUS_BIN, "consensus"],
  ] as const) {
    const run = await runBin(bin, name === "consensus" ? ["protobuf"] : ["app", "--yes"], scratch, {}, node);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, "");
    assert.equal(run.stderr, `error: ${name} runs on Node.js ${ENGINES}; this is Node.js ${version}\n`);
  }
  assert.equal(existsSync(path.join(scratch, "app")), false);
}

describe("the Node.js lines", () => {
  it("are read from engines as semver reads them", () => {
    const versions = [];
    for (let major = 16; major <= 28; major++)
      for (let minor = 0; minor <= 30; minor++)
        for (const patch of [0, 1, 9]) versions.push(`${major}.${minor}.${patch}`);
    for (const range of [ENGINES, "^20.19.0 || >=22.12.0", ">=24.0.0", "^22.0.0 || ^24.3.1", " ^20.19.3||>=22.12.0 "]) {
      for (const version of versions) {
        assert.equal(satisfies(version, range), semver.satisfies(version, range), `${version} in ${range}`);
      }
    }
    assert.throws(() => satisfies("20.0.0", ">=20 <21"), { message: 'engines: cannot read ">=20 <21"' });
  });

  it("are the ones a generated project asks for, and its test script finds the same files on each", async () => {
    const run = await runBin(CREATE_BIN, ["app", "--no-install", "--no-git"], scratch, {}, [process.execPath]);
    assert.equal(run.code, 0, run.stderr);
    const pkg = JSON.parse(readFileSync(path.join(scratch, "app/package.json"), "utf8"));
    rmSync(path.join(scratch, "app"), { recursive: true });
    assert.deepEqual(pkg.engines, { node: ENGINES });
    // Globs the shell expands: every line's runner gets the same list of files, never a folder.
    assert.equal(
      pkg.scripts.test,
      "npm run build && node --test --test-reporter=spec dist/test/*.test.js dist/test/*/*.test.js",
    );
  });

  it("are accepted by every package of the installed tree, so no install prints EBADENGINE", () => {
    const lock = JSON.parse(readFileSync(path.join(REPO, "package-lock.json"), "utf8")) as {
      packages: Record<string, { engines?: Record<string, string> | string[] }>;
    };
    // npm reads only engines.node from the object form; the old array form ("node >= 0.4") warns nothing.
    const narrower = Object.entries(lock.packages).flatMap(([where, { engines }]) => {
      const node = engines && !Array.isArray(engines) ? engines.node : undefined;
      return node !== undefined && !semver.subset(ENGINES, node)
        ? [`${where.replace(/^node_modules\//, "")}: ${node}`]
        : [];
    });
    assert.deepEqual(narrower, [], `these ask for less than ${ENGINES}`);
  });

  it("leave any other Node.js with one line from both bins, and nothing written", async () => {
    // This Node, saying it is 18.20.8 (the Node of Debian 12), before the bin runs.
    const older = "data:text/javascript,Object.defineProperty(process.versions,'node',{value:'18.20.8'})";
    await assertRefused([process.execPath, "--import", older], "18.20.8");
  });

  const version = execFileSync(NODE, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
  it(
    "leave a real Node.js outside them with that line too (CONSENSUS_TEST_NODE)",
    {
      skip:
        satisfies(version, ENGINES) &&
        `Node.js ${version} is supported: npm run test:lines runs this with one that is not`,
    },
    () => assertRefused([NODE], version),
  );

  it(
    "from 22.1 on, keep the CLI's compiled code on disk, in os.tmpdir()/node-compile-cache, unless NODE_DISABLE_COMPILE_CACHE=1",
    {
      skip:
        !satisfies(version, ">=22.1.0") &&
        `Node.js ${version} has no module.enableCompileCache(): npm run test:lines runs this on 22, 24 and 26`,
    },
    async () => {
      // TMPDIR decides where enableCompileCache() with no folder writes. NODE_COMPILE_CACHE stays
      // unset: it would turn the cache on without the bins' call.
      const cached = async (disable: string | undefined) => {
        const tmp = mkdtempSync(path.join(scratch, "tmp-"));
        const env = { TMPDIR: tmp, NODE_COMPILE_CACHE: undefined, NODE_DISABLE_COMPILE_CACHE: disable };
        const run = await runBin(CONSENSUS_BIN, ["--version"], scratch, env);
        assert.equal(run.code, 0, run.stderr);
        return walk(tmp).filter((entry) => !entry.endsWith("/"));
      };
      const files = await cached(undefined);
      assert.ok(
        files.length > 0 && files.every((file) => file.startsWith("node-compile-cache/")),
        `cached: ${files.join(", ") || "nothing"}`,
      );
      assert.deepEqual(await cached("1"), []);
    },
  );
});
