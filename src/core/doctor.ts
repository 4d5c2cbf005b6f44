// What `consensus doctor` finds inconsistent in a project, and what it can
// repair: the envelope against itself, the handlers and the Dispatch switch
// against the envelope, the stubs against the protos, and the protos against
// a git revision (the wire check add-message and remove-message use).
import type { ChangeSet } from "./changes.js";
import { UserError } from "./errors.js";
import { protosAt, type ProtosAt } from "./git.js";
import { listMessageTypes, planDispatchRepair } from "./message-type.js";
import type { Project } from "./project.js";
import { checkWireCompatible } from "./proto/wire.js";
import { planStubs, readProtoTexts } from "./stubs.js";

export interface Finding {
  readonly message: string;
  /** Whether --fix repairs it (in the change set it was planned into). */
  readonly fixable: boolean;
}

export interface Diagnosis {
  readonly findings: readonly Finding[];
  /** What the wire check compared with, or why it did not run. */
  readonly wire: { readonly against: string; readonly checked: boolean; readonly note?: string };
}

export interface DiagnoseOptions {
  /** The git revision the protos are checked against (undefined: HEAD, skipped where there is none). */
  readonly against?: string;
}

/**
 * Diagnoses the project. The repairs of fixable findings are planned into
 * `repairs`: committing it is `--fix`.
 */
export async function diagnose(
  project: Project,
  repairs: ChangeSet,
  options: DiagnoseOptions = {},
): Promise<Diagnosis> {
  const { envelope, replica, outDir, protoDir } = project.config;
  const findings: Finding[] = [];
  const found = (message: string, fixable = false) => findings.push({ message, fixable });

  const listing = await listMessageTypes(project, repairs);
  for (const type of listing.types) {
    const name = `${type.constant} = ${type.number}`;
    if (!type.request) {
      found(
        type.reply
          ? `${envelope}: Type value ${name} has a PeerReply member (${type.reply.field}) but none in PeerRequest`
          : `${envelope}: Type value ${name} has no member in PeerRequest's oneof message`,
      );
      continue;
    }
    const { handler, dispatchCase } = type;
    const field = type.request.field;
    if (!handler.exists && !dispatchCase)
      found(`${type.constant} has no handler (${handler.file}) and no case in ${replica}`, true);
    else if (!handler.exists)
      found(`${replica} has a case for ${field}, but its handler ${handler.file} does not exist`, true);
    else if (!dispatchCase) found(`${handler.file} has no case in the Dispatch switch of ${replica}`, true);
    if (!handler.exists || !dispatchCase) await planDispatchRepair(project, repairs, type);
  }
  for (const [message, members] of [
    ["PeerRequest", listing.strayRequests],
    ["PeerReply", listing.strayReplies],
  ] as const) {
    for (const member of members) {
      found(`${envelope}: ${message}.${member.field} = ${member.number} matches no value of enum Type`);
    }
  }
  for (const label of listing.strayCases)
    found(`${replica}: the Dispatch case "${label}" matches no value of enum Type`);

  // Stale stubs: the regeneration planned with the repairs above (which touch no proto), its changes those under outDir.
  await planStubs(project, repairs);
  const stale = (await repairs.changes()).filter((change) => change.path.startsWith(`${outDir}/`));
  if (stale.length > 0) {
    const what = { create: "missing", update: "stale", delete: "no longer generated" } as const;
    found(`${outDir}/ is out of date: ${stale.map((c) => `${c.path} (${what[c.kind]})`).join(", ")}`, true);
  }

  // The wire check against a revision, read with git.
  const against = options.against ?? "HEAD";
  const read = await protosAt(project.root, against, protoDir);
  if (read.kind !== "read") {
    const { reason, note } = unread(read, project.root, protoDir, against);
    if (options.against !== undefined) throw new UserError(`--against ${against}: ${reason}`);
    return { findings, wire: { against, checked: false, note } };
  }
  try {
    checkWireCompatible(read.protos, await readProtoTexts(project, repairs));
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    found(`${protoDir}/ against ${against}: ${error.message}`);
  }
  return { findings, wire: { against, checked: true } };
}

/** Why the protos at `against` could not be read: as the error of an explicit --against, and as the note of the default check's skip. */
function unread(
  read: Exclude<ProtosAt, { kind: "read" }>,
  root: string,
  protoDir: string,
  against: string,
): { reason: string; note: string } {
  switch (read.kind) {
    case "no-work-tree":
      return {
        reason: `${root} is not in a git work tree: run doctor without --against`,
        note: "not in a git work tree",
      };
    case "no-revision":
      return { reason: "no such git revision", note: "no commit yet" };
    case "no-protos": {
      const note = read.ignored ? `git ignores ${protoDir}/` : `${protoDir}/ is not in ${against}`;
      const fix = read.ignored ? "run doctor without --against" : "commit the protos, or name a revision that has them";
      return { reason: `${note}, so there is nothing to compare with: ${fix}`, note };
    }
  }
}
