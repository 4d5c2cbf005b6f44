import path from "node:path";
import { ChangeSet } from "./changes.js";
import { planScaffold } from "./scaffold.js";

/** The workbench speaks only the wire contract (SPEC §4): the messages of a blank project, stubs and all. */
const TEMPLATE = "blank";
const OUT_DIR = "src/pb/";

/**
 * The stubs of a blank project as `create-consensus` generates them, by file
 * name: what src/workbench/pb/ holds. `root` is only where the plan is made;
 * nothing is written.
 */
export async function workbenchStubs(root: string): Promise<Map<string, Buffer>> {
  const changes = new ChangeSet(root);
  await planScaffold(TEMPLATE, { name: "workbench", toolDependency: "*" }, changes, "write");
  const stubs = new Map<string, Buffer>();
  for (const [file, content] of changes.planned()) {
    if (file.startsWith(OUT_DIR) && content !== null) stubs.set(path.posix.relative(OUT_DIR, file), content);
  }
  return stubs;
}
