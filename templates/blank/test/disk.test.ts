// The disks: FileDisk on real files (order, the three fsync modes, reopening)
// and MemoryDisk (a process crash keeps what was written, a power loss what
// was synced and a seeded torn tail; syncs on a virtual clock; failures).
import assert from "node:assert/strict";
import fs, { existsSync } from "node:fs";
import { type FileHandle, mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { FSYNC, type Fsync, FileDisk, MemoryDisk } from "../src/disk.js";
import { Random, VirtualClock } from "../src/simulation/index.js";
import { Wal } from "../src/wal.js";

let root: string;
/** The prototype of the handles FileDisk gets from fs/promises: its datasync and sync are what the tests watch. */
let handles: FileHandle;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), "disk-"));
  const probe = await open(path.join(root, "probe"), "w");
  handles = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
});
after(() => rm(root, { recursive: true, force: true }));

/** Writes (part of) what FileDisk appends, as fs.writeSync does: the bytes written. */
type Write = (data: Uint8Array) => number;

/** A failed system call, as fs makes it. */
function errnoError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/** A rejected system call, as fs/promises makes it. */
function errno(code: string, message: string): Promise<never> {
  return Promise.reject(errnoError(code, message));
}

/**
 * Watches the real calls (until the test ends, or t.mock.restoreAll()): the
 * bytes FileDisk's appends write (fs.writeSync on a file, not the standard
 * streams), each fdatasync with the bytes written before it began
 * (`durable`: the most a completed one covers), and each folder sync by the
 * folder's inode. `fail` replaces a call, e.g. to inject an error; its
 * `write` gets the real write of what it is given.
 */
function intercept(t: TestContext, fail: { datasync?: () => Promise<void>; write?: (write: Write) => number } = {}) {
  const calls = { written: 0, durable: 0, datasyncs: 0, folders: [] as number[] };
  const { datasync, sync } = handles;
  const { writeSync } = fs;
  t.mock.method(fs, "writeSync", function (fd: number, data: Uint8Array, offset: number, length: number): number {
    if (fd <= 2) return writeSync(fd, data, offset, length);
    const real: Write = (part) => writeSync(fd, part);
    const written = fail.write ? fail.write(real) : real(data.subarray(offset, offset + length));
    calls.written += written;
    return written;
  });
  t.mock.method(handles, "datasync", async function (this: FileHandle) {
    calls.datasyncs++;
    const covers = calls.written;
    await (fail.datasync ?? (() => datasync.call(this)))();
    calls.durable = Math.max(calls.durable, covers);
  });
  t.mock.method(handles, "sync", async function (this: FileHandle) {
    calls.folders.push((await this.stat()).ino);
    await sync.call(this);
  });
  return calls;
}

let folders = 0;
/** A folder of its own under the test's temporary folder (not created yet). */
const folder = () => path.join(root, `d${++folders}`);

const text = (value: string) => Buffer.from(value);

