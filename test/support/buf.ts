import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { bufBinary } from "./paths.js";

/**
 * What `buf breaking` (the WIRE category) says of `after` against `before`: null when it finds
 * nothing, else its findings.
 */
export function bufBreaking(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string | null {
  const dir = mkdtempSync(path.join(os.tmpdir(), "consensus-breaking-"));
  try {
    for (const [name, protos] of [
      ["before", before],
      ["after", after],
    ] as const) {
      mkdirSync(path.join(dir, name));
      writeFileSync(path.join(dir, name, "buf.yaml"), "version: v2\nbreaking:\n  use: [WIRE]\n");
      for (const [file, text] of protos) {
        mkdirSync(path.dirname(path.join(dir, name, file)), { recursive: true });
        writeFileSync(path.join(dir, name, file), text);
      }
    }
    const run = spawnSync(bufBinary(), ["breaking", "after", "--against", "before"], { cwd: dir, encoding: "utf8" });
    if (run.status === 0) return null;
    assert.equal(run.status, 100, `buf breaking failed: ${run.stderr}`);
    return run.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
