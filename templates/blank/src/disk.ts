// Durable storage for a replica: a folder of append-only files. FileDisk is the
// real one (`--data`); MemoryDisk keeps the files in memory for simulations and
// simulates a crash and restart with reopen(). A write-ahead log over either is
// in wal.ts.
import fs from "node:fs";
import { type FileHandle, mkdir, open as openFile, readFile, rename } from "node:fs/promises";
import path from "node:path";
import { setImmediate as endOfTurn } from "node:timers/promises";
import type { Clock } from "./clock.js";

/**
 * How appends are made durable. `always` and `batch` give the same guarantee:
 * an append resolves only once an fdatasync that began after its write has
 * completed, and one sync covers every append waiting on it (group commit:
 * the appends made while a sync runs share the next). They differ when an
 * append finds its file idle: `always` writes and syncs it at once, `batch`
 * first lets the event loop's turn end, so that the appends of every request
 * read in that turn share the sync (fewer syncs, for microseconds more
 * latency). `never` writes to the page cache, which outlives the process but
 * not the machine, and never syncs.
 */
export const FSYNC = ["always", "batch", "never"] as const;
export type Fsync = (typeof FSYNC)[number];

/** The default of `--snapshot-every`: 1 MiB of log, read back in well under a second; the log in memory is ~20× its bytes. */
export const SNAPSHOT_EVERY = 1024 * 1024;

export interface Disk {
  /** Where the files are, for messages: the `--data` folder, or `memory:<name>`. */
  readonly where: string;
  /** How appends are made durable. */
  readonly fsync: Fsync;
  /** Bytes a write-ahead log may grow by before a State that snapshots does so and compacts it (`--snapshot-every`). */
  readonly snapshotEvery: number;
  /** The whole content of `file`, or undefined when it does not exist. */
  read(file: string): Promise<Buffer | undefined>;
  /** Appends `data` to `file` (creating it); resolves once durable as `fsync` says. Appends keep their order. */
  append(file: string, data: Uint8Array): Promise<void>;
  /** Cuts `file` to its first `size` bytes (no more than it has), durably as `fsync` says. */
  truncate(file: string, size: number): Promise<void>;
  /**
   * Makes `data` the whole of `file`, all or nothing across a crash: written
   * to a new file, synced, renamed over `file`, and the folder synced (as
   * `fsync` says). Operations called after it wait for it.
   */
  replace(file: string, data: Uint8Array): Promise<void>;
  /** Waits for pending appends and closes the files. */
  close(): Promise<void>;
  /**
   * Calls `listener` with the first failed append (a write or sync that
   * failed: what reached the disk is unknown), before the append rejects; at
   * once if one failed already. A replica must then stop (see Replica).
   */
  onFailure(listener: (error: Error) => void): void;
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
  /** The appends of the write that is queued last and not started yet: later appends join it (group commit). */
  joinable: Pending[] | undefined;
  /** Operations queued or running on the chain: a `batch` append that finds none gathers first. */
  running: number;
  /** Set by a failed write or sync: what reached the disk is unknown, so the file takes no more writes. */
  failed: Error | undefined;
}

/**
 * The files of a folder (created with its parents on first write). Operations
 * on one file run in the order they were called. The appends that arrive
 * while a write (and sync) is in progress go out together in the next write
 * and, unless `never`, one fdatasync (see FSYNC).
 */
export class FileDisk implements Disk {
  private readonly files = new Map<string, OpenFile>();
  private folderReady: Promise<void> | undefined;
  private closed = false;
  private failure: Error | undefined;
  private readonly listeners: ((error: Error) => void)[] = [];

