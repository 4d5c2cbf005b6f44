// Durable storage for a replica: a folder of append-only files. FileDisk is the
// real one (`--data`); MemoryDisk keeps the files in memory for simulations and
// simulates a crash and restart with reopen(). A write-ahead log over either is
// in wal.ts.
import { type FileHandle, mkdir, open as openFile, readFile } from "node:fs/promises";
import path from "node:path";

export type Fsync = "always" | "batch" | "never";

export interface Disk {
  /** Where the files are, for messages: the `--data` folder, or `memory:<name>`. */
  readonly where: string;
  /** How appends are made durable. */
  readonly fsync: Fsync;
  /** The whole content of `file`, or undefined when it does not exist. */
  read(file: string): Promise<Buffer | undefined>;
  /** Appends `data` to `file` (creating it); resolves once durable as `fsync` says. Appends keep their order. */
  append(file: string, data: Uint8Array): Promise<void>;
  /** Cuts `file` to its first `size` bytes (no more than it has), durably as `fsync` says. */
  truncate(file: string, size: number): Promise<void>;
  /** Waits for pending appends and closes the files. */
  close(): Promise<void>;
}

/** One append waiting for its write (and sync). */
interface Pending {
  data: Uint8Array;
  resolve(): void;
  reject(error: Error): void;
}

/** A file of a FileDisk: its handle, opened on first write, and the chain its operations run on, one at a time. */
interface OpenFile {
  name: string;
  handle: FileHandle | undefined;
  tail: Promise<unknown>;
  /** The appends of the write that is queued last and not started yet: later appends join it (batch, never). */
  joinable: Pending[] | undefined;
  /** Set by a failed write or sync: what reached the disk is unknown, so the file takes no more writes. */
  failed: Error | undefined;
}

/**
 * The files of a folder (created with its parents on first write). Operations
 * on one file run in the order they were called. With `always` each append is
 * written and fdatasync'd on its own; with `batch` the appends that arrive
 * while a write and sync is in progress go out together in the next write and
 * one fdatasync (group commit); with `never` appends are written (to the page
 * cache, which outlives the process but not the machine) and never synced.
 */
export class FileDisk implements Disk {
  private readonly files = new Map<string, OpenFile>();
  private folderReady: Promise<void> | undefined;
  private closed = false;
  private datasyncs = 0;

  constructor(
    readonly where: string,
    readonly fsync: Fsync,
  ) {}

  /** How many times a file was fdatasync'd: for tests and metrics. */
  get syncs(): number {
    return this.datasyncs;
  }

  read(file: string): Promise<Buffer | undefined> {
    return this.run(file, async () => {
      try {
        return await readFile(this.path(file));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    });
  }

  append(file: string, data: Uint8Array): Promise<void> {
    let open: OpenFile;
    try {
      open = this.file(file);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const pending = { data, resolve, reject };
      if (open.joinable !== undefined && this.fsync !== "always") {
        open.joinable.push(pending);
        return;
      }
      const batch = [pending];
      open.joinable = batch;
      open.tail = open.tail.then(async () => {
        if (open.joinable === batch) open.joinable = undefined;
        try {
          await this.write(open, batch);
          for (const each of batch) each.resolve();
        } catch (error) {
          open.failed ??= this.error(file, error);
          for (const each of batch) each.reject(open.failed);
        }
      });
    });
  }

  truncate(file: string, size: number): Promise<void> {
    return this.run(file, async (open) => {
      const handle = await this.handle(open);
      const { size: has } = await handle.stat();
      if (size > has) throw new Error(`cannot truncate to ${size} bytes: the file has ${has}`);
      await handle.truncate(size);
      await this.sync(handle);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.files.values()].map((open) => open.tail));
    await Promise.all([...this.files.values()].map((open) => open.handle?.close()));
  }

  /** Runs `operation` on `file` after the operations called before it; its error names the file. */
  private run<T>(file: string, operation: (open: OpenFile) => Promise<T>): Promise<T> {
    let open: OpenFile;
    try {
      open = this.file(file);
    } catch (error) {
      return Promise.reject(error);
    }
    open.joinable = undefined; // an append called after this operation must not be written before it
    const result = open.tail.then(async () => {
      try {
        return await operation(open);
      } catch (error) {
        throw this.error(file, error);
      }
    });
    open.tail = result.catch(() => {});
    return result;
  }

  /** The state of `file`, or an error when the disk is closed, the name is not a plain file name or the file failed. */
  private file(file: string): OpenFile {
    if (this.closed) throw this.error(file, "the disk is closed");
    if (file === "" || file === "." || file === ".." || /[/\\]/.test(file)) {
      throw new Error(`${this.where}: ${JSON.stringify(file)} is not a plain file name`);
    }
    let open = this.files.get(file);
    if (open === undefined) {
      open = { name: file, handle: undefined, tail: Promise.resolve(), joinable: undefined, failed: undefined };
      this.files.set(file, open);
    }
    if (open.failed !== undefined) throw open.failed;
    return open;
  }

