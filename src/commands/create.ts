import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import validatePackageName from "validate-npm-package-name";
import { ChangeSet, type Change } from "../core/changes.js";
import { UserError } from "../core/errors.js";
import { PACKAGE_JSON, PACKAGE_ROOT } from "../core/package.js";
import { planScaffold } from "../core/scaffold.js";

export const DEFAULT_TEMPLATE = "blank";

export interface CreateOptions {
  readonly cwd: string;
  /** The project folder, relative to cwd; its name is the package name. */
  readonly dir: string;
  readonly template?: string;
  /** Write into a folder that is not empty (never replacing a file of other content). */
  readonly force?: boolean;
  /** Report what would be created instead of writing it. */
  readonly dryRun?: boolean;
  /** Aborts the command (Ctrl-C); nothing is left behind. */
  readonly signal?: AbortSignal;
}

export interface CreateResult {
  readonly root: string;
  readonly name: string;
  readonly template: string;
  readonly changes: Change[];
  /** The project's message types, Type values: BEACON, then the template's. */
  readonly types: readonly string[];
}

export interface ProjectTarget {
  /** The project folder, absolute. */
  readonly root: string;
  /** The package name: the folder's name. */
  readonly name: string;
}

/**
 * Checks that `dir` (relative to `cwd`) can hold a new project: its name is a
 * valid npm package name, it is not a file, and it is empty (but for `.git`)
 * unless `force`. Throws a UserError saying why not.
 */
export function projectTarget(cwd: string, dir: string, force = false): ProjectTarget {
  const root = path.resolve(cwd, dir);
  const name = path.basename(root);
  const check = validatePackageName(name);
  if (!check.validForNewPackages) {
    const reasons = [...(check.errors ?? []), ...(check.warnings ?? [])].join("; ");
    throw new UserError(`"${name}" is not a valid npm package name (${reasons}): choose another folder name`);
  }
  const shown = path.relative(cwd, root) || ".";
  if (existsSync(root) && !statSync(root).isDirectory()) {
    throw new UserError(`${shown} is a file, not a folder: choose another name`);
  }
  const present = existsSync(root)
    ? readdirSync(root)
        .filter((entry) => entry !== ".git")
        .sort()
    : [];
  if (present.length > 0 && !force) {
    throw new UserError(
      `${shown} is not empty (${present.join(", ")}): choose another folder, or add the project beside them with --force`,
    );
  }
  return { root, name };
}

/** `create-consensus <dir>`: scaffold a project, all of it or nothing. */
export async function create(options: CreateOptions): Promise<CreateResult> {
  const { root, name } = projectTarget(options.cwd, options.dir, options.force);
  const template = options.template ?? DEFAULT_TEMPLATE;
  const changes = new ChangeSet(root);
  const types = await planScaffold(template, { name, toolDependency: toolDependency() }, changes);
  const planned = await changes.changes();
  const replaced = planned.filter((change) => change.kind !== "create");
  if (replaced.length > 0) {
    throw new UserError(
      `--force never replaces a file that is not the template's: ${replaced.map((c) => c.path).join(", ")}`,
    );
  }
  if (options.dryRun) return { root, name, template, types, changes: planned };
  return { root, name, template, types, changes: await changes.commit(options.signal) };
}

/**
 * The project's devDependency on this tool: the published version, or, when
 * this runs from a checkout (not from inside node_modules), that checkout, so
 * the whole flow works unpublished and offline.
 */
function toolDependency(): string {
  const installed = PACKAGE_ROOT.split(path.sep).includes("node_modules");
  return installed ? `^${PACKAGE_JSON.version}` : `file:${PACKAGE_ROOT}`;
}
