import path from "node:path";
import { Command } from "commander";
import { protobuf } from "../commands/protobuf.js";
import { err, out } from "./output.js";
import { PACKAGE_JSON } from "../core/package.js";
import { interrupt, run } from "./run.js";

const program = new Command("consensus")
  .description("Work on a consensus replica project: regenerate its gRPC stubs.")
  .version(PACKAGE_JSON.version)
  .option("--debug", "print the stack of an unexpected error")
  .showHelpAfterError();

program
  .command("protobuf")
  .description("regenerate the TypeScript stubs (outDir) from the project's .proto files (protoDir)")
  .option("--check", "change nothing; exit 1 naming each stub that is missing or stale")
  .action(async (options: { check?: boolean }) => {
    const started = performance.now();
    const result = await protobuf({ cwd: process.cwd(), check: options.check, signal: interrupt.signal });
    for (const warning of result.warnings) process.stderr.write(`${err.yellow("warning:")} ${warning}\n`);
    const ms = Math.round(performance.now() - started);
    if (options.check) {
      console.log(`${out.green("✔")} ${result.outDir}/ is up to date (${result.files.length} files)`);
      return;
    }
    for (const change of result.changes) {
      const mark = { create: out.green("+"), update: out.yellow("~"), delete: out.red("-") }[change.kind];
      console.log(`  ${mark} ${change.path.split("/").join(path.sep)}`);
    }
    const unchanged = result.files.length - result.changes.filter((c) => c.kind !== "delete").length;
    console.log(
      `${out.green("✔")} ${result.outDir}/: ${result.changes.length} changed, ${unchanged} unchanged ${out.dim(`(${ms} ms)`)}`,
    );
  });

await run(program);