  constructor(
    readonly where: string,
    readonly fsync: Fsync,
    readonly snapshotEvery = SNAPSHOT_EVERY,
  ) {}

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
      if (open.joinable !== undefined) {
        open.joinable.push(pending);
        return;
      }
      const batch = [pending];
      open.joinable = batch;
      const gather = this.fsync === "batch" && open.running === 0;
      open.running++;
      open.tail = open.tail.then(async () => {
        if (gather) await endOfTurn();
        if (open.joinable === batch) open.joinable = undefined;
        try {
          await this.write(open, batch);
          for (const each of batch) each.resolve();
        } catch (error) {
          open.failed ??= this.error(file, error);
          this.fail(open.failed);
          for (const each of batch) each.reject(open.failed);
        } finally {
          open.running--;
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

  replace(file: string, data: Uint8Array): Promise<void> {
    return this.run(file, async (open) => {
      try {
        this.folderReady ??= this.makeFolder();
        await this.folderReady;
        const next = await openFile(this.path(`${file}.next`), "w");
        try {
          await writeAll(next, data);
          await this.sync(next);
        } finally {
          await next.close();
        }
        await open.handle?.close();
        open.handle = undefined; // the next append opens the new file
        await rename(this.path(`${file}.next`), this.path(file));
        if (this.fsync !== "never") await syncFolder(this.where);
      } catch (error) {
        // Which of the two files the name now holds is unknown: take no more writes.
        open.failed ??= this.error(file, error);
        this.fail(open.failed);
        throw error;
      }
    });
  }

  onFailure(listener: (error: Error) => void): void {
    if (this.failure) listener(this.failure);
    else this.listeners.push(listener);
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
    open.running++;
    const result = open.tail.then(async () => {
      try {
        return await operation(open);
      } catch (error) {
        throw this.error(file, error);
      } finally {
        open.running--;
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
      open = {
        name: file,
        handle: undefined,
        tail: Promise.resolve(),
        joinable: undefined,
        running: 0,
        failed: undefined,
      };
      this.files.set(file, open);
    }
    if (open.failed !== undefined) throw open.failed;
    return open;
  }

  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    for (const listener of this.listeners.splice(0)) listener(error);
  }

  private async write(open: OpenFile, batch: Pending[]): Promise<void> {
    const handle = await this.handle(open);
    const data = batch.length === 1 ? batch[0]!.data : Buffer.concat(batch.map((each) => each.data));
    // Written at once rather than through libuv's thread pool: a write to the page cache takes
    // microseconds, and the pool's round trip (two wake-ups per append) showed in profiles.
    for (let written = 0; written < data.length;) {
      written += fs.writeSync(handle.fd, data, written, data.length - written);
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
  }

  private path(file: string): string {
    return path.join(this.where, file);
  }

  private error(file: string, error: unknown): Error {
    const reason = error instanceof Error ? error.message : String(error);
    return new Error(`${this.path(file)}: ${reason}`, error instanceof Error ? { cause: error } : undefined);
  }
}

/** Writes all of `data`: a write may be short (a full disk, a signal), and the rest goes after it. */
async function writeAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  for (let written = 0; written < data.length;) {
    written += (await handle.write(data, written, data.length - written)).bytesWritten;
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

export interface MemoryDiskOptions {
  /** How appends are made durable (default `batch`). */
  fsync?: Fsync;
  /**
   * Time for syncs (a simulation's virtual clock): an append then resolves
   * once a sync that covers it has completed, `syncLatency` ms after it
   * began. Without a clock every append is durable at once.
   */
  clock?: Clock;
  /** Draws sync latencies and what a power loss or a full disk leaves (default: Math.random; a simulation seeds it). */
  random?: () => number;
  /** Virtual ms a sync takes, drawn in [min, max) (default [0.1, 2]). */
  syncLatency?: readonly [number, number];
  /** See Disk.snapshotEvery (default SNAPSHOT_EVERY; a simulation makes it small, so that runs compact). */
  snapshotEvery?: number;
}

/** One file of a MemoryDisk. */
interface MemoryFile {
  chunks: Buffer[];
  size: number;
  /** Bytes that a sync made durable: a power loss keeps them. */
  synced: number;
  /** Where each append written past `synced` ends, in order: a power loss keeps a prefix of them. */
  ends: number[];
  /** Appends awaiting their sync, in order. */
  waiting: { end: number; resolve(): void; reject(error: Error): void }[];
  syncing: boolean;
  /** Counts hold()s: a sync begun before the content was swapped covers none of the new content. */
  generation: number;
  /**
   * While a replace() is not durable (the folder not synced): the file it
   * replaced (if there was one), which a power loss may bring back, and the
   * replacement's size.
   */
  replaced: { old: { data: Buffer; synced: number; ends: number[] } | undefined; size: number } | undefined;
}

/** What a MemoryDisk and the handles reopened from it share, as a device outlives its processes. */
interface Device {
  readonly files: Map<string, MemoryFile>;
  readonly fsync: Fsync;
  readonly clock: Clock | undefined;
  readonly random: () => number;
  readonly latency: readonly [number, number];
  readonly snapshotEvery: number;
  /** The latest handle: the others belong to processes that crashed. */
  live: MemoryDisk;
  /** A failure armed by failSyncs() or fill(), until repair(). */
  fault: "EIO" | "ENOSPC" | undefined;
}

/**
 * Files in memory, for simulations: no I/O; with a clock, syncs take virtual
 * time, else everything resolves on the microtask queue. Either way a seeded
 * run replays exactly. It knows two crashes: reopen(), a process crash, keeps
 * everything written (the page cache survives); powerLoss() keeps what was
 * synced and, of each file's unsynced tail, a seeded prefix of its appends,
 * the last one possibly torn (cut short, or its end zeros).
 */
export class MemoryDisk implements Disk {
  readonly where: string;
  private device: Device;
  private closed = false;
  private failure: Error | undefined;
  private readonly listeners: ((error: Error) => void)[] = [];

  constructor(
    readonly name = "disk",
    options: MemoryDiskOptions = {},
  ) {
    this.where = `memory:${name}`;
    const latency = options.syncLatency ?? [0.1, 2];
    if (!(latency[0] >= 0 && latency[1] >= latency[0] && Number.isFinite(latency[1]))) {
      throw new RangeError(`syncLatency [${latency.join(", ")}] is not a range of ms [min, max]`);
    }
    const fsync = options.fsync ?? "batch";
    if (!FSYNC.includes(fsync))
      throw new RangeError(`fsync ${JSON.stringify(fsync)} is not one of ${FSYNC.join(", ")}`);
    this.device = {
      files: new Map(),
      fsync,
      clock: options.clock,
      random: options.random ?? Math.random,
      latency,
      snapshotEvery: options.snapshotEvery ?? SNAPSHOT_EVERY,
      live: this,
      fault: undefined,
    };
  }

  get fsync(): Fsync {
    return this.device.fsync;
  }

  get snapshotEvery(): number {
    return this.device.snapshotEvery;
  }

  /** Bytes written and not yet durable, over all files: what a power loss now could lose. */
  get unsynced(): number {
    let bytes = 0;
    for (const file of this.device.files.values()) bytes += file.size - file.synced;
    return bytes;
  }

  /**
   * A process crash and restart: this handle takes no more operations (a dead
   * process writes nothing, and its pending appends never resolve); the new
   * one sees every byte written, synced or not.
   */
  reopen(): MemoryDisk {
    for (const file of this.device.files.values()) {
      file.waiting = [];
      file.syncing = false;
    }
    const next = new MemoryDisk(this.name);
    next.device = this.device;
    this.device.live = next;
    return next;
  }

  /** A power loss and restart: as reopen(), but each file keeps only what was synced and a seeded part of the rest. */
  powerLoss(): MemoryDisk {
    const { random } = this.device;
    const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
    for (const [name, file] of this.device.files) {
      // A rename not yet made durable may or may not have reached the disk; the new file's data was synced.
      const { replaced } = file;
      if (replaced !== undefined) {
        if (random() >= 0.5) durable(file, replaced.size);
        else if (replaced.old === undefined) {
          this.device.files.delete(name);
          continue;
        } else hold(file, replaced.old.data, replaced.old.synced, replaced.old.ends);
      }
      if (file.size === file.synced) continue;
      const data = Buffer.concat(file.chunks);
      const whole = int(0, file.ends.length);
      let kept = whole === 0 ? data.subarray(0, file.synced) : data.subarray(0, file.ends[whole - 1]);
      if (whole < file.ends.length) {
        const start = kept.length;
        const length = file.ends[whole]! - start;
        const shape = int(0, 2);
        // 0: nothing of the next append; 1: a prefix of it (torn); 2: a prefix, then zeros where the rest was due.
        if (shape === 1 && length > 1) kept = data.subarray(0, start + int(1, length - 1));
        if (shape === 2) {
          const prefix = int(0, length - 1);
          kept = Buffer.concat([data.subarray(0, start + prefix), Buffer.alloc(length - prefix)]);
        }
      }
      hold(file, Buffer.from(kept));
    }
    return this.reopen();
  }

  /** From now until repair(), the next sync fails with EIO (on every handle of this disk). */
  failSyncs(): void {
    this.device.fault = "EIO";
  }

  /** From now until repair(), the disk is full: the next append writes a seeded part of its data and fails with ENOSPC. */
  fill(): void {
    this.device.fault = "ENOSPC";
  }

  /** Ends failSyncs() or fill(): the handles opened from now on work again. */
  repair(): void {
    this.device.fault = undefined;
  }

  onFailure(listener: (error: Error) => void): void {
    if (this.failure) listener(this.failure);
    else this.listeners.push(listener);
  }

  /** Cuts `file` to `size` bytes behind the replica's back, as a crash in the middle of a write may: for tests of torn writes. */
  cut(file: string, size: number): void {
    const open = this.device.files.get(file);
    if (open !== undefined) hold(open, Buffer.concat(open.chunks).subarray(0, size));
  }

  async read(file: string): Promise<Buffer | undefined> {
    const open = this.open(file);
    if (open === undefined) return undefined;
    const data = Buffer.concat(open.chunks);
    open.chunks = [data]; // reads are rare (recovery): keep one chunk, and hand out a copy
    return Buffer.from(data);
  }

  append(file: string, data: Uint8Array): Promise<void> {
    let open: MemoryFile;
    try {
      open = this.open(file, true)!;
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.device.fault === "ENOSPC") {
      const written = Math.floor(this.device.random() * data.length);
      write(open, data.subarray(0, written));
      return Promise.reject(this.fail(file, "ENOSPC: no space left on device, write"));
    }
    write(open, data);
    const { clock, fsync } = this.device;
    if (fsync === "never") return Promise.resolve();
    if (clock === undefined) {
      durable(open, open.size);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      open.waiting.push({ end: open.size, resolve, reject });
      this.sync(file, open, clock, fsync === "always");
    });
  }

  /**
   * The new content is seen at once (the rename); until a sync of it
   * completes (the folder's), a power loss may bring the old file back. The
   * appends waiting for a sync resolve with it: their data is in the new content.
   */
  replace(file: string, data: Uint8Array): Promise<void> {
    const existed = this.device.files.has(file);
    let open: MemoryFile;
    try {
      open = this.open(file, true)!;
    } catch (error) {
      return Promise.reject(error);
    }
    // A full disk: the new file cannot be written, and the old one (or none) stays.
    if (this.device.fault === "ENOSPC") {
      if (!existed) this.device.files.delete(file);
      return Promise.reject(this.fail(file, "ENOSPC: no space left on device, write"));
    }
    const { clock, fsync } = this.device;
    const old = { data: Buffer.concat(open.chunks), synced: open.synced, ends: open.ends };
    hold(open, Buffer.from(data), 0);
    for (const each of open.waiting) each.end = open.size;
    if (fsync === "never") return Promise.resolve();
    if (clock === undefined) {
      durable(open, open.size);
      return Promise.resolve();
    }
    open.replaced = { old: existed ? old : undefined, size: open.size };
    return new Promise((resolve, reject) => {
      open.waiting.push({ end: open.size, resolve, reject });
      this.sync(file, open, clock, true);
    });
  }

  async truncate(file: string, size: number): Promise<void> {
    const open = this.open(file, true)!;
    if (size > open.size) throw this.error(file, `cannot truncate to ${size} bytes: the file has ${open.size}`);
    // Synced at once, unless never.
    hold(open, Buffer.concat(open.chunks).subarray(0, size), this.fsync === "never" ? open.synced : size);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /**
   * Starts the next sync of `file` unless one is under way (or gathering):
   * one for every append written so far (group commit), so those that arrive
   * meanwhile wait for the next. Unless `now`, it waits for the end of the
   * current virtual instant first (its other timers), as `batch` does for the
   * end of the event loop's turn when an append finds the file idle (see FSYNC).
   */
  private sync(name: string, file: MemoryFile, clock: Clock, now: boolean): void {
    if (file.syncing || file.waiting.length === 0) return;
    file.syncing = true;
    if (!now) {
      clock.setTimeout(() => {
        if (this.device.live !== this) return; // the process crashed: nobody waits any more
        file.syncing = false;
        this.sync(name, file, clock, true);
      }, 0);
      return;
    }
    const covers = file.size;
    const { generation } = file;
    const [min, max] = this.device.latency;
    clock.setTimeout(
      () => {
        if (this.device.live !== this) return; // the process crashed: nobody waits any more
        file.syncing = false;
        if (file.generation !== generation) return this.sync(name, file, clock, true);
        if (this.device.fault === "EIO") {
          const waiting = file.waiting.splice(0); // before the listeners, which may crash the process
          const error = this.fail(name, "EIO: i/o error, fdatasync");
          for (const each of waiting) each.reject(error);
          return;
        }
        durable(file, covers);
        while (file.waiting.length > 0 && file.waiting[0]!.end <= covers) file.waiting.shift()!.resolve();
        this.sync(name, file, clock, true);
      },
      min + this.device.random() * (max - min),
    );
  }

  /** Records the first failure and tells the listeners, before anyone learns of it from a rejected append. */
  private fail(file: string, reason: string): Error {
    if (this.failure === undefined) {
      this.failure = this.error(file, reason);
      for (const listener of this.listeners.splice(0)) listener(this.failure);
    }
    return this.failure;
  }

  /** The file `name` (made, with `create`, if missing); throws when this handle is closed, replaced or failed. */
  private open(name: string, create = false): MemoryFile | undefined {
    if (this.device.live !== this) throw this.error(name, "this handle was replaced by reopen() (its process crashed)");
    if (this.closed) throw this.error(name, "the disk is closed");
    if (this.failure) throw this.failure;
    let file = this.device.files.get(name);
    if (file === undefined && create) {
      file = {
        chunks: [],
        size: 0,
        synced: 0,
        ends: [],
        waiting: [],
        syncing: false,
        generation: 0,
        replaced: undefined,
      };
      this.device.files.set(name, file);
    }
    return file;
  }

  private error(file: string, reason: string): Error {
    return new Error(`${this.where}/${file}: ${reason}`);
  }
}

/**
 * Makes `file` hold `data`, its first `synced` bytes durable (all by default)
 * and `ends` the appends past them; its waiting appends stay.
 */
function hold(file: MemoryFile, data: Buffer, synced = data.length, ends: number[] = []): void {
  file.chunks = [data];
  file.size = data.length;
  file.synced = Math.min(synced, data.length);
  file.ends = ends;
  file.generation++;
  file.replaced = undefined;
}

function write(file: MemoryFile, data: Uint8Array): void {
  file.chunks.push(Buffer.from(data)); // a copy: the caller may reuse its buffer
  file.size += data.length;
  file.ends.push(file.size);
}

/** Marks the first `bytes` of `file` durable. */
function durable(file: MemoryFile, bytes: number): void {
  file.synced = Math.max(file.synced, bytes);
  while (file.ends.length > 0 && file.ends[0]! <= file.synced) file.ends.shift();
  if (file.replaced !== undefined && file.synced >= file.replaced.size) file.replaced = undefined;
}
