import path from "node:path";
import type { ChangeSet } from "./changes.js";
import { planAddMessage } from "./envelope/add.js";
import { type EnvelopeType, type EnvelopeTypes, envelopeTypes, readEnvelope } from "./envelope/envelope.js";
import { planRemoveMessage } from "./envelope/remove.js";
import { UserError } from "./errors.js";
import { messageNames, type MessageNames } from "./names.js";
import type { FieldSpec } from "./proto/field-specs.js";
import { PACKAGE_ROOT } from "./package.js";
import type { Project } from "./project.js";
import { renderFile } from "./render.js";
import { readProtoTexts } from "./stubs.js";

/** The files every message type gets, from templates/message: its stub handler and the handler's test. */
const MESSAGE_DIR = path.join(PACKAGE_ROOT, "templates/message");
const HANDLER = "handler.ts.hbs";
const HANDLER_TEST = "handler.test.ts.hbs";

export interface MessageTypePlan {
  /** The numbers given to the type: its Type value and its oneof fields. */
  readonly numbers: { readonly type: number; readonly request: number; readonly reply?: number };
  /** The proto holding its messages, relative to protoDir: new, or reused. */
  readonly messagesFile: string;
  readonly reused: boolean;
  /** The names taken back from `reserved`: the type was removed before and comes back with new numbers. */
  readonly revived: readonly string[];
  /** The protos whose stubs change (relative to protoDir): the envelope, and the new messages file. */
  readonly protos: readonly string[];
  /** The scaffolded stub handler and its test, relative to the project. */
  readonly handler: string;
  readonly handlerTest: string;
}

/**
 * Plans one more message type into `changes`, reading the project through
 * the plan (what is planned, else the disk): the message proto (unless its
 * messages exist), the envelope's edits, a stub handler and its test, and the
 * Dispatch case. Stubs are left to the caller. Used by `add-message`, and by
 * templates that start with message types (epaxos, paxos). With
 * `keepExisting`, a handler already in the plan is kept rather than refused,
 * and gets no stub test: a template that ships its handlers (paxos) tests them
 * itself.
 */
export async function planMessageType(
  project: Project,
  changes: ChangeSet,
  names: MessageNames,
  request: readonly FieldSpec[],
  reply: readonly FieldSpec[] | null,
  { keepExisting = false }: { keepExisting?: boolean } = {},
): Promise<MessageTypePlan> {
  const { config } = project;
  const { protoDir, envelope, replica } = config;
  const input = await envelopeInput(project, changes);
  const plan = planAddMessage({ ...input, name: names, request, reply });

  const { handler, test: handlerTest, files: stub } = await stubFiles(project, names, plan.reply, plan.messagesFile);
  const created = new Map<string, string | Buffer>(stub);
  if (plan.proto) created.set(`${protoDir}/${plan.proto.path}`, plan.proto.text);
  const present = await Promise.all([...created.keys()].map((file) => changes.read(file)));
  const clashes = [...created.keys()].filter((_, index) => present[index] !== undefined);
  if (keepExisting && clashes.includes(handler)) {
    // The template's handler is the real one: the stub's test would fail against it.
    for (const file of [handler, handlerTest]) created.delete(file);
    clashes.splice(0);
  }
  if (clashes.length > 0) {
    const exist = clashes.length === 1 ? "exists" : "exist";
    throw new UserError(`${clashes.join(", ")} already ${exist}: move it out of the way, or choose another name`);
  }

  const source = await changes.read(replica);
  if (source === undefined) {
    throw new UserError(`${replica}: no such file (replica in consensus.json): it holds the Dispatch switch`);
  }
  // The TypeScript compiler is loaded only here: most commands never need it.
  const { addDispatchCase } = await import("./replica-source.js");
  const edited = addDispatchCase(
    source.toString("utf8"),
    replica,
    { ...names, reply: plan.reply },
    handlerImport(project, names),
  );

  changes.write(envelope, plan.envelope);
  for (const [file, content] of created) changes.write(file, content);
  changes.write(replica, edited);
  return {
    numbers: plan.numbers,
    messagesFile: plan.messagesFile,
    reused: plan.proto === undefined,
    protos: plan.proto ? [input.envelope, plan.messagesFile] : [input.envelope],
    revived: plan.revived,
    handler,
    handlerTest,
  };
}

