import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { copyFile, mkdir, readdir, readFile, rename, rm, rmdir, unlink } from "node:fs/promises";
import path from "node:path";
import { UserError } from "./errors.js";

/**
 * Where a commit keeps its journal, staged files and backups, relative to the
 * root of the change set. It exists only while a commit runs, or after a
 * process died in one; the next `recover` puts the tree back as it was.
 */
export const TRANSACTION_DIR = ".consensus/transaction";
const WORK_DIR = path.dirname(TRANSACTION_DIR);

export type ChangeKind = "create" | "update" | "delete";

export interface Change {
  /** POSIX path relative to the root. */
  readonly path: string;
  readonly kind: ChangeKind;
  /** Bytes on disk now (update, delete). */
  readonly before?: Buffer;
  /** Bytes after the commit (create, update). */
  readonly after?: Buffer;
}

interface JournalEntry {
  path: string;
  /** Whether the file existed before; if so its bytes are in `<index>.old`. */
  existed: boolean;
}

interface Journal {
  entries: JournalEntry[];
  /** Folders the commit creates, parents first. */
  createdDirs: string[];
}

/**
 * Changes to a tree of files, described in memory first and then committed
 * all together or not at all (the model of Angular's schematic Tree).
 */
export class ChangeSet {
  private readonly plan = new Map<string, Buffer | null>();

  constructor(readonly root: string) {}

  /** Plans `content` at `file` (relative to the root); a later call for the same file wins. */
  write(file: string, content: string | Uint8Array): this {
    this.plan.set(normalize(file), Buffer.from(content));
    return this;
  }

  /** Plans the removal of `file`. */
  delete(file: string): this {
    this.plan.set(normalize(file), null);
    return this;
  }

  /** The bytes of `file` as the plan leaves it: planned, else on disk; undefined when it is not there. */
  async read(file: string): Promise<Buffer | undefined> {
    const planned = this.plan.get(normalize(file));
    if (planned !== undefined) return planned ?? undefined;
    return readIfExists(path.join(this.root, file));
  }

  /** The planned files and contents (null for a removal), in the order they were planned. */
  planned(): [string, Buffer | null][] {
    return [...this.plan];
  }

  /** What the commit would change on disk now, sorted by path; files whose bytes stay the same are left out. */
  async changes(): Promise<Change[]> {
    const planned = [...this.plan].sort(([a], [b]) => (a < b ? -1 : 1));
    // A root that does not exist holds nothing to compare with (a new project): no reads.
    const befores = existsSync(this.root) ? await this.befores(planned) : [];
    const changes: Change[] = [];
    for (const [index, [file, after]] of planned.entries()) {
      const before = befores[index];
      if (after === null) {
        if (before) changes.push({ path: file, kind: "delete", before });
      } else if (!before) {
        changes.push({ path: file, kind: "create", after });
      } else if (!before.equals(after)) {
        changes.push({ path: file, kind: "update", before, after });
      }
    }
    return changes;
  }

  /** The bytes on disk of each planned file, after refusing a planned file whose folder is a file. */
  private befores(planned: [string, Buffer | null][]): Promise<(Buffer | undefined)[]> {
    this.checkFolders(planned.filter(([, after]) => after !== null).map(([file]) => file));
    return Promise.all(planned.map(([file]) => readIfExists(path.join(this.root, file))));
  }

  /** Refuses a planned file whose folder, or a folder above it, is a file on disk. */
  private checkFolders(files: string[]): void {
    const checked = new Set<string>();
    for (const file of files) {
      for (let dir = path.posix.dirname(file); dir !== "." && !checked.has(dir); dir = path.posix.dirname(dir)) {
        checked.add(dir);
        const full = path.join(this.root, dir);
        if (existsSync(full) && !statSync(full).isDirectory()) {
          throw new UserError(`cannot write ${file}: ${dir} is a file`);
        }
      }
    }
  }

