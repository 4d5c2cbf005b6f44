// remove-message's plan for the protos, the reverse of add-message's: the Type
// value and its oneof members leave the envelope and their numbers and names
// become `reserved`, so that they are never reused; the messages' proto goes
// when nothing else uses it, and the envelope's import of it with it.
import { UserError } from "../errors.js";
import type { MessageNames } from "../names.js";
import { removeImport, removeStatement, reserve } from "../proto/edit.js";
import { typesUsedBy } from "../proto/model.js";
import { memberStatement } from "../proto/scan.js";
import { checkWireCompatible } from "../proto/wire.js";
import { applyEdits, type Edit } from "../text.js";
import { type EnvelopeInput, type EnvelopeType, envelopeTypes, readEnvelope, typeKey } from "./envelope.js";

/** The contract's own type: every replica answers it, the workbench and the tests send it. */
export const CONTRACT_TYPE = "BEACON";

export interface RemovalPlan {
  /** The envelope's new text. */
  readonly envelope: string;
  /** The type as it was: its Type value, and its oneof members with their numbers and messages. */
  readonly removed: EnvelopeType;
  /** The proto that defined its messages (relative to the proto folder), if any. */
  readonly messagesFile: string | undefined;
  /** Whether that proto is deleted (nothing else uses it). */
  readonly deletesMessagesFile: boolean;
}

export interface PlanRemovalInput extends EnvelopeInput {
  readonly name: MessageNames;
}

export function planRemoveMessage(input: PlanRemovalInput): RemovalPlan {
  const { protos, envelope, envelopeShown, name } = input;
  const parsed = readEnvelope(input);
  const { structure, blocks, model } = parsed;
  const type = envelopeTypes(parsed).types.find((candidate) => typeKey(candidate.constant) === typeKey(name.constant));
  if (type === undefined) {
    throw new UserError(
      `${envelopeShown}: enum Type has no value ${name.constant}: nothing to remove (consensus list shows the types)`,
    );
  }
  if (type.constant === CONTRACT_TYPE) {
    throw new UserError(
      `${CONTRACT_TYPE} is the contract's own type (every replica answers it; the workbench sends it): it cannot be removed`,
    );
  }

  const edits: Edit[] = [];
  const typeValue = memberStatement(structure, blocks.type, type.constant);
  if (!typeValue) throw new UserError(`${envelopeShown}: the value ${type.constant} of enum Type could not be found`);
  edits.push(removeStatement(structure, typeValue), ...reserve(structure, blocks.type, [type.number], [type.constant]));
  for (const [member, oneof, message] of [
    [type.request, blocks.requestOneof, blocks.request],
    [type.reply, blocks.replyOneof, blocks.reply],
  ] as const) {
    if (!member) continue;
    const statement = memberStatement(structure, oneof, member.field);
    if (!statement) throw new UserError(`${envelopeShown}: the oneof member ${member.field} could not be found`);
    edits.push(removeStatement(structure, statement), ...reserve(structure, message, [member.number], [member.field]));
  }

  // The messages' file: deleted when no other proto imports it and the envelope no longer uses any of its types.
  const messagesFile = type.request?.file ?? type.reply?.file;
  let deletesMessagesFile = false;
  if (messagesFile !== undefined && messagesFile !== envelope) {
    const defined = [...model.names].filter(([, definition]) => definition.file === messagesFile);
    // The envelope defines the same names after the edits: resolved in the model it had before them.
    const used = typesUsedBy(model, applyEdits(parsed.text, edits));
    if (!defined.some(([fullName]) => used.has(fullName))) {
      const importEdit = removeImport(structure, messagesFile);
      if (importEdit) edits.push(importEdit);
      const importedElsewhere = [...model.files.values()].some(
        (other) => other.path !== envelope && other.path !== messagesFile && other.imports.includes(messagesFile),
      );
      deletesMessagesFile = !importedElsewhere;
    }
  }
  const envelopeAfter = applyEdits(parsed.text, edits);

  // Guard: the result parses, and reads and writes all that the envelope did.
  const after = new Map(protos);
  after.set(envelope, envelopeAfter);
  if (deletesMessagesFile) after.delete(messagesFile!);
  try {
    checkWireCompatible(protos, after);
  } catch (error) {
    throw new Error(
      `remove-message planned an envelope that breaks the wire format (a bug): ${(error as Error).message}`,
      { cause: error },
    );
  }
  return { envelope: envelopeAfter, removed: type, messagesFile, deletesMessagesFile };
}