/** The import specifier of `target` from the file `from` (both relative to the project): `../pb`, `./handlers/x.js`. */
function importPath(from: string, target: string): string {
  const relative = path.posix.relative(path.posix.dirname(from), target);
  return relative.startsWith(".") ? relative : `./${relative}`;
}

/** The project's protos (through the plan) and where its envelope is, as the envelope plans take them. */
async function envelopeInput(project: Project, changes: ChangeSet) {
  const { protoDir, envelope } = project.config;
  const protos = await readProtoTexts(project, changes);
  const envelopeFile = path.posix.relative(protoDir, envelope);
  if (!protos.has(envelopeFile)) {
    throw new UserError(
      `${envelope}: no such file (envelope in consensus.json): the envelope must be under ${protoDir}/`,
    );
  }
  return { protos, envelope: envelopeFile, envelopeShown: envelope };
}

/** A type's stub handler and its test as add-message scaffolds them (relative to the project), rendered. */
async function stubFiles(project: Project, names: MessageNames, reply: boolean, messagesFile: string) {
  const { config } = project;
  const handler = `${config.handlersDir}/${names.file}.ts`;
  const test = `test/handlers/${names.file}.test.ts`;
  const values = { ...names, module: messagesFile.replace(/\.proto$/, ""), reply, handler, test };
  // Imports relative to where each file goes: consensus.json may move the handlers, the stubs and the replica.
  const render = async (template: string, file: string) => {
    const paths = { pb: importPath(file, config.outDir), src: importPath(file, path.posix.dirname(config.replica)) };
    return [file, await renderFile(path.join(MESSAGE_DIR, template), { ...values, ...paths })] as const;
  };
  const files = new Map(await Promise.all([render(HANDLER, handler), render(HANDLER_TEST, test)]));
  return { handler, test, files };
}

/** How the replica imports the handler of `names`: `./handlers/pre-accept.js`. */
function handlerImport(project: Project, names: MessageNames): string {
  const { replica, handlersDir } = project.config;
  return importPath(replica, `${handlersDir}/${names.file}.js`);
}

/** The names of an envelope type as add-message gave them, from its oneof member (else its Type value). */
function namesOf(type: EnvelopeType): MessageNames {
  return messageNames(type.request?.field ?? type.reply?.field ?? type.constant.toLowerCase());
}

export interface MessageTypeRemoval {
  readonly removed: EnvelopeType;
  /** The messages' proto, relative to the project, and whether it is deleted. */
  readonly messagesFile: string | undefined;
  readonly deletesMessagesFile: boolean;
  /** The protos whose stubs change (relative to protoDir). */
  readonly protos: readonly string[];
  /** The handler and its test, deleted (relative to the project); those that did not exist are left out. */
  readonly deleted: readonly string[];
}

/**
 * Plans the removal of a message type into `changes`, the reverse of
 * planMessageType: the envelope's edits, the messages' proto and its stubs
 * when nothing else uses them, the handler and its test while they are the
 * scaffolded stub (else refused, unless `force`), and the Dispatch case with
 * its import. Stubs of the envelope are left to the caller.
 */
export async function planMessageTypeRemoval(
  project: Project,
  changes: ChangeSet,
  name: MessageNames,
  { force = false }: { force?: boolean } = {},
): Promise<MessageTypeRemoval> {
  const { protoDir, outDir, envelope, replica } = project.config;
  const input = await envelopeInput(project, changes);
  const plan = planRemoveMessage({ ...input, name });
  const names = namesOf(plan.removed);

  const source = await changes.read(replica);
  if (source === undefined) {
    throw new UserError(`${replica}: no such file (replica in consensus.json): it holds the Dispatch switch`);
  }
  const { removeDispatchCase } = await import("./replica-source.js");
  const edited = removeDispatchCase(source.toString("utf8"), replica, names.field, handlerImport(project, names));

  const deleted: string[] = [];
  const messagesFile = plan.messagesFile ?? names.proto;
  const { files: stub } = await stubFiles(project, names, plan.removed.reply !== undefined, messagesFile);
  for (const [file, expected] of stub) {
    const present = await changes.read(file);
    if (present === undefined) continue;
    if (!force && present.toString("utf8") !== expected) {
      throw new UserError(
        `${file} is no longer the scaffolded stub: move your work out of it, or pass --force to delete it`,
      );
    }
    deleted.push(file);
  }

  changes.write(envelope, plan.envelope);
  changes.write(replica, edited);
  for (const file of deleted) changes.delete(file);
  if (plan.deletesMessagesFile) {
    changes.delete(`${protoDir}/${plan.messagesFile}`);
    const stubFile = `${outDir}/${plan.messagesFile!.replace(/\.proto$/, ".ts")}`;
    if ((await changes.read(stubFile)) !== undefined) changes.delete(stubFile);
  }
  return {
    removed: plan.removed,
    messagesFile: plan.messagesFile && `${protoDir}/${plan.messagesFile}`,
    deletesMessagesFile: plan.deletesMessagesFile,
    protos: [input.envelope],
    deleted,
  };
}

