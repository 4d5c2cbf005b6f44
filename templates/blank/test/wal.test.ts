// The write-ahead log: records survive a restart; a torn last record (cut
// short, or ending in zeros) is dropped (and the file cut so the next append
// lands cleanly); corruption with a valid record after it, or before the
// length the log's marks say was on disk, and a log cut short below its last
// mark refuse to start.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { FileDisk, MemoryDisk } from "../src/disk.js";
import { Wal, WalError } from "../src/wal.js";

let root: string;
before(async () => (root = await mkdtemp(path.join(tmpdir(), "wal-"))));
after(() => rm(root, { recursive: true, force: true }));

let folders = 0;
const folder = () => path.join(root, `d${++folders}`);

const HEADER = 12;
const RECORDS = ["first", "", "the third record", "last!"].map((value) => Buffer.from(value));
const strings = (records: Uint8Array[]) => records.map((record) => Buffer.from(record).toString());

/**
 * A folder holding a log of RECORDS, as a process that crashed left it (no
 * mark past 0), or as one that closed the log (marked to its end); resolves
 * with the folder and the log file's bytes.
 */
async function written(closed = false): Promise<{ where: string; bytes: Buffer }> {
  const where = folder();
  const disk = new FileDisk(where, "batch");
  const { wal } = await Wal.open(disk);
  await Promise.all(RECORDS.map((record) => wal.append(record)));
  if (closed) await wal.close();
  await disk.close();
  return { where, bytes: await readFile(path.join(where, "wal")) };
}

/** Offsets where each record of RECORDS starts in the file. */
const starts = RECORDS.map((_, i) => RECORDS.slice(0, i).reduce((sum, record) => sum + HEADER + record.length, 0));

/** Opens the log of `where` with `bytes` in place of its file. */
async function reopen(where: string, bytes: Buffer) {
  await writeFile(path.join(where, "wal"), bytes);
  const disk = new FileDisk(where, "batch");
  try {
    return await Wal.open(disk);
  } finally {
    await disk.close();
  }
}

/** `bytes` with the byte at `offset` flipped. */
function flipped(bytes: Buffer, offset: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[offset]! ^= 0xff;
  return copy;
}

