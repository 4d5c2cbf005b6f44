import path from "node:path";
import type { ChangeSet } from "./changes.js";
import { planMessage, type FieldSpec } from "./envelope.js";
import { UserError } from "./errors.js";
import type { MessageNames } from "./names.js";
import { PACKAGE_ROOT } from "./package.js";
import type { Project } from "./project.js";
import { renderFile } from "./render.js";
import { readProtos } from "./stubs.js";

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
  const { protoDir, envelope, handlersDir, replica } = config;
  const { files } = await readProtos(project, changes);
  const protos = new Map<string, string>();
  for (const file of files) protos.set(file, (await changes.read(`${protoDir}/${file}`))!.toString("utf8"));
  const envelopeFile = path.posix.relative(protoDir, envelope);
  if (!protos.has(envelopeFile)) {
    throw new UserError(
      `${envelope}: no such file (envelope in consensus.json): the envelope must be under ${protoDir}/`,
    );
  }
  const plan = planMessage({ protos, envelope: envelopeFile, envelopeShown: envelope, name: names, request, reply });

  const handler = `${handlersDir}/${names.file}.ts`;
  const handlerTest = `test/handlers/${names.file}.test.ts`;
  const values = {
    ...names,
    module: plan.messagesFile.replace(/\.proto$/, ""),
    reply: plan.reply,
    handler,
    test: handlerTest,
  };
  // Imports relative to where each file goes: consensus.json may move the handlers, the stubs and the replica.
  const render = async (template: string, file: string) => {
    const paths = { pb: importPath(file, config.outDir), src: importPath(file, path.posix.dirname(replica)) };
    return [file, await renderFile(path.join(MESSAGE_DIR, template), { ...values, ...paths })] as const;
  };
  const created = new Map<string, string | Buffer>(
    await Promise.all([render(HANDLER, handler), render(HANDLER_TEST, handlerTest)]),
  );
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
  const handlerImport = importPath(replica, `${handlersDir}/${names.file}.js`);
  const edited = addDispatchCase(source.toString("utf8"), replica, { ...names, reply: plan.reply }, handlerImport);

  changes.write(envelope, plan.envelope);
  for (const [file, content] of created) changes.write(file, content);
  changes.write(replica, edited);
  return {
    numbers: plan.numbers,
    messagesFile: plan.messagesFile,
    reused: plan.proto === undefined,
    protos: plan.proto ? [envelopeFile, plan.messagesFile] : [envelopeFile],
    handler,
    handlerTest,
  };
}

/** The import specifier of `target` from the file `from` (both relative to the project): `../pb`, `./handlers/x.js`. */
function importPath(from: string, target: string): string {
  const relative = path.posix.relative(path.posix.dirname(from), target);
  return relative.startsWith(".") ? relative : `./${relative}`;
}
