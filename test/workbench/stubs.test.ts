// The workbench's wire stubs (src/workbench/pb/) are those of a blank project,
// byte for byte: the workbench speaks exactly the contract projects are made with.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { workbenchStubs } from "../../src/core/workbench-stubs.js";
import { REPO } from "../support/paths.js";

test("src/workbench/pb/ holds a blank project's stubs as generated now (else: npm run golden:update)", async () => {
  const scratch = mkdtempSync(path.join(os.tmpdir(), "workbench-stubs-"));
  try {
    const fresh = await workbenchStubs(scratch);
    const dir = path.join(REPO, "src/workbench/pb");
    assert.deepEqual(readdirSync(dir).sort(), [...fresh.keys()].sort());
    for (const [file, content] of fresh) assert.equal(readFileSync(path.join(dir, file), "utf8"), content.toString());
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
