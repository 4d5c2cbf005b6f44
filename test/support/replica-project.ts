import { mkdtempSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CREATE_BIN, REPO } from "./paths.js";
import { runBin, tsc } from "./project.js";

/**
 * A blank project scaffolded by the real create-consensus and built, with this
 * repository's node_modules linked in (what an install would give it): real
 * replicas for the workbench to run. The caller removes the folder.
 */
export async function builtReplicaProject(): Promise<string> {
  const parent = mkdtempSync(path.join(os.tmpdir(), "consensus-workbench-"));
  const dir = path.join(parent, "replicas");
  const created = await runBin(CREATE_BIN, [dir, "--yes", "--no-install", "--no-git"], parent);
  if (created.code !== 0) throw new Error(`create-consensus failed: ${created.stderr}`);
  symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
  const diagnostics = await tsc(dir);
  if (diagnostics !== "") throw new Error(`the blank project does not build: ${diagnostics}`);
  return dir;
}
