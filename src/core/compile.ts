import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { readdir, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { ProtoError, UserError } from "./errors.js";

const packageRequire = createRequire(import.meta.url);

interface ProtocAsset {
  platform: string;
  arch: string;
  executable: string;
}

/**
 * The protoc binary shipped inside the `protoc` npm package. Called directly,
 * not through the package's Node wrapper, to save a second Node start-up.
 */
function protoc(): { binary: string; include: string } {
  const packageDir = path.dirname(packageRequire.resolve("protoc/package.json"));
  const assets = packageRequire("protoc/assets.json") as ProtocAsset[];
  const asset = assets.find((a) => a.platform === process.platform && a.arch === process.arch);
  if (!asset) {
    throw new UserError(`the protoc package has no binary for ${process.platform}/${process.arch}`);
  }
  return { binary: path.join(packageDir, "bin", asset.executable), include: path.join(packageDir, "include") };
}

/** The .proto files under `dir`, as sorted POSIX paths relative to it. */
export async function listProtos(dir: string): Promise<string[]> {
  return protoEntries(await readdir(dir, { recursive: true }));
}

function listProtosSync(dir: string): string[] {
  return protoEntries(readdirSync(dir, { recursive: true, encoding: "utf8" }));
}

function protoEntries(entries: string[]): string[] {
  return entries
    .filter((entry) => entry.endsWith(".proto"))
    .map((entry) => entry.split(path.sep).join("/"))
    .sort();
}

export interface Compiled {
  /** A serialized google.protobuf.FileDescriptorSet with imports and source info. */
  readonly descriptorSet: Uint8Array;
  /** The compiled files, relative to the proto folder: the files to generate. */
  readonly files: string[];
  /** Warnings protoc printed (unused imports and the like), as `file:line:col: message`. */
  readonly warnings: string[];
}

/** The link, in protoc's scratch folder, to the project's proto folder. */
const DISK = "project-protos";
const DISK_PREFIX = new RegExp(`^${DISK}/`, "gm");

// protoc reports `file:line:col: message`, or `file: message` without a position.
const DIAGNOSTIC = /^(.+?):(?:(\d+):(\d+):)? ?(.*)$/;

/**
 * Compiles the project's protos with protoc and throws ProtoError on the
 * first error. protoc runs in the project root, so that its messages name
 * files as the project does (`proto/envelope.proto:12:3: …`). Protos with
 * planned, unwritten content (an edit, a new project) are compiled from a
 * scratch copy of the proto folder laid out the same way.
 *
 * protoc is started before this returns, so the caller can load the code
 * generator while protoc runs.
 *
 * @param protoDir the proto folder relative to the project root, e.g. `proto`
 * @param files every proto to compile, relative to protoDir
 * @param planned content for those of `files` that differ from the disk
 */
export function compileProtos(
  root: string,
  protoDir: string,
  files: readonly string[],
  planned: ReadonlyMap<string, Uint8Array>,
): Promise<Compiled> {
  if (files.length === 0) return Promise.reject(new UserError(`${protoDir}/: no .proto files`));
  const sorted = [...files].sort();
  const { binary, include } = protoc();
  const scratch = mkdtempSync(path.join(os.tmpdir(), "consensus-protoc-"));
  let cwd = root;
  let inputs = sorted.map((file) => `${protoDir}/${file}`);
  const protoPaths = [protoDir];
  if (planned.size > 0) {
    cwd = scratch;
    for (const [file, content] of planned) {
      const target = path.join(scratch, protoDir, file);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, content);
    }
    // The other protos are read where they are, through one link on a second
    // proto path (the planned ones, first, shadow theirs), not copied one by
    // one; unless the plan deletes a proto, which the link would still show.
    const unplanned = sorted.filter((file) => !planned.has(file));
    const onDisk = unplanned.length > 0 ? listProtosSync(path.join(root, protoDir)) : [];
    if (unplanned.length > 0 && onDisk.every((file) => sorted.includes(file))) {
      symlinkSync(path.join(root, protoDir), path.join(scratch, DISK), "dir");
      protoPaths.push(DISK);
      inputs = sorted.map((file) => `${planned.has(file) ? protoDir : DISK}/${file}`);
    } else {
      for (const file of unplanned) {
        const target = path.join(scratch, protoDir, file);
        mkdirSync(path.dirname(target), { recursive: true });
        copyFileSync(path.join(root, protoDir, file), target);
      }
    }
  }
  const out = path.join(scratch, "descriptor-set.binpb");
  const run = new Promise<string>((resolve, reject) => {
    execFile(
      binary,
      [
        ...protoPaths.map((dir) => `--proto_path=${dir}`),
        `--proto_path=${include}`,
        "--include_imports",
        "--include_source_info",
        `--descriptor_set_out=${out}`,
        ...inputs,
      ],
      { cwd, maxBuffer: 16 << 20 },
      (err, _stdout, output) => {
        // Messages name the protos read through the link as the project does.
        const stderr = output.replace(DISK_PREFIX, `${protoDir}/`);
        if (err && typeof err.code !== "number") reject(err);
        else if (err) reject(protocError(stderr));
        else resolve(stderr);
      },
    );
  });
  return run
    .then(async (stderr) => {
      const warnings = stderr
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => line.replace(": warning: ", ": "));
      return { descriptorSet: await readFile(out), files: sorted, warnings };
    })
    .finally(() => rm(scratch, { recursive: true, force: true }));
}

/**
 * protoc's first error as a ProtoError. An error with a position is preferred:
 * for a missing import protoc first says `missing.proto: File not found.` and
 * then names the importing line.
 */
function protocError(stderr: string): Error {
  const errors = stderr
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.includes(": warning:"))
    .map((line) => DIAGNOSTIC.exec(line))
    .filter((match) => match !== null);
  const first = errors.find((match) => match[2] !== undefined) ?? errors[0];
  if (!first) return new UserError(`protoc failed: ${stderr.trim() || "no output"}`);
  const [, file, line, column, reason] = first;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
  return new ProtoError(
    file,
    line === undefined ? undefined : Number(line),
    column === undefined ? undefined : Number(column),
    reason + more,
  );
}
