import path from "node:path";
import { Command } from "commander";
import { create, DEFAULT_TEMPLATE } from "../commands/create.js";
import { UserError } from "../core/errors.js";
import { PACKAGE_JSON } from "../core/package.js";
import { out, printChanges } from "./output.js";
import { interrupt, run } from "./run.js";

const program = new Command("create-consensus")
  .description("Create a consensus replica project: protos, consensus.json and generated gRPC stubs.")
  .version(PACKAGE_JSON.version)
  .argument("[dir]", "the project folder; its name is the package name")
  .option("-t, --template <name>", "the template to start from", DEFAULT_TEMPLATE)
  .option("--force", "write into a folder that is not empty (never replacing a file that is not the template's)")
  .option("--dry-run", "write nothing; list the files the project would have")
  .option("--debug", "print the stack of an unexpected error")
  .showHelpAfterError()
  .action(async (dir: string | undefined, options: { template: string; force?: boolean; dryRun?: boolean }) => {
    if (dir === undefined) throw new UserError("name the project folder: npx create-consensus my-protocol");
    const result = await create({
      cwd: process.cwd(),
      dir,
      template: options.template,
      force: options.force,
      dryRun: options.dryRun,
      signal: interrupt.signal,
    });
    printChanges(result.changes);
    if (options.dryRun) {
      console.log(`dry run: ${result.name} would get ${result.changes.length} files; nothing written`);
      return;
    }
    const shown = path.relative(process.cwd(), result.root) || ".";
    console.log(
      `${out.green("✔")} created ${result.name} (template ${result.template}, ${result.changes.length} files)`,
    );
    console.log("\nNext:");
    if (shown !== ".") console.log(`  cd ${shown}`);
    console.log("  npm install");
    console.log("  npx consensus protobuf --check");
  });

await run(program);
