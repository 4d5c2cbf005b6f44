import path from "node:path";
import { Command, Option } from "commander";
import { create, DEFAULT_TEMPLATE, projectTarget } from "../commands/create.js";
import { UserError } from "../core/errors.js";
import type { GitOutcome } from "../core/git.js";
import { PACKAGE_JSON } from "../core/package.js";
import { suggestedMessage } from "../core/names.js";
import {
  commandLine,
  detectPackageManager,
  installDependencies,
  PACKAGE_MANAGERS,
  type PackageManager,
} from "../core/package-manager.js";
import { listTemplates } from "../core/scaffold.js";
import { out, printChanges } from "./output.js";
import { interrupt, Interrupted, run } from "./run.js";

const DEFAULT_DIR = "my-protocol";

interface Flags {
  template?: string;
  yes?: boolean;
  install: boolean;
  git: boolean;
  packageManager?: PackageManager;
  force?: boolean;
  dryRun?: boolean;
}

/** What the user chose, by flag, by prompt or by default. */
interface Choices {
  dir: string;
  template: string;
  install: boolean;
  git: boolean;
  packageManager: PackageManager;
}

const program = new Command("create-consensus")
  .description("Create a consensus replica project: protos, generated gRPC stubs, a replica runtime and its tests.")
  .version(PACKAGE_JSON.version)
  .argument("[dir]", `the project folder; its name is the package name (default: ${DEFAULT_DIR})`)
  .option("-t, --template <name>", `the template to start from (default: ${DEFAULT_TEMPLATE})`)
  .option("-y, --yes", "ask nothing: take the defaults for what is not given")
  .option("--no-install", "do not install the dependencies")
  .option("--no-git", "do not create a git repository and its initial commit")
  .addOption(
    new Option("--package-manager <name>", "the package manager to install with and to show commands for")
      .choices(PACKAGE_MANAGERS)
      .default(undefined, "the one that runs this command, else npm"),
  )
  .option("--force", "write into a folder that is not empty (never replacing a file that is not the template's)")
  .option("--dry-run", "write nothing; list the files the project would have")
  .option("--debug", "print the stack of an unexpected error")
  .action(async (dir: string | undefined, flags: Flags) => {
    // Prompts only for a person at a terminal; scripts and CI get defaults and never hang.
    const interactive = !flags.yes && Boolean(process.stdin.isTTY) && !process.env.CI;
    const choices = interactive ? await ask(dir, flags) : resolve(dir, flags);
    const result = await create({
      cwd: process.cwd(),
      dir: choices.dir,
      template: choices.template,
      force: flags.force,
      dryRun: flags.dryRun,
      signal: interrupt.signal,
    });
    if (flags.dryRun) {
      printChanges(result.changes);
      console.log(`dry run: ${result.name} would get ${result.changes.length} files; nothing written`);
      return;
    }
    console.log(
      `${out.green("✔")} created ${result.name} (template ${result.template}, ${result.changes.length} files)`,
    );
    if (!interactive) {
      const choice = (yes: boolean, name: string) => (yes ? name : `no ${name}`);
      console.log(`  ${choices.packageManager}, ${choice(choices.install, "install")}, ${choice(choices.git, "git")}`);
    }

    const manager = choices.packageManager;
    const shown = path.relative(process.cwd(), result.root) || ".";
    if (choices.install) await install(result.root, shown, manager);
    if (choices.git) {
      const { initRepository } = await import("../core/git.js");
      console.log(gitNote(await initRepository(result.root)));
    }

    const steps = [
      ...(shown === "." ? [] : [`cd ${shown}`]),
      ...(choices.install ? [] : [commandLine(manager, "install")]),
      commandLine(manager, "run", ["test"]),
      commandLine(manager, "run", ["build"]),
      commandLine(manager, "run", ["start", "--name", "r1", "--port", "3264"]),
      commandLine(manager, "execute-local", ["consensus", "list"]),
      commandLine(manager, "execute-local", ["consensus", "add-message", suggestedMessage(result.types)]),
    ];
    console.log(`\nNext:\n${steps.map((step) => `  ${step}`).join("\n")}`);
  });

