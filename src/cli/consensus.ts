import { Command } from "commander";
import { protobuf } from "../commands/protobuf.js";
import { err, out, printChanges } from "./output.js";
import { PACKAGE_JSON } from "../core/package.js";
import { interrupt, run } from "./run.js";

const program = new Command("consensus")
  .description("Work on a consensus replica project: regenerate its gRPC stubs.")
  .version(PACKAGE_JSON.version)
  .option("--debug", "print the stack of an unexpected error");

program
  .command("protobuf")
  .description("regenerate the TypeScript stubs (outDir) from the project's .proto files (protoDir)")
  .option("--check", "change nothing; exit 1 naming each stub that is missing or stale")
  .option("--dry-run", "change nothing; list the files a regeneration would change")
  .action(async (options: { check?: boolean; dryRun?: boolean }) => {
    const started = performance.now();
    const result = await protobuf({ cwd: process.cwd(), ...options, signal: interrupt.signal });
    for (const warning of result.warnings) process.stderr.write(`${err.yellow("warning:")} ${warning}\n`);
    if (options.check) {
      console.log(`${out.green("✔")} ${result.outDir}/ is up to date (${result.files.length} files)`);
      return;
    }
    printChanges(result.changes);
    if (options.dryRun) {
      console.log(`dry run: ${result.changes.length} files in ${result.outDir}/ would change; nothing written`);
      return;
    }
    const unchanged = result.files.length - result.changes.filter((c) => c.kind !== "delete").length;
    const ms = Math.round(performance.now() - started);
    console.log(
      `${out.green("✔")} ${result.outDir}/: ${result.changes.length} changed, ${unchanged} unchanged ${out.dim(`(${ms} ms)`)}`,
    );
  });

await run(program);
