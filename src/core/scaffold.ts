import { existsSync, readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { ChangeSet } from "./changes.js";
import { UserError } from "./errors.js";
import { messageNames } from "./names.js";
import { PACKAGE_ROOT } from "./package.js";
import { parseProject, PROJECT_FILE } from "./project.js";
import { RENDERED, renderFile } from "./render.js";
import { planStubs, type StubCacheUse } from "./stubs.js";
import { walk } from "./walk.js";

const TEMPLATES_DIR = path.join(PACKAGE_ROOT, "templates");
/** The canonical proto set that templates take their protos from. */
const PROTO_DIR = path.join(PACKAGE_ROOT, "proto");

/** `templates/<name>/template.json`: what a template is and what it starts with. */
interface TemplateManifest {
  readonly description: string;
  /** A template whose files this one starts from; its own files replace those of the same path. */
  readonly extends?: string;
  /** Protos copied from the canonical set into the project's protoDir. */
  readonly protos: readonly string[];
  /**
   * Message types added besides Beacon, as `consensus add-message` adds them
   * (reusing the messages of the template's protos); `reply: false` for a request-only one.
   * A handler the template ships (at the handler's path) replaces the stub, which then gets no stub test.
   */
  readonly messages?: readonly { name: string; reply?: boolean }[];
}
const MANIFEST = "template.json";
/**
 * A template's account of its protocol: the README's section on it (markdown, not a file of the project).
 * When the account is long, the section is its summary and links to the template's `docs/protocol.md`,
 * a file of the project, which holds the rest.
 */
const PROTOCOL = "protocol.md";
/** The project's full account of its protocol, when its template has one. */
const PROTOCOL_DOC = "docs/protocol.md";

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

/** Every `.hbs` file of every template, for precompiling when this package is built. */
export async function templateSources(): Promise<string[]> {
  const files = walk(TEMPLATES_DIR).filter((entry) => entry.endsWith(RENDERED));
  return Promise.all(files.map((file) => readFile(path.join(TEMPLATES_DIR, file), "utf8")));
}

/**
 * Plans a new project into `changes` (rooted at the project folder): the
 * template's files (after those of the template it extends; its protocol.md
 * becomes the README's section on its protocol, and its docs/protocol.md, if
 * any, the project's file the README's list of docs links to), its protos from
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
): Promise<string[]> {
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
  let protocol: string | undefined;
  for (const name of chain) {
    const dir = path.join(TEMPLATES_DIR, name);
    for (const relative of walk(dir)) {
      if (relative === PROTOCOL) protocol = path.join(dir, relative);
      if (relative.endsWith("/") || relative === MANIFEST || relative === PROTOCOL) continue;
      sources.set(relative.replace(/\.hbs$/, "").replace(/(^|\/)_([^/]+)$/, "$1.$2"), path.join(dir, relative));
    }
  }

  const config = sources.get(PROJECT_FILE);
  if (!config) throw new Error(`template ${template} has no ${PROJECT_FILE}`);
  const project = parseProject(changes.root, await readFile(config, "utf8"));
  // What the README says of the template's message types.
  const messages = (manifests.at(-1)!.messages ?? []).map((message) => ({
    ...messageNames(message.name),
    reply: message.reply ?? true,
  }));

  // What the README says of the template's protocol, if it has one of its own.
  const about = protocol === undefined ? "" : (await readFile(protocol, "utf8")).trimEnd();
  const protocolDoc = sources.has(PROTOCOL_DOC);
  // Rendered concurrently; written into the plan in a fixed order.
  const protos = manifests.flatMap((m) => m.protos);
  const planned = await Promise.all([
    ...protos.map(
      (proto) => [`${project.config.protoDir}/${proto}`, readFileSync(path.join(PROTO_DIR, proto))] as const,
    ),
    ...[...sources].map(([target, source]) =>
      renderFile(source, { ...values, messages, protocol: about, protocolDoc }).then(
        (content) => [target, content] as const,
      ),
    ),
  ]);
  for (const [target, content] of planned) changes.write(target, content);
  // Then its message types, added as `consensus add-message` adds them (their messages are in its protos).
  if (messages.length > 0) {
    // Loaded only for such templates: the proto model and the TypeScript compiler cost ~100 ms to load.
    const { planMessageType } = await import("./message-type.js");
    for (const message of messages) {
      await planMessageType(project, changes, message, [], message.reply ? [] : null, { keepExisting: true });
    }
  }
  await planStubs(project, changes, { cache });
  return ["BEACON", ...messages.map((message) => message.constant)];
}