/** The choices of a run without prompts: flags, else defaults. */
function resolve(dir: string | undefined, flags: Flags): Choices {
  return {
    dir: dir ?? DEFAULT_DIR,
    template: flags.template ?? DEFAULT_TEMPLATE,
    install: flags.install,
    git: flags.git,
    packageManager: flags.packageManager ?? detectPackageManager(),
  };
}

/** Asks for what the flags did not say. A cancelled prompt (Ctrl-C, Esc) ends the run with 130, nothing written. */
async function ask(dir: string | undefined, flags: Flags): Promise<Choices> {
  const prompts = await import("@clack/prompts");
  const given = (name: string) => program.getOptionValueSource(name) === "cli";
  const answer = <T>(value: T): Exclude<T, symbol> => {
    if (prompts.isCancel(value)) {
      prompts.cancel("Cancelled: nothing was written.");
      interrupt.abort();
      throw new UserError("cancelled");
    }
    return value as Exclude<T, symbol>;
  };
  const choices = resolve(dir, flags);
  prompts.intro(`create-consensus ${PACKAGE_JSON.version}`);
  if (dir === undefined) {
    choices.dir = answer(
      await prompts.text({
        message: "Project folder (its name is the package name)",
        placeholder: DEFAULT_DIR,
        defaultValue: DEFAULT_DIR,
        validate: (value) => refusal(() => projectTarget(process.cwd(), value || DEFAULT_DIR, flags.force)),
      }),
    );
  }
  if (flags.template === undefined) {
    const templates = await listTemplates();
    choices.template = answer(
      await prompts.select({
        message: "Template",
        initialValue: DEFAULT_TEMPLATE,
        options: [...templates].map(([name, manifest]) => ({ value: name, label: name, hint: manifest.description })),
      }),
    );
  }
  if (!given("install")) {
    choices.install = answer(
      await prompts.confirm({ message: `Install the dependencies with ${choices.packageManager}?` }),
    );
  }
  if (!given("git")) {
    choices.git = answer(await prompts.confirm({ message: "Create a git repository with an initial commit?" }));
  }
  return choices;
}

/** The message of the UserError `check` throws, for a prompt to show; undefined when it passes. */
function refusal(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    if (error instanceof UserError) return error.message;
    throw error;
  }
}

/** Installs with a spinner on a terminal, with one line otherwise. The project stays if it fails. */
async function install(root: string, shown: string, manager: PackageManager): Promise<void> {
  const label = `installing dependencies with ${manager}`;
  const started = performance.now();
  const spinner = process.stdout.isTTY ? (await import("@clack/prompts")).spinner({ withGuide: false }) : undefined;
  if (spinner) spinner.start(label);
  else console.log(`${label}…`);
  try {
    await installDependencies(root, manager, interrupt.signal);
  } catch (error) {
    spinner?.error(`${label} failed`);
    const fix = `the project is created: run ${commandLine(manager, "install")} in it`;
    throw new UserError(`${error instanceof Error ? error.message : String(error)}; ${fix}`);
  }
  if (interrupt.signal.aborted) {
    spinner?.cancel(`${label}: interrupted`);
    const cd = shown === "." ? "" : `cd ${shown} && `;
    throw new Interrupted(
      `${shown} is created, its dependencies are not all installed: run ${cd}${commandLine(manager, "install")}`,
    );
  }
  const done = `${out.green("✔")} installed dependencies with ${manager} (${((performance.now() - started) / 1000).toFixed(1)} s)`;
  if (spinner) spinner.stop(done);
  else console.log(done);
}

function gitNote(outcome: GitOutcome): string {
  switch (outcome.kind) {
    case "committed":
      return `${out.green("✔")} created a git repository with an initial commit`;
    case "inside-work-tree":
      return "git: already inside a git work tree, no repository created";
    case "no-git":
      return "git: not found, no repository created";
    case "no-identity":
      return "git: repository created, commit skipped (no user.name / user.email configured)";
    case "failed":
      return `git: ${outcome.reason || "failed"}, no initial commit`;
  }
}

await run(program);