describe("FileDisk", () => {
  test("creates its folder on first write, appends, reads back, and reads a missing file as undefined", async () => {
    const where = path.join(folder(), "nested");
    const disk = new FileDisk(where, "batch");
    assert.equal(await disk.read("wal"), undefined);
    assert.equal(existsSync(where), false);
    await disk.append("wal", text("hello "));
    await disk.append("wal", text("world"));
    await disk.append("other", text("!"));
    assert.equal((await disk.read("wal"))?.toString(), "hello world");
    assert.equal((await disk.read("other"))?.toString(), "!");
    await disk.close();
  });

  for (const fsync of ["always", "batch", "never"] as const) {
    test(`keeps the order of concurrent appends (fsync ${fsync})`, async () => {
      const disk = new FileDisk(folder(), fsync);
      const values = Array.from({ length: 300 }, (_, i) => `${i},`);
      // Three waves: the later ones arrive while earlier writes are in progress.
      const appends = values.map(async (value, i) => {
        if (i % 3 === 1) await Promise.resolve();
        if (i % 3 === 2) await new Promise((resolve) => setImmediate(resolve));
        return disk.append("log", text(value));
      });
      await Promise.all(appends);
      const order = (i: number) => (i % 3) * 1000 + i;
      const expected = values.map((value, i) => [order(i), value] as const).sort(([a], [b]) => a - b);
      assert.equal((await disk.read("log"))?.toString(), expected.map(([, value]) => value).join(""));
      await disk.close();
    });
  }

  for (const fsync of FSYNC) {
    test(`${fsync}: each append resolves only after a real fdatasync that began after its write (calls intercepted)`, async (t) => {
      const calls = intercept(t);
      const disk = new FileDisk(folder(), fsync);
      const values = Array.from({ length: 50 }, (_, i) => text(`${i};`));
      const ends = values.map((_, i) => values.slice(0, i + 1).reduce((sum, value) => sum + value.length, 0));
      const durableAt: number[] = [];
      await Promise.all(values.map((value, i) => disk.append("log", value).then(() => (durableAt[i] = calls.durable))));
      assert.equal((await disk.read("log"))?.toString(), values.join(""));
      await disk.close();
      assert.equal(calls.datasyncs, { always: 1, batch: 1, never: 0 }[fsync]);
      if (fsync === "never") assert.deepEqual(new Set(durableAt), new Set([0]), "nothing is ever synced");
      else values.forEach((_, i) => assert.ok(durableAt[i]! >= ends[i]!, `append ${i} resolved before it was synced`));
    });
  }

  for (const fsync of ["always", "batch"] as const) {
    test(`${fsync}: appends arriving during a write and sync share the next one (group commit), each resolving once synced`, async (t) => {
      const calls = intercept(t);
      const disk = new FileDisk(folder(), fsync);
      let appended = 0;
      let unsynced = 0;
      // 20 writers, each appending 10 records one after the other, as the handlers of a busy leader.
      const writer = async (w: number) => {
        for (let i = 0; i < 10; i++) {
          const record = text(`${w}.${i};`);
          const end = (appended += record.length); // appends keep their order
          await disk.append("log", record);
          if (calls.durable < end) unsynced++;
        }
      };
      await Promise.all(Array.from({ length: 20 }, (_, w) => writer(w)));
      await disk.close();
      assert.equal(calls.written, calls.durable, "the last datasync covered every byte");
      assert.equal(unsynced, 0);
      assert.ok(calls.datasyncs <= 20, `${calls.datasyncs} syncs for 200 appends`);
    });
  }

  test(`an append that finds its file idle is written at once with always; batch waits for the end of the turn`, async (t) => {
    const syncs: Partial<Record<Fsync, number>> = {};
    for (const fsync of ["always", "batch"] as const) {
      const calls = intercept(t);
      const disk = new FileDisk(folder(), fsync);
      const first = disk.append("log", text("a"));
      await Promise.resolve(); // always has started the write of "a" by now
      await Promise.all([first, disk.append("log", text("b"))]);
      await disk.close();
      syncs[fsync] = calls.datasyncs;
      t.mock.restoreAll();
    }
    assert.deepEqual(syncs, { always: 2, batch: 1 });
  });

  test(
    "syncs each folder it creates into its parent, and a new file's folder, before the append resolves",
    { skip: process.platform === "win32" && "Windows cannot open a folder to sync it" },
    async (t) => {
      const calls = intercept(t);
      const parent = folder();
      const where = path.join(parent, "nested");
      const disk = new FileDisk(where, "batch");
      await disk.append("wal", text("a"));
      const inode = async (folder: string) => (await stat(folder)).ino;
      const [rootIno, parentIno, whereIno] = await Promise.all([root, parent, where].map(inode));
      // Each new folder's parent, the deepest first, then the folder of the new file.
      assert.deepEqual(calls.folders, [parentIno, rootIno, whereIno]);
      await disk.append("wal", text("b"));
      assert.equal(calls.folders.length, 3, "no folder sync for a file that exists");
      await disk.append("other", text("c"));
      assert.deepEqual(calls.folders.slice(3), [whereIno]);
      await disk.close();
    },
  );

  test("a failed fdatasync (EIO) fails the append, is told to onFailure first, and the file takes no more writes", async (t) => {
    const calls = intercept(t, { datasync: () => errno("EIO", "i/o error, fdatasync") });
    const where = folder();
    const disk = new FileDisk(where, "batch");
    const events: string[] = [];
    disk.onFailure((error) => events.push(`failure: ${error.message}`));
    await disk.append("log", text("lost?")).catch((error: Error) => events.push(`rejected: ${error.message}`));
    const message = `${where}/log: EIO: i/o error, fdatasync`;
    assert.deepEqual(events, [`failure: ${message}`, `rejected: ${message}`]);
    await assert.rejects(disk.append("log", text("more")), { message });
    assert.equal(calls.datasyncs, 1, "no write or sync after the failure");
    let late: Error | undefined;
    disk.onFailure((error) => (late = error));
    assert.equal(late?.message, message, "a listener added after the failure hears of it at once");
    await disk.close();
  });

  test("a full disk (ENOSPC) after a short write fails the append and is told to onFailure", async (t) => {
    let writes = 0;
    const where = folder();
    const data = text("0123456789");
    intercept(t, {
      write: (write) => {
        if (writes++ === 0) return write(data.subarray(0, 4));
        throw errnoError("ENOSPC", "no space left on device, write");
      },
    });
    const disk = new FileDisk(where, "always");
    let failure: Error | undefined;
    disk.onFailure((error) => (failure = error));
    await assert.rejects(disk.append("log", data), { message: `${where}/log: ENOSPC: no space left on device, write` });
    assert.equal(failure?.message, `${where}/log: ENOSPC: no space left on device, write`);
    t.mock.restoreAll();
    assert.equal((await readFile(path.join(where, "log"))).toString(), "0123", "the short write stays");
    await disk.close();
  });

  test("truncates in order with the appends, and refuses to grow a file", async () => {
    const disk = new FileDisk(folder(), "always");
    const done = [disk.append("log", text("abcdef")), disk.truncate("log", 3), disk.append("log", text("XY"))];
    await Promise.all(done);
    assert.equal((await disk.read("log"))?.toString(), "abcXY");
    await assert.rejects(disk.truncate("log", 10), /log: cannot truncate to 10 bytes: the file has 5$/);
    await disk.append("log", text("!"));
    assert.equal((await disk.read("log"))?.toString(), "abcXY!");
    await disk.close();
  });

  test("replace makes new content the whole file, in order with the appends, through a new file renamed over it", async () => {
    const where = folder();
    const disk = new FileDisk(where, "batch");
    const done = [
      disk.append("log", text("old,")),
      disk.replace("log", text("new,")),
      disk.append("log", text("after")),
    ];
    await Promise.all(done);
    assert.equal((await disk.read("log"))?.toString(), "new,after");
    assert.equal(existsSync(path.join(where, "log.next")), false);
    await disk.replace("snapshot", text("first"));
    await disk.close();
    const again = new FileDisk(where, "batch");
    assert.equal((await again.read("log"))?.toString(), "new,after");
    assert.equal((await again.read("snapshot"))?.toString(), "first");
    await again.close();
  });

  test("reopens after close: the files are there and appends continue", async () => {
    const where = folder();
    const first = new FileDisk(where, "batch");
    const pending = first.append("log", text("one,"));
    await first.close(); // waits for the pending append
    await pending;
    await assert.rejects(first.append("log", text("late")), new RegExp(`^Error: ${where}/log: the disk is closed$`));

    const second = new FileDisk(where, "batch");
    assert.equal((await second.read("log"))?.toString(), "one,");
    await second.append("log", text("two"));
    assert.equal((await second.read("log"))?.toString(), "one,two");
    await second.close();
  });

  test("errors name the file", async () => {
    const blocker = folder();
    await writeFile(blocker, "a file where the folder should be");
    const disk = new FileDisk(blocker, "batch");
    await assert.rejects(disk.append("wal", text("x")), (error: Error) => {
      assert.match(error.message, new RegExp(`^${blocker}/wal: E[A-Z]+: `));
      return true;
    });
    await assert.rejects(disk.append("../wal", text("x")), /: "\.\.\/wal" is not a plain file name$/);
    await disk.close();
  });
});

