// The package as npm would publish it: packed, installed into another project,
// and both bins run from there (no checkout, no dev dependencies).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { REPO } from "./support/paths.js";

const exec = promisify(execFile);
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

describe("the packed package", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "consensus-pack-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("installs from its tarball, and both bins work from node_modules", { timeout: 180_000 }, async () => {
    // dist/ is built by the test command already; packing must not build again.
    const { stdout: tarball } = await exec(npm, ["pack", "--ignore-scripts", "--silent", "--pack-destination", dir], {
      cwd: REPO,
    });
    writeFileSync(path.join(dir, "package.json"), '{ "name": "host", "private": true }\n');
    await exec(npm, ["install", "--no-audit", "--no-fund", path.join(dir, tarball.trim())], { cwd: dir });

    const bin = (name: string) => path.join(dir, "node_modules/.bin", name);
    const created = await exec(bin("create-consensus"), ["app", "--no-install", "--no-git"], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1" },
    });
    assert.match(created.stdout, /✔ created app \(template blank, 64 files\)/);
    const pkg = JSON.parse(readFileSync(path.join(dir, "app/package.json"), "utf8"));
    const version = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")).version;
    assert.equal(pkg.devDependencies["create-consensus"], `^${version}`, "an installed tool is depended on by version");

    const checked = await exec(bin("consensus"), ["protobuf", "--check"], { cwd: path.join(dir, "app") });
    assert.equal(checked.stdout, "✔ src/pb/ is up to date (4 files)\n");
  });
});
