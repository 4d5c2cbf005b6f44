// The disks: FileDisk on real files (order, the three fsync modes, reopening)
// and MemoryDisk (reopen as a crash, no timers).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { type Fsync, FileDisk, MemoryDisk } from "../src/disk.js";

let root: string;
before(async () => (root = await mkdtemp(path.join(tmpdir(), "disk-"))));
after(() => rm(root, { recursive: true, force: true }));

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

  test("always syncs each append, batch coalesces concurrent appends into one sync, never syncs none", async () => {
    const syncs: Partial<Record<Fsync, number>> = {};
    for (const fsync of ["always", "batch", "never"] as const) {
      const disk = new FileDisk(folder(), fsync);
      await Promise.all(Array.from({ length: 50 }, (_, i) => disk.append("log", text(`${i};`))));
      syncs[fsync] = disk.syncs;
      assert.equal((await disk.read("log"))?.toString().split(";").length, 51);
      await disk.close();
    }
    assert.deepEqual(syncs, { always: 50, batch: 1, never: 0 });
  });

  test("batch: appends arriving during a write and sync share the next one (group commit)", async () => {
    const counts: Partial<Record<Fsync, number>> = {};
    for (const fsync of ["always", "batch"] as const) {
      const disk = new FileDisk(folder(), fsync);
      // 20 writers, each appending 10 records one after the other, as the handlers of a busy leader.
      const writer = async (w: number) => {
        for (let i = 0; i < 10; i++) await disk.append("log", text(`${w}.${i};`));
      };
      await Promise.all(Array.from({ length: 20 }, (_, w) => writer(w)));
      counts[fsync] = disk.syncs;
      await disk.close();
    }
    assert.equal(counts.always, 200);
    assert.ok(counts.batch! <= 20, `batch synced ${counts.batch} times for 200 appends`);
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
});
