import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { ChangeSet } from "./changes.js";
import { UserError } from "./errors.js";
import { messageNames, type MessageNames } from "./names.js";
import { PACKAGE_ROOT } from "./package.js";
import { parseProject, PROJECT_FILE, type ProjectConfig } from "./project.js";
import { render } from "./render.js";
import { planStubs, type StubCacheUse } from "./stubs.js";

const TEMPLATES_DIR = path.join(PACKAGE_ROOT, "templates");
/** The canonical proto set that templates take their protos from. */
const PROTO_DIR = path.join(PACKAGE_ROOT, "proto");
/** The files every message type gets: its handler and the handler's test. */
const MESSAGE_DIR = path.join(TEMPLATES_DIR, "message");
const MESSAGE_FILES = {
  handler: {
    template: "handler.ts.hbs",
    target: (names: MessageNames, config: ProjectConfig) => `${config.handlersDir}/${names.file}.ts`,
  },
  test: { template: "handler.test.ts.hbs", target: (names: MessageNames) => `test/handlers/${names.file}.test.ts` },
};
const RENDERED = ".hbs";

/** `templates/<name>/template.json`: what a template is and what it starts with. */
interface TemplateManifest {
  readonly description: string;
  /** A template whose files this one starts from; its own files replace those of the same path. */
  readonly extends?: string;
  /** Protos copied from the canonical set into the project's protoDir. */
  readonly protos: readonly string[];
  /** Message types wired into the envelope besides Beacon, each with a scaffolded handler. */
  readonly messages?: readonly { name: string; proto: string; reply?: boolean }[];
}
const MANIFEST = "template.json";

/** The templates this package ships, by name, in name order. */
export async function listTemplates(): Promise<Map<string, TemplateManifest>> {
  const templates = new Map<string, TemplateManifest>();
  for (const name of (await readdir(TEMPLATES_DIR)).sort()) {
    const manifest = path.join(TEMPLATES_DIR, name, MANIFEST);
    if (existsSync(manifest)) templates.set(name, JSON.parse(await readFile(manifest, "utf8")) as TemplateManifest);
  }
  return templates;
}

export interface TemplateValues {
  /** The project's npm package name, validated before it gets here. */
  readonly name: string;
  /** How the project depends on this tool: a version range, or `file:` a checkout. */
  readonly toolDependency: string;
}

/** A message type as templates see it: its names, the stub module of its protos, whether it has a reply. */
export interface MessageValues extends MessageNames {
  /** The stub module of the proto file holding its messages, relative to outDir, without extension: `epaxos`. */
  readonly module: string;
  readonly reply: boolean;
}

/** Renders a `.hbs` file with handlebars; copies any other as it is. */
async function renderFile(file: string, values: object): Promise<Buffer | string> {
  const source = await readFile(file);
  return file.endsWith(RENDERED) ? render(source.toString("utf8"), values) : source;
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

/** Every `.hbs` file of every template, for precompiling when this package is built. */
export async function templateSources(): Promise<string[]> {
  const entries = await readdir(TEMPLATES_DIR, { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile() && entry.name.endsWith(RENDERED));
  return Promise.all(files.map((entry) => readFile(path.join(entry.parentPath, entry.name), "utf8")));
}

/**
 * Plans a new project into `changes` (rooted at the project folder): the
 * template's files (after those of the template it extends), its protos from
 * the canonical set, a handler and a test per message type, and the stubs
 * generated as `consensus protobuf` would. `x.hbs` is rendered to `x`; `_x`
 * becomes `.x` (npm publish drops some dotfiles). The stubs come from the
 * build cache when it holds them (`cache`, see build-cache.ts).
 */
export async function planScaffold(
  template: string,
  values: TemplateValues,
  changes: ChangeSet,
  cache: StubCacheUse = "read",
): Promise<void> {
  const templates = await listTemplates();
  const chain: string[] = []; // the template and those it extends, base first
  for (let name: string | undefined = template; name !== undefined; name = templates.get(name)!.extends) {
    if (!templates.has(name)) {
      throw new UserError(`unknown template "${name}": choose one of ${[...templates.keys()].join(", ")}`);
    }
    if (chain.includes(name)) throw new Error(`template ${name} extends itself`);
    chain.unshift(name);
  }
  const manifests = chain.map((name) => templates.get(name)!);
  const sources = new Map<string, string>();
  for (const name of chain) {
    const dir = path.join(TEMPLATES_DIR, name);
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const source = path.join(entry.parentPath, entry.name);
      const relative = path.relative(dir, source).split(path.sep).join("/");
      if (relative === MANIFEST) continue;
      sources.set(relative.replace(/\.hbs$/, "").replace(/(^|\/)_([^/]+)$/, "$1.$2"), source);
    }
  }

  const config = sources.get(PROJECT_FILE);
  if (!config) throw new Error(`template ${template} has no ${PROJECT_FILE}`);
  const project = parseProject(changes.root, await readFile(config, "utf8"));
  const messages: MessageValues[] = (manifests.at(-1)!.messages ?? []).map((message) => ({
    ...messageNames(message.name),
    module: message.proto.replace(/\.proto$/, ""),
    reply: message.reply ?? true,
  }));

  // Read and rendered concurrently; written into the plan in a fixed order.
  const protos = manifests.flatMap((m) => m.protos);
  const planned: RenderedFile[][] = await Promise.all([
    ...protos.map((proto) =>
      readFile(path.join(PROTO_DIR, proto)).then((content) => [
        [`${project.config.protoDir}/${proto}`, content] as const,
      ]),
    ),
    ...messages.map((message) =>
      renderMessageFiles(message, project.config).then(({ handler, test }) => [handler, test]),
    ),
    ...[...sources].map(([target, source]) =>
      renderFile(source, { ...values, messages }).then((content) => [[target, content] as const]),
    ),
  ]);
  for (const [target, content] of planned.flat()) changes.write(target, content);
  await planStubs(project, changes, { cache });
}
