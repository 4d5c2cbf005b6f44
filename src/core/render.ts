import { readFileSync } from "node:fs";
import type Handlebars from "handlebars";
import runtime from "handlebars/runtime.js";
import { cacheKey, readCache, writeCache } from "./build-cache.js";
import { dependencyVersion, PACKAGE_JSON } from "./package.js";

/** No HTML escaping (the output is code and JSON); a name missing from the values is an error. */
const OPTIONS = { noEscape: true, strict: true } as const;
/**
 * The helpers every template may call: `{{version "typescript"}}`, the version this package
 * pins a dependency to, and `{{engine "node"}}`, the versions of a runtime it runs on (engines).
 */
export const HELPERS = {
  version: (name: string) => dependencyVersion(name),
  engine: (name: string) => PACKAGE_JSON.engines[name],
};

/** Handlebars' runtime: what runs a precompiled template (its typings declare nothing). */
const Runtime = runtime as unknown as typeof Handlebars;

/**
 * Templates precompiled at build time, as [source, spec] pairs, in an entry named by the versions
 * alone: a Map looks a source up by its text, hashed natively, where hashing each source in
 * JavaScript for a key cost ~3 ms of a scaffold.
 */
const TEMPLATES = `templates-${cacheKey([])}`;
let precompiled: Promise<Map<string, string>> | undefined;

/** The templates precompiled at build time: the spec of each, by its source. */
function precompiledSpecs(): Promise<Map<string, string>> {
  return (precompiled ??= readCache<[string, string][]>(TEMPLATES).then((pairs) => new Map(pairs)));
}

/** The template of `source` precompiled when the package was built, on handlebars' small runtime; undefined if none. */
export async function precompiledTemplate(source: string): Promise<Handlebars.TemplateDelegate | undefined> {
  const spec = (await precompiledSpecs()).get(source);
  // A precompiled spec is the JavaScript source of an object: evaluated as handlebars' own compile does.
  return spec === undefined ? undefined : Runtime.template(new Function(`return ${spec}`)());
}

/** Renders a handlebars template with `values` and HELPERS: the precompiled one if there is one, else compiled now. */
export async function render(source: string, values: object): Promise<string> {
  const template = (await precompiledTemplate(source)) ?? (await import("handlebars")).default.compile(source, OPTIONS);
  return template(values, { helpers: HELPERS });
}

/** Precompiles `sources` into the build cache (building this package). */
export async function precompileTemplates(sources: readonly string[]): Promise<void> {
  const { default: Handlebars } = await import("handlebars");
  await writeCache(
    TEMPLATES,
    sources.map((source) => [source, Handlebars.precompile(source, OPTIONS)]),
  );
}

/** Template files whose name ends so are rendered (and lose the suffix); the others are copied as they are. */
export const RENDERED = ".hbs";

/**
 * Renders a `.hbs` file with handlebars; copies any other as it is. Read synchronously: a template's
 * many small files cost less so than through the thread pool.
 */
export async function renderFile(file: string, values: object): Promise<Buffer | string> {
  const source = readFileSync(file);
  return file.endsWith(RENDERED) ? render(source.toString("utf8"), values) : source;
}