describe("Wal", () => {
  test("a missing or empty file is an empty log", async () => {
    const where = folder();
    const disk = new FileDisk(where, "batch");
    const missing = await Wal.open(disk);
    assert.deepEqual([missing.records, missing.notice], [[], undefined]);
    await disk.close();
    await mkdir(where);
    const empty = await reopen(where, Buffer.alloc(0));
    assert.deepEqual([empty.records, empty.notice], [[], undefined]);
  });

  test("records come back in append order after a restart, and appends continue", async () => {
    const { where } = await written();
    const disk = new FileDisk(where, "always");
    const { wal, records, notice } = await Wal.open(disk);
    assert.deepEqual(strings(records), strings(RECORDS));
    assert.equal(notice, undefined);
    await wal.append(Buffer.from("fifth"));
    await wal.close();
    await assert.rejects(wal.append(Buffer.from("late")), /wal: the log is closed$/);
    await disk.close();
    const again = await reopen(where, await readFile(path.join(where, "wal")));
    assert.deepEqual(strings(again.records), [...strings(RECORDS), "fifth"]);
  });

  test("a torn last record, cut at any byte, is dropped with a notice and the next append lands cleanly", async () => {
    const { where, bytes } = await written();
    const last = starts.at(-1)!;
    for (let size = last + 1; size < bytes.length; size++) {
      // The last round's restarts marked the log: start each cut from the crashed log of written().
      await rm(path.join(where, "wal.end"), { force: true });
      const { records, notice } = await reopen(where, bytes.subarray(0, size));
      assert.deepEqual(strings(records), strings(RECORDS.slice(0, -1)), `cut at ${size}`);
      assert.match(
        notice ?? "",
        new RegExp(`/wal: dropped a torn last record at offset ${last} \\(${size - last} bytes: `),
      );
      assert.equal(
        (await readFile(path.join(where, "wal"))).length,
        last,
        "the file is cut back to the last good record",
      );

      const disk = new FileDisk(where, "batch");
      const reopened = await Wal.open(disk);
      assert.equal(reopened.notice, undefined);
      await reopened.wal.append(Buffer.from("after"));
      await disk.close();
      const after = await reopen(where, await readFile(path.join(where, "wal")));
      assert.deepEqual(strings(after.records), [...strings(RECORDS.slice(0, -1)), "after"], `cut at ${size}`);
    }
  });

  test("a checksum mismatch in the last record, or a zeroed tail, is a torn record", async () => {
    const { where, bytes } = await written();
    const last = starts.at(-1)!;
    const bad = await reopen(where, flipped(bytes, bytes.length - 1));
    assert.deepEqual(strings(bad.records), strings(RECORDS.slice(0, -1)));
    assert.match(bad.notice ?? "", new RegExp(`offset ${last} .*checksum does not match`));

    const zeroed = Buffer.concat([bytes.subarray(0, last), Buffer.alloc(bytes.length - last)]);
    const { records, notice } = await reopen(where, zeroed);
    assert.deepEqual(strings(records), strings(RECORDS.slice(0, -1)));
    assert.match(notice ?? "", /zeros/);
  });

  test("a header written in part, then zeros to the end (a write that landed in part), is a torn record", async () => {
    const { where, bytes } = await written();
    const last = starts.at(-1)!;
    for (const part of [1, 5, 11]) {
      const partly = Buffer.concat([bytes.subarray(0, last + part), Buffer.alloc(bytes.length - last - part)]);
      const { records, notice } = await reopen(where, partly);
      assert.deepEqual(strings(records), strings(RECORDS.slice(0, -1)), `${part} bytes of the header`);
      assert.match(
        notice ?? "",
        new RegExp(`offset ${last} \\(${bytes.length - last} bytes: a ${part}-byte partial header, then zeros\\)`),
      );
    }
  });

  test("a flipped byte in a record followed by more refuses to start, naming the offset, and changes nothing", async () => {
    const { where, bytes } = await written();
    const third = starts[2]!;
    const corrupt = flipped(bytes, third + HEADER + 4);
    await assert.rejects(reopen(where, corrupt), (error: Error) => {
      assert.ok(error instanceof WalError);
      assert.match(
        error.message,
        new RegExp(
          `/wal: corrupt at offset ${third}: the 16-byte record's checksum does not match, ` +
            `yet a valid record follows at offset ${starts[3]}; ${bytes.length - third} bytes from there on`,
        ),
      );
      assert.match(error.message, /move the log and its \.end file away/);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
    assert.deepEqual(await readFile(path.join(where, "wal")), corrupt);
  });

  test("a corrupt header (a length) with a valid record after it refuses to start: it is no torn write", async () => {
    const { where, bytes } = await written();
    const second = starts[1]!;
    // A length that would run past the end, were it believed.
    await assert.rejects(reopen(where, flipped(bytes, second + 1)), (error: Error) => {
      assert.ok(error instanceof WalError);
      assert.match(
        error.message,
        new RegExp(
          `corrupt at offset ${second}: the record header is corrupt .*valid record follows at offset ${starts[2]}`,
        ),
      );
      return true;
    });
  });

  test("a write that landed in part over several records (bad records, then nothing valid) is a torn tail", async () => {
    const { where, bytes } = await written();
    const third = starts[2]!;
    // The third record's header and 2 bytes of it landed, the rest of the write did not.
    const partly = Buffer.concat([
      bytes.subarray(0, third + HEADER + 2),
      Buffer.alloc(bytes.length - third - HEADER - 2),
    ]);
    const zeros = await reopen(where, partly);
    assert.deepEqual(strings(zeros.records), strings(RECORDS.slice(0, 2)));
    assert.match(
      zeros.notice ?? "",
      new RegExp(`offset ${third} \\(${bytes.length - third} bytes: the 16-byte record's checksum`),
    );
    // Garbage rather than zeros (a file system that exposes stale blocks): still nothing valid after it.
    const stale = await reopen(where, flipped(flipped(bytes, third + HEADER + 1), bytes.length - 1));
    assert.deepEqual(strings(stale.records), strings(RECORDS.slice(0, 2)));
  });

  test("a log cut short below its last mark, at a record's edge or inside one, refuses to start and changes nothing", async () => {
    const { where, bytes } = await written(true);
    assert.equal((await readFile(path.join(where, "wal.end"))).length, 12, "one mark, at close");
    for (const size of [0, starts[2]!, starts[2]! + 7, bytes.length - 1]) {
      const cut = bytes.subarray(0, size);
      await assert.rejects(reopen(where, cut), (error: Error) => {
        assert.ok(error instanceof WalError);
        assert.equal(
          error.message,
          `${where}/wal: cut short: it has ${size} bytes, but wal.end says it had ${bytes.length} on disk, ` +
            `so ${bytes.length - size} bytes of records this replica may have acknowledged are gone; refusing to guess. ` +
            "To start anyway, move the log and its .end file away: this replica then forgets what it promised and accepted",
        );
        return true;
      });
      assert.deepEqual(await readFile(path.join(where, "wal")), cut);
    }
  });

  test("a bad last record before the mark is damage, not a torn write", async () => {
    const { where, bytes } = await written(true);
    const last = starts.at(-1)!;
    for (const corrupt of [flipped(bytes, bytes.length - 1), flipped(bytes, last + 1)]) {
      await assert.rejects(
        reopen(where, corrupt),
        new RegExp(
          `corrupt at offset ${last}: .*, before the ${bytes.length} bytes marked on disk; ${bytes.length - last} bytes`,
        ),
      );
    }
  });

  test("a torn last mark is ignored: the mark before it holds", async () => {
    const { where, bytes } = await written(true);
    const marks = await readFile(path.join(where, "wal.end"));
    const reopened = new FileDisk(where, "batch");
    const { wal } = await Wal.open(reopened);
    await wal.append(Buffer.from("fifth"));
    await wal.close();
    await reopened.close();
    const longer = await readFile(path.join(where, "wal"));
    assert.equal(
      (await readFile(path.join(where, "wal.end"))).length,
      2 * 12,
      "a mark at close; none at open: nothing new",
    );
    await writeFile(path.join(where, "wal.end"), Buffer.concat([marks, Buffer.alloc(5, 0xff)]));
    // Cut to the first mark: a torn mark beyond it says nothing.
    const { records } = await reopen(where, longer.subarray(0, bytes.length));
    assert.deepEqual(strings(records), strings(RECORDS));
  });

  test("a log is marked as it grows: a crash after a megabyte of appends, then a cut, is caught", async () => {
    let disk = new MemoryDisk("r1", { fsync: "always" });
    const { wal } = await Wal.open(disk);
    const record = Buffer.alloc(4096, 7);
    for (let i = 0; i < 300; i++) await wal.append(record);
    disk.cut("wal", 5000);
    disk = disk.reopen();
    await assert.rejects(
      Wal.open(disk),
      /^WalError: memory:r1\/wal: cut short: it has 5000 bytes, but wal.end says it had 10\d{5} on disk/,
    );
  });

  test("works over a MemoryDisk across a simulated crash with a torn tail", async () => {
    let disk = new MemoryDisk("r1", { fsync: "always" });
    const { wal } = await Wal.open(disk);
    for (const record of RECORDS) await wal.append(record);
    disk.cut("wal", starts.at(-1)! + 3);
    disk = disk.reopen();
    const { records, notice } = await Wal.open(disk);
    assert.deepEqual(strings(records), strings(RECORDS.slice(0, -1)));
    assert.match(
      notice ?? "",
      /^memory:r1\/wal: dropped a torn last record at offset \d+ \(3 bytes: a partial header\)/,
    );
    await assert.rejects(wal.append(Buffer.from("from the dead")), /replaced by reopen/);
  });
});
