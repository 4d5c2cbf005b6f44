import { ChangeSet, recover, type Change } from "../core/changes.js";
import { planMessageTypeRemoval, type MessageTypeRemoval } from "../core/message-type.js";
import { messageNames } from "../core/names.js";
import { findProject } from "../core/project.js";
import { planStubs } from "../core/stubs.js";

export interface RemoveMessageOptions {
  readonly cwd: string;
  /** The message type's name in any spelling add-message accepts. */
  readonly name: string;
  /** Delete the handler and its test even when they are no longer the scaffolded stub. */
  readonly force?: boolean;
  /** Plan and report without writing. */
  readonly dryRun?: boolean;
  /** Aborts the command (Ctrl-C); nothing is left behind. */
  readonly signal?: AbortSignal;
}

export interface RemoveMessageResult extends MessageTypeRemoval {
  readonly root: string;
  readonly changes: Change[];
}

/**
 * `consensus remove-message <Name>`: the reverse of add-message, planned in
 * one change set and committed all or nothing.
 */
export async function removeMessage(options: RemoveMessageOptions): Promise<RemoveMessageResult> {
  const project = findProject(options.cwd);
  await recover(project.root);
  const changes = new ChangeSet(project.root);
  const plan = await planMessageTypeRemoval(project, changes, messageNames(options.name), { force: options.force });
  await planStubs(project, changes, { only: plan.protos });
  const result = { root: project.root, ...plan };
  if (options.dryRun) return { ...result, changes: await changes.changes() };
  return { ...result, changes: await changes.commit(options.signal) };
}