describe("MemoryDisk", () => {
  test("appends, reads, truncates, and names itself memory:<name>", async () => {
    const disk = new MemoryDisk("r1");
    assert.equal(disk.where, "memory:r1");
    assert.equal(await disk.read("wal"), undefined);
    const data = text("abc");
    await disk.append("wal", data);
    data.fill(0); // the disk keeps a copy
    await disk.append("wal", text("def"));
    await disk.truncate("wal", 4);
    assert.equal((await disk.read("wal"))?.toString(), "abcd");
    await assert.rejects(
      disk.truncate("wal", 5),
      /^Error: memory:r1\/wal: cannot truncate to 5 bytes: the file has 4$/,
    );
  });

  test("reopen() disables the old handle, which changes nothing; the new one sees the same files", async () => {
    const old = new MemoryDisk("r1");
    await old.append("wal", text("kept"));
    const disk = old.reopen();
    await assert.rejects(old.append("wal", text("lost")), /memory:r1\/wal: this handle was replaced by reopen\(\)/);
    await assert.rejects(old.truncate("wal", 0), /replaced by reopen/);
    assert.equal((await disk.read("wal"))?.toString(), "kept");
    await disk.append("wal", text("!"));
    await disk.close();
    await assert.rejects(disk.append("wal", text("?")), /memory:r1\/wal: the disk is closed/);
    assert.equal((await disk.reopen().read("wal"))?.toString(), "kept!");
  });

  test("cut() tears the tail of a file, as a crash mid-write", async () => {
    const disk = new MemoryDisk();
    await disk.append("wal", text("0123456789"));
    disk.cut("wal", 6);
    assert.equal((await disk.reopen().read("wal"))?.toString(), "012345");
  });

  test("does everything on the microtask queue: no I/O, no timers", async () => {
    let done = false;
    const work = async () => {
      let disk = new MemoryDisk();
      for (let i = 0; i < 100; i++) {
        await disk.append("wal", text(`${i}`));
        if (i % 10 === 0) disk = disk.reopen();
      }
      await disk.truncate("wal", 5);
      await disk.read("wal");
      await disk.close();
      done = true;
    };
    void work();
    // A macrotask runs only once the microtask queue is empty.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(done, true);
  });

  test("without a clock, every append is durable at once, except with never", async () => {
    const disk = new MemoryDisk("r1", { fsync: "always" });
    await disk.append("wal", text("abc"));
    assert.equal(disk.unsynced, 0);
    const never = new MemoryDisk("r2", { fsync: "never" });
    await never.append("wal", text("abc"));
    assert.equal(never.unsynced, 3);
  });
});