/** One type of the envelope as `consensus list` shows it. */
export interface MessageTypeEntry extends EnvelopeType {
  /** Its handler's file (relative to the project), whether it exists, and whether it is still the stub. */
  readonly handler: { readonly file: string; readonly exists: boolean; readonly stub: boolean };
  /** Whether the Dispatch switch has its case. */
  readonly dispatchCase: boolean;
}

export interface MessageTypeListing {
  readonly types: readonly MessageTypeEntry[];
  /** Oneof members no Type value matches (doctor reports them). */
  readonly strayRequests: EnvelopeTypes["strayRequests"];
  readonly strayReplies: EnvelopeTypes["strayReplies"];
  /** Cases of the Dispatch switch that match no type. */
  readonly strayCases: readonly string[];
}

/** The envelope's types with their handlers and Dispatch cases, read through `changes` (the disk when empty). */
export async function listMessageTypes(project: Project, changes: ChangeSet): Promise<MessageTypeListing> {
  const { protoDir, replica } = project.config;
  const input = await envelopeInput(project, changes);
  const listed = envelopeTypes(readEnvelope(input));
  const source = await changes.read(replica);
  if (source === undefined) {
    throw new UserError(`${replica}: no such file (replica in consensus.json): it holds the Dispatch switch`);
  }
  const { dispatchCases } = await import("./replica-source.js");
  const cases = dispatchCases(source.toString("utf8"), replica);
  const types = await Promise.all(
    listed.types.map(async (type): Promise<MessageTypeEntry> => {
      const names = namesOf(type);
      const messagesFile = type.request?.file ?? type.reply?.file ?? names.proto;
      const { handler, files } = await stubFiles(project, names, type.reply !== undefined, messagesFile);
      const present = await changes.read(handler);
      const stub = present !== undefined && present.toString("utf8") === files.get(handler);
      return {
        ...type,
        request: type.request && { ...type.request, file: type.request.file && `${protoDir}/${type.request.file}` },
        reply: type.reply && { ...type.reply, file: type.reply.file && `${protoDir}/${type.reply.file}` },
        handler: { file: handler, exists: present !== undefined, stub },
        dispatchCase: cases.includes(names.field),
      };
    }),
  );
  const fields = new Set(types.map((type) => namesOf(type).field));
  return { ...listed, types, strayCases: cases.filter((label) => !fields.has(label)) };
}

/**
 * Plans what doctor --fix adds to a type whose handler or Dispatch case is
 * missing: the stub handler and its test (those that do not exist), and the case.
 */
export async function planDispatchRepair(project: Project, changes: ChangeSet, type: MessageTypeEntry): Promise<void> {
  const names = namesOf(type);
  // The entry's files are relative to the project; the stub imports the messages' module from outDir.
  const file = type.request?.file ?? type.reply?.file;
  const messagesFile = file === undefined ? names.proto : file.slice(project.config.protoDir.length + 1);
  const { files } = await stubFiles(project, names, type.reply !== undefined, messagesFile);
  for (const [file, content] of files) if ((await changes.read(file)) === undefined) changes.write(file, content);
  const { replica } = project.config;
  const source = (await changes.read(replica))!.toString("utf8");
  const { addDispatchCase } = await import("./replica-source.js");
  const message = { ...names, reply: type.reply !== undefined };
  changes.write(replica, addDispatchCase(source, replica, message, handlerImport(project, names)));
}
