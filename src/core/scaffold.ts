import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import Handlebars from "handlebars";
import type { ChangeSet } from "./changes.js";
import { UserError } from "./errors.js";
import { dependencyVersion, PACKAGE_ROOT } from "./package.js";
import { parseProject, PROJECT_FILE } from "./project.js";
import { planStubs } from "./stubs.js";

const TEMPLATES_DIR = path.join(PACKAGE_ROOT, "templates");
/** The canonical proto set that templates take their protos from. */
const PROTO_DIR = path.join(PACKAGE_ROOT, "proto");

/** `templates/<name>/template.json`: what a template is, and which canonical protos it starts with. */
interface TemplateManifest {
  description: string;
  protos: string[];
}
const MANIFEST = "template.json";

/** The templates this package ships, by name. */
async function listTemplates(): Promise<Map<string, TemplateManifest>> {
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

/**
 * Plans a new project into `changes` (rooted at the project folder): the
 * template's files rendered with handlebars, its protos from the canonical
 * set, and the stubs generated from them as `consensus protobuf` would.
 * Files named `_x` in a template become `.x` (npm publish drops some dotfiles).
 */
export async function planScaffold(template: string, values: TemplateValues, changes: ChangeSet): Promise<void> {
  const templates = await listTemplates();
  const manifest = templates.get(template);
  if (!manifest) {
    throw new UserError(`unknown template "${template}": choose one of ${[...templates.keys()].join(", ")}`);
  }
  const dir = path.join(TEMPLATES_DIR, template);
  const helpers = { version: (name: string) => dependencyVersion(name) };
  for (const entry of (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())) {
    const source = path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join("/");
    if (source === MANIFEST) continue;
    const render = Handlebars.compile(await readFile(path.join(dir, source), "utf8"), { noEscape: true, strict: true });
    const target = source.replace(/(^|\/)_([^/]+)$/, "$1.$2");
    changes.write(target, render(values, { helpers }));
  }
  const config = changes.planned().find(([file]) => file === PROJECT_FILE)?.[1];
  if (!config) throw new Error(`template ${template} has no ${PROJECT_FILE}`);
  const project = parseProject(changes.root, config.toString("utf8"));
  for (const proto of manifest.protos) {
    changes.write(`${project.config.protoDir}/${proto}`, await readFile(path.join(PROTO_DIR, proto)));
  }
  await planStubs(project, changes);
}
