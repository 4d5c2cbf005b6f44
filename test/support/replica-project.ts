import { mkdtempSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CREATE_BIN, REPO } from "./paths.js";
import { runBin, tsc } from "./project.js";

/**
 * A project of `template` (blank by default) scaffolded by the real create-consensus and built,
 * with this repository's node_modules linked in (what an install would give it, the tool
 * included): real replicas for the workbench to run. The caller removes the folder's parent.
 */
export async function builtReplicaProject(template?: string): Promise<string> {
  const parent = mkdtempSync(path.join(os.tmpdir(), "consensus-workbench-"));
  const dir = path.join(parent, "replicas");
  const flags = template === undefined ? [] : ["--template", template];
  const created = await runBin(CREATE_BIN, [dir, ...flags, "--yes", "--no-install", "--no-git"], parent);
  if (created.code !== 0) throw new Error(`create-consensus failed: ${created.stderr}`);
  symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
  const diagnostics = await tsc(dir);
  if (diagnostics !== "") throw new Error(`the ${template ?? "blank"} project does not build: ${diagnostics}`);
  return dir;
}
