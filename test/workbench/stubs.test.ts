// The workbench's wire stubs (src/workbench/pb/) are those of a blank project,
// byte for byte: the workbench speaks exactly the contract projects are made with. Its etcd stubs
// (src/workbench/etcd-pb/) are what its etcd protos generate.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { ETCD_PB, etcdStubs, workbenchStubs } from "../../src/core/workbench-stubs.js";
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

test("src/workbench/etcd-pb/ holds the stubs of its etcd protos as generated now (else: npm run golden:update)", async () => {
  const fresh = await etcdStubs(REPO);
  const dir = path.join(REPO, ETCD_PB);
  const stubs = readdirSync(dir).filter((file) => file.endsWith(".ts"));
  assert.deepEqual(stubs.sort(), [...fresh.keys()].sort());
  for (const [file, content] of fresh) assert.equal(readFileSync(path.join(dir, file), "utf8"), content);
});