describe("MemoryDisk on a clock", () => {
  /** A disk whose syncs take exactly 1 virtual ms, and its clock. */
  const timed = (fsync: Fsync) => {
    const clock = new VirtualClock();
    return {
      clock,
      disk: new MemoryDisk("r1", { fsync, clock, random: new Random(1, "disk").next, syncLatency: [1, 1] }),
    };
  };

  /** When each append resolved, in virtual ms, for appends called at the times `at`. */
  async function resolvedAt(fsync: Fsync, at: number[]): Promise<number[]> {
    const { clock, disk } = timed(fsync);
    const done: number[] = [];
    const appends = at.map(
      (time, i) =>
        new Promise<void>((resolve) =>
          clock.setTimeout(() => {
            void disk.append("wal", text(`${i};`)).then(() => {
              done[i] = clock.now();
              resolve();
            });
          }, time),
        ),
    );
    await clock.settle(Promise.all(appends));
    assert.equal(disk.unsynced, fsync === "never" ? at.length * 2 : 0);
    return done;
  }

  test("always: a sync starts as soon as an append is written; those written during it share the next (group commit)", async () => {
    assert.deepEqual(await resolvedAt("always", [0, 0, 0, 0.5, 2.5]), [1, 2, 2, 2, 3.5]);
  });

  test("batch: as always, but an append that finds the disk idle waits for the end of the instant first", async () => {
    assert.deepEqual(await resolvedAt("always", [0, 0, 0]), [1, 2, 2]);
    assert.deepEqual(await resolvedAt("batch", [0, 0, 0, 0.5, 1.5, 3.5]), [1, 1, 1, 2, 3, 4.5]);
  });

  test("never: each append resolves as written, and nothing is ever synced", async () => {
    assert.deepEqual(await resolvedAt("never", [0, 0.5]), [0, 0.5]);
  });

  test("a sync's latency is drawn from the disk's random in syncLatency", async () => {
    const clock = new VirtualClock();
    const disk = new MemoryDisk("r1", { fsync: "always", clock, random: () => 0.5, syncLatency: [2, 4] });
    await clock.settle(disk.append("wal", text("x")));
    assert.equal(clock.now(), 3);
  });

  test("a process crash (reopen) keeps every byte written; the old handle's pending appends never resolve", async () => {
    const { clock, disk } = timed("batch");
    await clock.settle(disk.append("wal", text("synced;")));
    let settled = false;
    void disk.append("wal", text("pending;")).finally(() => (settled = true));
    const next = disk.reopen();
    await clock.advance(10);
    assert.equal(settled, false);
    assert.equal((await next.read("wal"))?.toString(), "synced;pending;");
    assert.equal(next.unsynced, 8, "the page cache holds it, but no sync made it durable");
    assert.equal((await next.powerLoss().read("wal"))?.toString().startsWith("synced;"), true);
  });

  test("replace: seen at once and kept by a crash; a power loss before its sync brings back the old file or none", async () => {
    const kept = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const clock = new VirtualClock();
      const disk = new MemoryDisk("r1", { clock, random: new Random(seed, "disk").next, syncLatency: [1, 1] });
      await clock.settle(disk.append("wal", text("old;")));
      void disk.append("wal", text("unsynced;"));
      void disk.replace("wal", text("new;"));
      void disk.replace("snapshot", text("first"));
      void disk.append("wal", text("after;"));
      assert.equal((await disk.read("wal"))?.toString(), "new;after;");
      const crashed = disk.reopen();
      assert.equal((await crashed.read("wal"))?.toString(), "new;after;", "a crash keeps the rename");
      const restarted = crashed.powerLoss();
      const lost = (await restarted.read("wal"))?.toString() ?? "";
      const snapshot = (await restarted.read("snapshot"))?.toString();
      assert.ok(
        ["new;", "old;"].some((whole) => lost.startsWith(whole)),
        lost,
      );
      assert.ok(snapshot === undefined || snapshot === "first", snapshot);
      kept.add(lost.slice(0, 4)).add(String(snapshot));
      // Once synced, the replacement and what was appended after it stay, and the appends before it resolve with it.
      const after = new MemoryDisk("r2", { clock, random: new Random(seed, "disk").next, syncLatency: [1, 1] });
      const before = after.append("wal", text("old;"));
      await clock.settle(Promise.all([before, after.replace("wal", text("new;")), after.append("wal", text("x;"))]));
      assert.equal((await after.powerLoss().read("wal"))?.toString(), "new;x;");
    }
    assert.deepEqual(
      [...kept].sort(),
      ["first", "new;", "old;", "undefined"],
      "both outcomes of a power loss, over the seeds",
    );
  });

  test("a power loss keeps the synced prefix and a seeded part of the unsynced appends, the last possibly torn", async () => {
    const synced = ["first;", "second;"];
    const unsynced = ["third record;", "fourth record;", "fifth record;"];
    const shapes = new Set<string>();
    /** What seed `seed` leaves of the file. */
    const survivor = async (seed: number): Promise<Buffer> => {
      const clock = new VirtualClock();
      const disk = new MemoryDisk("r1", { clock, random: new Random(seed, "disk").next });
      for (const record of synced) await clock.settle(disk.append("wal", text(record)));
      for (const record of unsynced) void disk.append("wal", text(record));
      assert.equal(disk.unsynced, unsynced.join("").length);
      return (await disk.powerLoss().read("wal"))!;
    };
    for (let seed = 1; seed <= 200; seed++) {
      const left = await survivor(seed);
      assert.deepEqual(left, await survivor(seed), "a seed leaves the same bytes");
      const prefix = synced.join("");
      assert.equal(left.subarray(0, prefix.length).toString(), prefix, `seed ${seed}: the synced part survives`);
      // Then whole unsynced appends, then possibly part of the next: its first bytes, or its first bytes and zeros.
      let offset = prefix.length;
      let whole = 0;
      while (whole < unsynced.length && left.length >= offset + unsynced[whole]!.length) {
        const expected = unsynced[whole]!;
        if (left.subarray(offset, offset + expected.length).toString() !== expected) break;
        offset += expected.length;
        whole++;
      }
      const rest = left.subarray(offset);
      if (rest.length === 0) shapes.add(`${whole} whole`);
      else {
        const next = text(unsynced[whole]!);
        const written = rest.findLastIndex((byte) => byte !== 0) + 1;
        assert.deepEqual(rest.subarray(0, written), next.subarray(0, written), `seed ${seed}: a prefix of the next`);
        assert.ok(rest.length < next.length || written < next.length, `seed ${seed}: the next is torn`);
        if (written < rest.length) {
          assert.equal(rest.length, next.length, `seed ${seed}: zeros up to where the append ended`);
          shapes.add("zeros");
        } else shapes.add("torn");
      }
    }
    assert.deepEqual(
      [...shapes].sort(),
      ["0 whole", "1 whole", "2 whole", "3 whole", "torn", "zeros"],
      "every shape shows up in 200 seeds",
    );
  });

  test("a torn tail left by a power loss is dropped by Wal.open with a notice, never refused", async () => {
    let notices = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const clock = new VirtualClock();
      const disk = new MemoryDisk("r1", { clock, random: new Random(seed, "disk").next });
      const { wal } = await Wal.open(disk);
      const records = Array.from({ length: 6 }, (_, i) => text(`record ${i} `.repeat(i + 1)));
      for (const record of records.slice(0, 3)) await clock.settle(wal.append(record));
      for (const record of records.slice(3)) void wal.append(record);
      const recovered = await Wal.open(disk.powerLoss());
      const kept = recovered.records.map((record) => Buffer.from(record).toString());
      assert.ok(kept.length >= 3, `seed ${seed}: what was synced survives`);
      assert.deepEqual(kept, records.slice(0, kept.length).map(String), `seed ${seed}: a prefix of the records`);
      if (recovered.notice !== undefined) {
        assert.match(recovered.notice, /^memory:r1\/wal: dropped a torn last record at offset \d+ /);
        notices++;
      }
    }
    assert.ok(notices > 50, `${notices} of 200 power losses tore a record`);
  });

  test("a failed sync (EIO) is told to onFailure before the append rejects; the disk takes no more writes", async () => {
    const { clock, disk } = timed("batch");
    const events: string[] = [];
    disk.onFailure((error) => events.push(`failure: ${error.message}`));
    await clock.settle(disk.append("wal", text("ok;")));
    disk.failSyncs();
    const failed = disk
      .append("wal", text("lost?;"))
      .catch((error: Error) => events.push(`rejected: ${error.message}`));
    await clock.settle(failed);
    assert.deepEqual(events, [
      "failure: memory:r1/wal: EIO: i/o error, fdatasync",
      "rejected: memory:r1/wal: EIO: i/o error, fdatasync",
    ]);
    await assert.rejects(disk.append("wal", text("more")), /EIO/);
    let late: Error | undefined;
    disk.onFailure((error) => (late = error));
    assert.match(late?.message ?? "", /EIO/, "a listener added after the failure hears of it at once");
    assert.equal(disk.unsynced, "lost?;".length, "the failed append was never durable");
    disk.repair();
    const next = disk.reopen();
    await clock.settle(next.append("wal", text("again;")));
    assert.equal(next.unsynced, 0);
  });

  test("a full disk (ENOSPC) writes part of the append, fails it and tells onFailure", async () => {
    const { clock, disk } = timed("batch");
    let failure: Error | undefined;
    disk.onFailure((error) => (failure = error));
    await clock.settle(disk.append("wal", text("ok;")));
    disk.fill();
    await assert.rejects(disk.append("wal", text("0123456789")), /^Error: memory:r1\/wal: ENOSPC: no space left/);
    assert.match(failure?.message ?? "", /ENOSPC/);
    const left = (await disk.reopen().read("wal"))!.toString();
    assert.ok(left.startsWith("ok;") && "0123456789".startsWith(left.slice(3)), left);
  });

  test("refuses a bad syncLatency or fsync, in one line", () => {
    for (const latency of [
      [2, 1],
      [-1, 1],
      [0, Infinity],
      [NaN, 1],
    ] as const) {
      assert.throws(
        () => new MemoryDisk("r1", { syncLatency: latency }),
        (error: Error) =>
          error instanceof RangeError &&
          error.message === `syncLatency [${latency.join(", ")}] is not a range of ms [min, max]`,
      );
    }
    assert.throws(
      () => new MemoryDisk("r1", { fsync: "sometimes" as Fsync }),
      /^RangeError: fsync "sometimes" is not one of always, batch, never$/,
    );
  });
});
