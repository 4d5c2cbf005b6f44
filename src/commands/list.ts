import { ChangeSet } from "../core/changes.js";
import { listMessageTypes, type MessageTypeListing } from "../core/message-type.js";
import { findProject } from "../core/project.js";

/** `consensus list`: the envelope's types, their members, handlers and Dispatch cases. */
export async function list(options: { readonly cwd: string }): Promise<MessageTypeListing> {
  const project = findProject(options.cwd);
  return listMessageTypes(project, new ChangeSet(project.root));
}
