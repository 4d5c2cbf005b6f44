import { recover, ChangeSet, type Change } from "../core/changes.js";
import { parseFieldSpecs } from "../core/proto/field-specs.js";
import { planMessageType } from "../core/message-type.js";
import { messageNames, type MessageNames } from "../core/names.js";
import { findProject } from "../core/project.js";
import { planStubs } from "../core/stubs.js";

export interface AddMessageOptions {
  readonly cwd: string;
  /** The message type's name in any accepted spelling: `Accept`, `pre-accept`, `preAccept`. */
  readonly name: string;
  /** Request fields, `"ballot:uint64,deps:repeated int32"`. */
  readonly request?: string;
  /** Reply fields; null for a request-only type (`--no-reply`). */
  readonly reply?: string | null;
  /** Plan and report without writing. */
  readonly dryRun?: boolean;
  /** Aborts the command (Ctrl-C); nothing is left behind. */
  readonly signal?: AbortSignal;
}

export interface AddMessageResult {
  readonly root: string;
  readonly names: MessageNames;
  /** The numbers given to the type: its Type value and its oneof fields. */
  readonly numbers: { readonly type: number; readonly request: number; readonly reply?: number };
  /** The proto file holding its messages, relative to the project (new, or reused). */
  readonly messagesFile: string;
  readonly reused: boolean;
  /** The names taken back from `reserved` (the type was removed before); its old numbers stay reserved. */
  readonly revived: readonly string[];
  /** The scaffolded stub handler and its test, relative to the project. */
  readonly handler: string;
  readonly handlerTest: string;
  readonly changes: Change[];
}

/**
 * `consensus add-message <Name>`: the message's proto (unless it exists), the
 * envelope's three edits, the regenerated stubs, a stub handler and its test,
 * and the Dispatch case, planned in one change set and committed all or nothing.
 */
export async function addMessage(options: AddMessageOptions): Promise<AddMessageResult> {
  const project = findProject(options.cwd);
  await recover(project.root);
  const names = messageNames(options.name);
  const request = parseFieldSpecs(options.request ?? "", "--request");
  const reply = options.reply === null ? null : parseFieldSpecs(options.reply ?? "", "--reply");
  const changes = new ChangeSet(project.root);
  const plan = await planMessageType(project, changes, names, request, reply);
  // Compiles every planned proto (one that does not compile stops here, nothing written), and
  // regenerates the stubs this change touches: the envelope's, and the new file's.
  await planStubs(project, changes, { only: plan.protos });
  const result = {
    root: project.root,
    names,
    numbers: plan.numbers,
    messagesFile: `${project.config.protoDir}/${plan.messagesFile}`,
    reused: plan.reused,
    revived: plan.revived,
    handler: plan.handler,
    handlerTest: plan.handlerTest,
  };
  if (options.dryRun) return { ...result, changes: await changes.changes() };
  return { ...result, changes: await changes.commit(options.signal) };
}
