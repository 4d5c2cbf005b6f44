import { Command } from "commander";
import { protobuf } from "../commands/protobuf.js";
import { err, out, printChanges } from "./output.js";
import { UserError } from "../core/errors.js";
import { PACKAGE_JSON } from "../core/package.js";
import { interrupt, run } from "./run.js";
import { registerWorkbench } from "./workbench.js";

const program = new Command("consensus")
  .description(
    "Work on a consensus replica project: add a message type, regenerate its gRPC stubs; run, load and check a cluster.",
  )
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

program
  .command("add-message")
  .description(
    "add a message type: its proto, the envelope's Type value and oneof fields, the stubs, a handler and its Dispatch case",
  )
  .argument("<name>", "the type's name: Accept, accept, preAccept, PreAccept, pre-accept or pre_accept")
  .option(
    "--request <fields>",
    "the request's fields, \"name:type,…\" (proto scalars, repeated, the project's enums and messages)",
  )
  .option("--reply <fields>", "the reply's fields, as --request")
  .option("--no-reply", "a request-only type: its PeerReply carries no message")
  .option("--dry-run", "change nothing; print the unified diff of every file it would change")
  .action(async (name: string, options: { request?: string; reply?: string | false; dryRun?: boolean }) => {
    const args = program.args;
    if (args.includes("--no-reply") && args.some((arg) => arg === "--reply" || arg.startsWith("--reply="))) {
      throw new UserError("--reply and --no-reply cannot both be given: a type has reply fields or no reply");
    }
    const started = performance.now();
    // Loaded here: `consensus protobuf` needs neither the proto model nor diffs.
    const [{ addMessage }, { unifiedDiff }] = await Promise.all([
      import("../commands/add-message.js"),
      import("../core/diff.js"),
    ]);
    const result = await addMessage({
      cwd: process.cwd(),
      name,
      request: options.request,
      reply: options.reply === false ? null : options.reply,
      dryRun: options.dryRun,
      signal: interrupt.signal,
    });
    const { names, numbers } = result;
    if (options.dryRun) {
      for (const change of result.changes) console.log(colourDiff(unifiedDiff(change)));
      console.log(`dry run: ${names.constant} would change ${result.changes.length} files; nothing written`);
      return;
    }
    printChanges(result.changes);
    const reply = numbers.reply === undefined ? "no reply" : `PeerReply.${names.field} = ${numbers.reply}`;
    const ms = Math.round(performance.now() - started);
    console.log(
      `${out.green("✔")} ${names.constant} = ${numbers.type}, PeerRequest.${names.field} = ${numbers.request}, ${reply}` +
        `${result.reused ? ` (messages of ${result.messagesFile})` : ""} ${out.dim(`(${ms} ms)`)}`,
    );
    console.log(`Next: write ${result.handler}, then its test ${result.handlerTest}`);
  });

program
  .command("check")
  .description(
    "decide whether each history (JSON lines of invoke/ok/fail/info events) is linearizable: exit 0 all are, 1 some is not, 2 bad input, 3 unknown",
  )
  .argument("<files...>", "the history files")
  .option("--json", "one JSON line per file")
  .option("--html <file.html>", "draw the history (of one file) as an HTML page")
  .option("--timeout <s>", "seconds of search per file, after which its verdict is unknown")
  // Bad usage is bad input too: exit 2, not the 1 that means "not linearizable".
  .exitOverride((error) => {
    throw Object.assign(error, { exitCode: error.exitCode === 0 ? 0 : 2 });
  })
  .action(async (files: string[], flags: { json?: boolean; html?: string; timeout?: string }) => {
    // Loaded here: no other command needs the checker.
    const [{ check, CheckInputError, exitCode, summary, toJSON }, { describeOperation }, { seconds }] =
      await Promise.all([import("../commands/check.js"), import("../check/index.js"), import("./flags.js")]);
    let timeout: number | undefined;
    try {
      timeout = flags.timeout === undefined ? undefined : seconds(flags.timeout, "--timeout");
    } catch (error) {
      throw new CheckInputError((error as Error).message);
    }
    const checks = await check({ files, timeout, html: flags.html, signal: interrupt.signal });
    const marks = { linearizable: out.green("✔"), "not linearizable": out.red("✖"), unknown: out.yellow("?") };
    for (const checked of checks) {
      if (flags.json) {
        console.log(JSON.stringify(toJSON(checked)));
        continue;
      }
      console.log(`${marks[checked.result.verdict]} ${summary(checked)}`);
      for (const violation of checked.result.violations) {
        console.log(`  ${violation.message}`);
        for (const op of violation.operations) console.log(`    ${describeOperation(op)}`);
      }
    }
    if (flags.html !== undefined && !flags.json) console.log(`history drawn in ${flags.html}`);
    process.exitCode = exitCode(checks);
  });

/** A unified diff with its added lines green and removed lines red (on a terminal). */
function colourDiff(diff: string): string {
  return diff
    .split("\n")
    .map((line) =>
      line.startsWith("+") && !line.startsWith("+++")
        ? out.green(line)
        : line.startsWith("-") && !line.startsWith("---")
          ? out.red(line)
          : line,
    )
    .join("\n");
}

registerWorkbench(program);

await run(program);