  /**
   * Writes every change or none. New bytes and backups are staged beside the
   * tree, a journal is written (the commit point), then files are renamed into
   * place. On any failure the tree is restored from the backups; if the process
   * dies instead, the next `recover` does the same. An aborted `signal`
   * (Ctrl-C) before the writing begins is a failure like any other; the
   * writing itself is synchronous, so a Ctrl-C that comes during it is
   * handled after it, with the change whole.
   */
  async commit(signal?: AbortSignal): Promise<Change[]> {
    await recover(this.root);
    const changes = await this.changes();
    if (changes.length === 0) return changes;
    signal?.throwIfAborted();
    if (!existsSync(this.root)) return this.commitNewRoot(changes, signal);
    const txn = this.begin();
    const journal: Journal = { entries: [], createdDirs: [] };
    try {
      for (const change of changes) {
        journal.entries.push({ path: change.path, existed: change.before !== undefined });
        if (!change.before) {
          journal.createdDirs.push(...missingDirs(this.root, path.posix.dirname(change.path), journal.createdDirs));
        }
      }
      // Synchronous from here to the end: one small file after another costs less so than through
      // the thread pool (60 files: ~10 ms less), and no Ctrl-C can cut it.
      for (const [index, change] of changes.entries()) {
        const target = path.join(this.root, change.path);
        if (change.before) copyFileSync(target, path.join(txn, `${index}.old`));
        if (!change.after) continue;
        const staged = path.join(txn, `${index}.new`);
        writeFileSync(staged, change.after);
        if (change.before) chmodSync(staged, statSync(target).mode);
      }
      writeFileSync(path.join(txn, "journal.tmp"), JSON.stringify(journal));
      renameSync(path.join(txn, "journal.tmp"), path.join(txn, "journal.json"));
    } catch (err) {
      removeTransaction(this.root);
      throw err;
    }
    try {
      for (const dir of journal.createdDirs) mkdirSync(path.join(this.root, dir), { recursive: true });
      for (const [index, change] of changes.entries()) {
        const target = path.join(this.root, change.path);
        if (change.after) renameSync(path.join(txn, `${index}.new`), target);
        else unlinkSync(target);
      }
    } catch (err) {
      await recover(this.root);
      throw err;
    }
    unlinkSync(path.join(txn, "journal.json"));
    removeTransaction(this.root);
    return changes;
  }

  /**
   * A root that does not exist yet is built whole in a hidden folder beside it
   * (`.<name>.<pid>.new-XXXXXX`) and renamed into place: one atomic step, with
   * no journal. A process killed before the rename leaves only that folder,
   * which the next commit of the same root removes.
   */
  private async commitNewRoot(changes: Change[], signal?: AbortSignal): Promise<Change[]> {
    const parent = path.dirname(this.root);
    const name = path.basename(this.root);
    await removeAbandonedRoots(parent, name);
    mkdirSync(parent, { recursive: true });
    const staging = mkdtempSync(path.join(parent, `.${name}.${process.pid}.new-`));
    try {
      const dirs = new Set(changes.map((change) => path.join(staging, path.posix.dirname(change.path))));
      for (const dir of dirs) mkdirSync(dir, { recursive: true });
      for (const change of changes) writeFileSync(path.join(staging, change.path), change.after!);
      signal?.throwIfAborted();
      renameSync(staging, this.root);
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      throw err;
    }
    return changes;
  }

  /**
   * Creates the transaction folder, holding this process's pid, in one rename:
   * a second process finds it complete or not at all.
   */
  private begin(): string {
    const txn = path.join(this.root, TRANSACTION_DIR);
    mkdirSync(path.dirname(txn), { recursive: true });
    const fresh = mkdtempSync(`${txn}-`);
    writeFileSync(path.join(fresh, "pid"), String(process.pid));
    try {
      renameSync(fresh, txn);
    } catch (err) {
      rmSync(fresh, { recursive: true, force: true });
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") throw new UserError(BUSY);
      throw err;
    }
    return txn;
  }
}