  private async write(open: OpenFile, batch: Pending[]): Promise<void> {
    const handle = await this.handle(open);
    const data = batch.length === 1 ? batch[0]!.data : Buffer.concat(batch.map((each) => each.data));
    // A write may be short (a full disk, a signal): the rest goes after it.
    for (let written = 0; written < data.length;) {
      written += (await handle.write(data, written, data.length - written)).bytesWritten;
    }
    await this.sync(handle);
  }

  /** The handle of `file`, opened for appending; creating the file syncs its folder, so that it stays. */
  private async handle(open: OpenFile): Promise<FileHandle> {
    if (open.handle !== undefined) return open.handle;
    this.folderReady ??= this.makeFolder();
    await this.folderReady;
    try {
      open.handle = await openFile(this.path(open.name), "ax");
      await syncFolder(this.where);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      open.handle = await openFile(this.path(open.name), "a");
    }
    return open.handle;
  }

  /** Creates the folder and its missing parents, and syncs the parent of each, so that they stay. */
  private async makeFolder(): Promise<void> {
    const first = await mkdir(this.where, { recursive: true });
    if (first === undefined) return;
    for (let folder = path.resolve(this.where); ; folder = path.dirname(folder)) {
      await syncFolder(path.dirname(folder));
      if (folder === path.resolve(first)) return;
    }
  }

  private async sync(handle: FileHandle): Promise<void> {
    if (this.fsync === "never") return;
    await handle.datasync();
    this.datasyncs++;
  }

  private path(file: string): string {
    return path.join(this.where, file);
  }

  private error(file: string, error: unknown): Error {
    const reason = error instanceof Error ? error.message : String(error);
    return new Error(`${this.path(file)}: ${reason}`, error instanceof Error ? { cause: error } : undefined);
  }
}

/** Makes the entries of `folder` (a file created in it) durable. Windows cannot open a folder to sync it. */
async function syncFolder(folder: string): Promise<void> {
  if (process.platform === "win32") return;
  const handle = await openFile(folder, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The files a MemoryDisk and the handles reopened from it share, as a real disk outlives its processes. */
interface MemoryFiles {
  readonly files: Map<string, Buffer[]>;
  /** The latest handle: the others belong to processes that crashed. */
  live: MemoryDisk;
}

/**
 * Files in memory, for simulations: no I/O and no timers, every method
 * resolves on the microtask queue, so a seeded run replays exactly. Whatever
 * was appended survives reopen(), as the page cache survives a process crash.
 */
export class MemoryDisk implements Disk {
  readonly where: string;
  private shared: MemoryFiles;
  private closed = false;

  constructor(
    readonly name = "disk",
    readonly fsync: Fsync = "batch",
  ) {
    this.where = `memory:${name}`;
    this.shared = { files: new Map(), live: this };
  }

  /** Simulates a crash and restart: this handle takes no more operations (a dead process writes nothing); the new one sees the same files. */
  reopen(): MemoryDisk {
    const next = new MemoryDisk(this.name, this.fsync);
    next.shared = this.shared;
    this.shared.live = next;
    return next;
  }

  /** Cuts `file` to `size` bytes behind the replica's back, as a crash in the middle of a write may: for tests of torn writes. */
  cut(file: string, size: number): void {
    const chunks = this.shared.files.get(file);
    if (chunks !== undefined) this.shared.files.set(file, [Buffer.concat(chunks).subarray(0, size)]);
  }

  async read(file: string): Promise<Buffer | undefined> {
    const chunks = this.chunks(file);
    if (chunks === undefined) return undefined;
    const data = Buffer.concat(chunks);
    this.shared.files.set(file, [data]); // reads are rare (recovery): keep one chunk, and hand out a copy
    return Buffer.from(data);
  }

  async append(file: string, data: Uint8Array): Promise<void> {
    const chunks = this.chunks(file) ?? [];
    chunks.push(Buffer.from(data)); // a copy: the caller may reuse its buffer
    this.shared.files.set(file, chunks);
  }

  async truncate(file: string, size: number): Promise<void> {
    const data = Buffer.concat(this.chunks(file) ?? []);
    if (size > data.length) throw this.error(file, `cannot truncate to ${size} bytes: the file has ${data.length}`);
    this.shared.files.set(file, [data.subarray(0, size)]);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The chunks of `file`, or an error when this handle is closed or was replaced by reopen(). */
  private chunks(file: string): Buffer[] | undefined {
    if (this.shared.live !== this) throw this.error(file, "this handle was replaced by reopen() (its process crashed)");
    if (this.closed) throw this.error(file, "the disk is closed");
    return this.shared.files.get(file);
  }

  private error(file: string, reason: string): Error {
    return new Error(`${this.where}/${file}: ${reason}`);
  }
}
