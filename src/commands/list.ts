import { ChangeSet, recover } from "../core/changes.js";
import { listMessageTypes, type MessageTypeListing } from "../core/message-type.js";
import { findProject } from "../core/project.js";

/** `consensus list`: the envelope's types, their members, handlers and Dispatch cases. */
export async function list(options: { readonly cwd: string }): Promise<MessageTypeListing> {
  const project = findProject(options.cwd);
  // A commit a killed command left half done is undone first, as every command does: list shows a whole tree.
  await recover(project.root);
  return listMessageTypes(project, new ChangeSet(project.root));
}