const BUSY = "another consensus command is changing this project; wait for it to finish";

/**
 * Puts the tree back as it was before a commit that did not finish (a process
 * killed or crashed mid-commit). Every command calls it before it reads the
 * tree. Returns whether there was anything to undo.
 */
export async function recover(root: string): Promise<boolean> {
  const work = path.join(root, WORK_DIR);
  if (!existsSync(work)) return false;
  // A transaction folder that a killed process made but never renamed into place.
  for (const entry of await readdir(work)) {
    const dir = path.join(work, entry);
    if (entry.startsWith(`${path.basename(TRANSACTION_DIR)}-`) && !(await ownedByAnother(dir))) {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const txn = path.join(root, TRANSACTION_DIR);
  const owner = existsSync(txn) ? await ownedByAnother(txn) : undefined;
  if (owner) throw new UserError(`${BUSY} (pid ${owner})`);
  const journal = await readJournal(root);
  if (journal) {
    for (const [index, entry] of journal.entries.entries()) {
      const target = path.join(root, entry.path);
      if (entry.existed) {
        await mkdir(path.dirname(target), { recursive: true });
        await copyFile(path.join(txn, `${index}.old`), `${target}.consensus-restore`);
        await rename(`${target}.consensus-restore`, target);
      } else {
        await rm(target, { force: true });
      }
    }
    for (const dir of [...journal.createdDirs].reverse()) {
      await rmdir(path.join(root, dir)).catch(() => undefined);
    }
    await unlink(path.join(txn, "journal.json"));
  }
  removeTransaction(root);
  return journal !== undefined;
}

/** Removes the staging folders of new roots named `name` in `parent` whose process died before renaming them. */
async function removeAbandonedRoots(parent: string, name: string): Promise<void> {
  const prefix = `.${name}.`;
  const entries = await readdir(parent).catch(() => []);
  for (const entry of entries) {
    const pid = entry.startsWith(prefix) ? /^(\d+)\.new-\w{6}$/.exec(entry.slice(prefix.length))?.[1] : undefined;
    if (pid !== undefined && !isAlive(Number(pid)))
      await rm(path.join(parent, entry), { recursive: true, force: true });
  }
}

/** The pid written in a transaction folder, if that process is alive and is not this one. */
async function ownedByAnother(dir: string): Promise<number | undefined> {
  const pid = Number(await readFile(path.join(dir, "pid"), "utf8").catch(() => ""));
  return pid && pid !== process.pid && isAlive(pid) ? pid : undefined;
}

async function readJournal(root: string): Promise<Journal | undefined> {
  const text = await readFile(path.join(root, TRANSACTION_DIR, "journal.json"), "utf8").catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as Journal);
}

/** Removes the transaction folder, and `.consensus` too when nothing else is in it. */
function removeTransaction(root: string): void {
  rmSync(path.join(root, TRANSACTION_DIR), { recursive: true, force: true });
  try {
    rmdirSync(path.join(root, WORK_DIR));
  } catch {
    // not empty: something else is kept there
  }
}

/** Folders between `root` and `dir` that do not exist yet and are not already listed, parents first. */
function missingDirs(root: string, dir: string, listed: readonly string[]): string[] {
  const missing: string[] = [];
  for (let d = dir; d !== "." && d !== "" && !existsSync(path.join(root, d)); d = path.posix.dirname(d)) {
    if (!listed.includes(d)) missing.unshift(d);
  }
  return missing;
}

async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function normalize(file: string): string {
  const posix = path.posix.normalize(file.split(path.sep).join("/"));
  if (path.posix.isAbsolute(posix) || posix.startsWith("../") || posix === "..") {
    throw new Error(`change outside the tree: ${file}`);
  }
  return posix;
}
