// The package as npm would publish it: packed, installed into another project,
// and both bins and the checker's export (create-consensus/check) run from
// there (no checkout, no dev dependencies).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { CREATE_BIN, NODE, REPO } from "./support/paths.js";

const exec = promisify(execFile);
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

describe("the packed package", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "consensus-pack-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const bin = (name: string) => path.join(dir, "node_modules/.bin", name);
  let installed: Promise<void> | undefined;
  /** Packs the package and installs the tarball into `dir`, once for the tests below. */
  const install = () =>
    (installed ??= (async () => {
      // dist/ is built by the test command already; packing must not build again.
      const { stdout: tarball } = await exec(npm, ["pack", "--ignore-scripts", "--silent", "--pack-destination", dir], {
        cwd: REPO,
      });
      writeFileSync(path.join(dir, "package.json"), '{ "name": "host", "private": true }\n');
      await exec(npm, ["install", "--prefer-offline", "--no-audit", "--no-fund", path.join(dir, tarball.trim())], {
        cwd: dir,
      });
    })());

  it("installs from its tarball, and both bins work from node_modules", { timeout: 180_000 }, async () => {
    await install();
    const created = await exec(bin("create-consensus"), ["app", "--no-install", "--no-git"], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1" },
    });
    // Every file the checkout scaffolds: a template file the package's `files` leaves out shows here.
    const reference = await exec(NODE, [CREATE_BIN, "reference", "--no-install", "--no-git"], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1" },
    });
    const count = (stdout: string) => /^✔ created \S+ \(template blank, (\d+) files\)$/m.exec(stdout)?.[1];
    assert.ok(count(reference.stdout), reference.stdout);
    assert.equal(count(created.stdout), count(reference.stdout), created.stdout);
    const pkg = JSON.parse(readFileSync(path.join(dir, "app/package.json"), "utf8"));
    const version = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")).version;
    assert.equal(pkg.devDependencies["create-consensus"], `^${version}`, "an installed tool is depended on by version");

    const checked = await exec(bin("consensus"), ["protobuf", "--check"], { cwd: path.join(dir, "app") });
    assert.equal(checked.stdout, "✔ src/pb/ is up to date (4 files)\n");
  });

  it(
    "serves create-consensus/check to a program, and consensus check, from the install",
    { timeout: 180_000 },
    async () => {
      await install();
      // A read of a value never written: not linearizable, the read's invoke on line 3.
      const events = [
        { process: 0, type: "invoke", f: "write", value: 1 },
        { process: 0, type: "ok", f: "write", value: 1 },
        { process: 1, type: "invoke", f: "read", value: null },
        { process: 1, type: "ok", f: "read", value: 2 },
      ];
      writeFileSync(path.join(dir, "stale.jsonl"), events.map((event) => JSON.stringify(event) + "\n").join(""));
      writeFileSync(
        path.join(dir, "check.mjs"),
        [
          'import { readFileSync } from "node:fs";',
          'import { checkHistory } from "create-consensus/check";',
          'const result = await checkHistory(readFileSync("stale.jsonl", "utf8"));',
          "console.log(result.verdict, result.violations[0]?.operations[0]?.invoke.line);",
          "",
        ].join("\n"),
      );
      const imported = await exec(NODE, ["check.mjs"], { cwd: dir });
      assert.equal(imported.stdout, "not linearizable 3\n");

      // Exit 1 is the verdict "not linearizable", not a failure to run.
      const run = await exec(bin("consensus"), ["check", "stale.jsonl"], {
        cwd: dir,
        env: { ...process.env, NO_COLOR: "1" },
      }).then(
        () => assert.fail("consensus check exited 0 on a history that is not linearizable"),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stdout, /^✖ stale\.jsonl: not linearizable \(2 operations, 1 key, \d+ ms\)$/m);
    },
  );
});
