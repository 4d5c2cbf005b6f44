import path from "node:path";
import type { ChangeSet } from "./changes.js";
import { planMessage, type FieldSpec } from "./envelope.js";
import { UserError } from "./errors.js";
import type { MessageNames } from "./names.js";
import type { Project } from "./project.js";
import { PACKAGE_ROOT } from "./package.js";
import type { ProjectConfig } from "./project.js";
import { renderFile } from "./render.js";
import { readProtos } from "./stubs.js";

/** The files every message type gets: its handler and the handler's test. */
const MESSAGE_DIR = path.join(PACKAGE_ROOT, "templates/message");
const MESSAGE_FILES = {
  handler: {
    template: "handler.ts.hbs",
    target: (names: MessageNames, config: ProjectConfig) => `${config.handlersDir}/${names.file}.ts`,
  },
  test: { template: "handler.test.ts.hbs", target: (names: MessageNames) => `test/handlers/${names.file}.test.ts` },
};

/** A message type as templates see it: its names, the stub module of its protos, whether it has a reply. */
export interface MessageValues extends MessageNames {
  /** The stub module of the proto file holding its messages, relative to outDir, without extension: `epaxos`. */
  readonly module: string;
  readonly reply: boolean;
}

export interface MessageTypePlan {
  /** The numbers given to the type: its Type value and its oneof fields. */
  readonly numbers: { readonly type: number; readonly request: number; readonly reply?: number };
  /** The proto holding its messages, relative to protoDir: new, or reused. */
  readonly messagesFile: string;
  readonly reused: boolean;
  /** The scaffolded stub handler and its test, relative to the project. */
  readonly handler: string;
  readonly handlerTest: string;
}

/**
 * Plans one more message type into `changes`, reading the project through
 * the plan (what is planned, else the disk): the message proto (unless its
 * messages exist), the envelope's edits, a stub handler and its test, and the
 * Dispatch case. Stubs are left to the caller. Used by `add-message`, and by
 * templates that start with message types (epaxos).
 */
export async function planMessageType(
  project: Project,
  changes: ChangeSet,
  names: MessageNames,
  request: readonly FieldSpec[],
  reply: readonly FieldSpec[] | null,
): Promise<MessageTypePlan> {
  const { protoDir, envelope, handlersDir, replica } = project.config;
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

  const created = new Map<string, string | Buffer>();
  if (plan.proto) created.set(`${protoDir}/${plan.proto.path}`, plan.proto.text);
  const message = { ...names, module: plan.messagesFile.replace(/\.proto$/, ""), reply: plan.reply };
  const rendered = await renderMessageFiles(message, project.config);
  for (const [file, content] of Object.values(rendered)) created.set(file, content);
  const present = await Promise.all([...created.keys()].map((file) => changes.read(file)));
  const clashes = [...created.keys()].filter((_, index) => present[index] !== undefined);
  if (clashes.length > 0) {
    const exist = clashes.length === 1 ? "exists" : "exist";
    throw new UserError(`${clashes.join(", ")} already ${exist}: move it out of the way, or choose another name`);
  }

  const source = await changes.read(replica);
  if (source === undefined) {
    throw new UserError(`${replica}: no such file (replica in consensus.json): it holds the Dispatch switch`);
  }
  const handlerModule = path.posix.relative(path.posix.dirname(replica), `${handlersDir}/${names.file}.js`);
  // The TypeScript compiler is loaded only here: most commands never need it.
  const { addDispatchCase } = await import("./replica-source.js");
  const edited = addDispatchCase(
    source.toString("utf8"),
    replica,
    { ...names, reply: plan.reply },
    `./${handlerModule}`,
  );

  changes.write(envelope, plan.envelope);
  for (const [file, content] of created) changes.write(file, content);
  changes.write(replica, edited);
  return {
    numbers: plan.numbers,
    messagesFile: plan.messagesFile,
    reused: plan.proto === undefined,
    handler: rendered.handler[0],
    handlerTest: rendered.test[0],
  };
}

/** The files of one message type, rendered: its stub handler and the handler's test (paths relative to the project). */
export async function renderMessageFiles(
  message: MessageValues,
  config: ProjectConfig,
): Promise<Record<keyof typeof MESSAGE_FILES, RenderedFile>> {
  const handler = MESSAGE_FILES.handler.target(message, config);
  const test = MESSAGE_FILES.test.target(message);
  // Imports relative to where each file goes: consensus.json may move the handlers, the stubs and the replica.
  const from = (file: string, to: string) => {
    const relative = path.posix.relative(path.posix.dirname(file), to);
    return relative.startsWith(".") ? relative : `./${relative}`;
  };
  const render = async ({ template, target }: (typeof MESSAGE_FILES)[keyof typeof MESSAGE_FILES]) => {
    const file = target(message, config);
    const paths = { handler, test, pb: from(file, config.outDir), src: from(file, path.posix.dirname(config.replica)) };
    return [file, await renderFile(path.join(MESSAGE_DIR, template), { ...message, ...paths })] as const;
  };
  const [handlerFile, testFile] = await Promise.all([render(MESSAGE_FILES.handler), render(MESSAGE_FILES.test)]);
  return { handler: handlerFile, test: testFile };
}

/** A file as planned: its path relative to the project, and its content. */
export type RenderedFile = readonly [path: string, content: string | Buffer];
