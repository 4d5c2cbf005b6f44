import { Command } from "commander";
import { protobuf } from "../commands/protobuf.js";
import { err, out, printChanges } from "./output.js";
import { DEFAULT_MEMORY } from "../check/limits.js";
import { UserError } from "../core/errors.js";
import { PACKAGE_JSON } from "../core/package.js";
import { interrupt, run } from "./run.js";
import { registerWorkbench } from "./workbench.js";

const program = new Command("consensus")
  .description(
    "Work on a consensus replica project: grow, shrink and check its message set, regenerate its gRPC stubs; run, load and check a cluster.",
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
    if (result.revived.length > 0) {
      console.log(
        `${names.constant} was removed before: ${result.revived.join(", ")} taken back from reserved, its old numbers still reserved`,
      );
    }
    console.log(`Next: write ${result.handler}, then its test ${result.handlerTest}`);
  });

program
  .command("remove-message")
  .description("remove a message type, the reverse of add-message: its numbers and names become reserved, never reused")
  .argument("<name>", "the type's name, in any spelling add-message takes")
  .option("--force", "delete its handler and the handler's test even when they are no longer the scaffolded stub")
  .option("--dry-run", "change nothing; print the unified diff of every file it would change")
  .action(async (name: string, options: { force?: boolean; dryRun?: boolean }) => {
    const started = performance.now();
    const [{ removeMessage }, { unifiedDiff }] = await Promise.all([
      import("../commands/remove-message.js"),
      import("../core/diff.js"),
    ]);
    const result = await removeMessage({ cwd: process.cwd(), name, ...options, signal: interrupt.signal });
    const { constant, number, request, reply } = result.removed;
    if (options.dryRun) {
      for (const change of result.changes) console.log(colourDiff(unifiedDiff(change)));
      console.log(`dry run: removing ${constant} would change ${result.changes.length} files; nothing written`);
      return;
    }
    printChanges(result.changes);
    const reserved = [
      `${constant} = ${number}`,
      ...(request ? [`PeerRequest.${request.field} = ${request.number}`] : []),
      ...(reply ? [`PeerReply.${reply.field} = ${reply.number}`] : []),
    ];
    const ms = Math.round(performance.now() - started);
    console.log(`${out.green("✔")} removed ${constant}; reserved ${reserved.join(", ")} ${out.dim(`(${ms} ms)`)}`);
    if (result.messagesFile && !result.deletesMessagesFile) {
      console.log(`${result.messagesFile} is kept: another proto still uses it`);
    }
  });

program
  .command("list")
  .description("the envelope's message types: numbers, oneof members, messages, handlers, Dispatch cases")
  .option("--json", "the same as JSON")
  .action(async (options: { json?: boolean }) => {
    const { list } = await import("../commands/list.js");
    const listing = await list({ cwd: process.cwd() });
    if (options.json) {
      console.log(JSON.stringify(listing, null, 2));
      return;
    }
    const member = (m: { field: string; number: number } | undefined) => (m ? `${m.field} = ${m.number}` : "–");
    const rows = listing.types.map((type) => [
      `${type.constant} = ${type.number}`,
      member(type.request),
      member(type.reply),
      type.request?.file ?? type.reply?.file ?? "–",
      type.handler.exists
        ? `${type.handler.file}${type.handler.stub ? " (stub)" : ""}`
        : `${type.handler.file} (missing)`,
      type.dispatchCase ? "yes" : "no",
    ]);
    printTable(["TYPE", "PEERREQUEST", "PEERREPLY", "MESSAGES", "HANDLER", "CASE"], rows);
  });

program
  .command("doctor")
  .description(
    "find what is inconsistent: the envelope, handlers and Dispatch cases, stale stubs, wire breaks against a git revision",
  )
  .option("--against <ref>", "the git revision the protos must stay wire-compatible with", undefined)
  .option("--fix", "repair what is mechanical: regenerate stubs, add a missing Dispatch case and stub handler")
  .action(async (options: { against?: string; fix?: boolean }) => {
    const { doctor } = await import("../commands/doctor.js");
    const result = await doctor({ cwd: process.cwd(), ...options, signal: interrupt.signal });
    printChanges(result.changes);
    for (const finding of result.findings) {
      const fixed = options.fix && finding.fixable;
      const mark = fixed ? out.green("fixed:") : out.red("✖");
      const hint = !options.fix && finding.fixable ? out.dim(" (--fix repairs it)") : "";
      console.log(`${mark} ${finding.message}${hint}`);
    }
    const { wire } = result;
    const wireLine = wire.checked ? `wire-compatible with ${wire.against}` : `wire check skipped (${wire.note})`;
    const left = result.findings.filter((finding) => !(options.fix && finding.fixable));
    if (left.length === 0) {
      console.log(`${out.green("✔")} ${result.findings.length === 0 ? "no problems" : "all repaired"}; ${wireLine}`);
      return;
    }
    const fixable = left.filter((finding) => finding.fixable).length;
    console.log(
      `${left.length} problem${left.length === 1 ? "" : "s"}${fixable > 0 ? ` (${fixable} repaired by consensus doctor --fix)` : ""}`,
    );
    process.exitCode = 1;
  });

program
  .command("check")
  .description(
    "decide whether each history (JSON lines of invoke/ok/fail/info events) is linearizable: exit 0 all are, 1 some is not, 2 bad input, 3 unknown",
  )
  .argument("<files...>", "the history files")
  .option("--json", "one JSON line per file")
  .option("--html <file.html>", "draw the history (of one file) as an HTML page")
  .option("--force", "let --html replace a file that is there")
  .option(
    "--timeout <duration>",
    "search per file (10s, 500ms, 2m; a bare number is seconds), after which its undecided keys are unknown",
  )
  .option(
    "--memory <MB>",
    "megabytes the searches of the keys may cache together, after which a key that needs more is unknown",
    String(DEFAULT_MEMORY / 2 ** 20),
  )
  .option("--allow-empty", "accept a history without operations (else it is bad input)")
  // Bad usage is bad input too: exit 2, not the 1 that means "not linearizable".
  .exitOverride((error) => {
    throw Object.assign(error, { exitCode: error.exitCode === 0 ? 0 : 2 });
  })
  .action(
    async (
      files: string[],
      flags: { json?: boolean; html?: string; force?: boolean; timeout?: string; memory: string; allowEmpty?: boolean },
    ) => {
      // Loaded here: no other command needs the checker.
      const [
        { check, CheckInputError, exitCode, parseTimeout, summary, toJSON, undecided },
        { describeOperation },
        { integer },
      ] = await Promise.all([import("../commands/check.js"), import("../check/index.js"), import("./flags.js")]);
      const timeout = flags.timeout === undefined ? undefined : parseTimeout(flags.timeout);
      let memory: number;
      try {
        memory = integer(flags.memory, "--memory", 1, 1 << 20) * 2 ** 20;
      } catch (error) {
        throw new CheckInputError((error as Error).message);
      }
      const checks = await check({
        files,
        timeout,
        memory,
        allowEmpty: flags.allowEmpty,
        html: flags.html,
        force: flags.force,
        signal: interrupt.signal,
      });
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
        for (const line of undecided(checked)) console.log(`  ${line}`);
      }
      if (flags.html !== undefined && !flags.json) console.log(`history drawn in ${flags.html}`);
      process.exitCode = exitCode(checks);
    },
  );

/** Rows under a header, each column as wide as its widest cell. */
function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  console.log(out.dim(line(header)));
  for (const row of rows) console.log(line(row));
}

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
