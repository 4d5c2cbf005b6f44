import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { recover, ChangeSet, type Change } from "../core/changes.js";
import { listProtos } from "../core/compile.js";
import { parseFieldSpecs, planMessage } from "../core/envelope.js";
import { UserError } from "../core/errors.js";
import { messageNames, type MessageNames } from "../core/names.js";
import { findProject } from "../core/project.js";
import { renderMessageFiles } from "../core/scaffold.js";
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
  const { protoDir, envelope, handlersDir, replica } = project.config;
  const names = messageNames(options.name);
  const request = parseFieldSpecs(options.request ?? "", "--request");
  const reply = options.reply === null ? null : parseFieldSpecs(options.reply ?? "", "--reply");

  const protoRoot = path.join(project.root, protoDir);
  const protos = new Map<string, string>();
  for (const file of existsSync(protoRoot) ? await listProtos(protoRoot) : []) {
    protos.set(file, await readFile(path.join(protoRoot, file), "utf8"));
  }
  const envelopeFile = path.posix.relative(protoDir, envelope);
  if (!protos.has(envelopeFile)) {
    throw new UserError(
      `${envelope}: no such file (envelope in consensus.json): the envelope must be under ${protoDir}/`,
    );
  }
  const plan = planMessage({ protos, envelope: envelopeFile, envelopeShown: envelope, name: names, request, reply });

  const changes = new ChangeSet(project.root);
  changes.write(envelope, plan.envelope);
  const created = new Map<string, string | Buffer>();
  if (plan.proto) created.set(`${protoDir}/${plan.proto.path}`, plan.proto.text);
  const message = { ...names, module: plan.messagesFile.replace(/\.proto$/, ""), reply: plan.reply };
  const files = await renderMessageFiles(message, project.config);
  for (const [file, content] of Object.values(files)) created.set(file, content);
  const clashes = [...created.keys()].filter((file) => existsSync(path.join(project.root, file)));
  if (clashes.length > 0) {
    const exist = clashes.length === 1 ? "exists" : "exist";
    throw new UserError(`${clashes.join(", ")} already ${exist}: move it out of the way, or choose another name`);
  }
  for (const [file, content] of created) changes.write(file, content);

  const replicaFile = path.join(project.root, replica);
  const source = await readFile(replicaFile, "utf8").catch(() => {
    throw new UserError(`${replica}: no such file (replica in consensus.json): it holds the Dispatch switch`);
  });
  const handlerModule = path.posix.relative(path.posix.dirname(replica), `${handlersDir}/${names.file}.js`);
  // The TypeScript compiler is loaded only here, while nothing else waits on it.
  const { addDispatchCase } = await import("../core/replica-source.js");
  changes.write(replica, addDispatchCase(source, replica, { ...names, reply: plan.reply }, `./${handlerModule}`));

  // Compiles every planned proto (one that does not compile stops here, nothing written), and
  // regenerates the stubs this change touches: the envelope's, and the new file's.
  await planStubs(project, changes, { only: plan.proto ? [envelopeFile, plan.messagesFile] : [envelopeFile] });
  const result = {
    root: project.root,
    names,
    numbers: plan.numbers,
    messagesFile: `${protoDir}/${plan.messagesFile}`,
    reused: plan.proto === undefined,
    handler: files.handler[0],
    handlerTest: files.test[0],
  };
  if (options.dryRun) return { ...result, changes: await changes.changes() };
  return { ...result, changes: await changes.commit(options.signal) };
}
