import { ChangeSet, recover, type Change } from "../core/changes.js";
import { UserError } from "../core/errors.js";
import { findProject } from "../core/project.js";
import { planStubs } from "../core/stubs.js";

export interface ProtobufOptions {
  /** Where to start looking for consensus.json. */
  readonly cwd: string;
  /** Compare with the files on disk instead of writing them; a stale tree throws. */
  readonly check?: boolean;
  /** Report what would change instead of writing it. */
  readonly dryRun?: boolean;
  /** Aborts the command (Ctrl-C); a commit under way is rolled back. */
  readonly signal?: AbortSignal;
}

export interface ProtobufResult {
  readonly outDir: string;
  /** Every generated file, relative to the project root. */
  readonly files: string[];
  /** What changed on disk (with dryRun, what would; with check, nothing). */
  readonly changes: Change[];
  readonly warnings: string[];
}

/** `consensus protobuf [--check] [--dry-run]`: regenerate the stubs of outDir from protoDir. */
export async function protobuf(options: ProtobufOptions): Promise<ProtobufResult> {
  const project = findProject(options.cwd);
  await recover(project.root);
  const changes = new ChangeSet(project.root);
  const { files, warnings } = await planStubs(project, changes);
  const { outDir } = project.config;
  if (options.check) {
    const stale = await changes.changes();
    if (stale.length > 0) {
      const what = { create: "missing", update: "stale", delete: "no longer generated" } as const;
      const list = stale.map((change) => `${change.path} (${what[change.kind]})`).join(", ");
      throw new UserError(`${outDir}/ is out of date: ${list}; run \`consensus protobuf\``);
    }
    return { outDir, files, changes: [], warnings };
  }
  const changed = options.dryRun ? await changes.changes() : await changes.commit(options.signal);
  return { outDir, files, changes: changed, warnings };
}
