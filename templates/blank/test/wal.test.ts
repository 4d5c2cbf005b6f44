// The write-ahead log: records survive a restart; a torn last record (cut
// short, or ending in zeros) is dropped (and the file cut so the next append
// lands cleanly); corruption before the end refuses to start.
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

/** A folder holding a log of RECORDS; resolves with the folder and the log file's bytes. */
async function written(): Promise<{ where: string; bytes: Buffer }> {
  const where = folder();
  const disk = new FileDisk(where, "batch");
  const { wal } = await Wal.open(disk);
  await Promise.all(RECORDS.map((record) => wal.append(record)));
  await wal.close();
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
      assert.match(error.message, new RegExp(`/wal: corrupt at offset ${third}: the 16-byte record's checksum`));
      assert.match(error.message, /move the file away/);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
    assert.deepEqual(await readFile(path.join(where, "wal")), corrupt);
  });

  test("a corrupt header (a length) in the middle or at the end refuses to start: it is no torn write", async () => {
    const { where, bytes } = await written();
    for (const start of [starts[1]!, starts.at(-1)!]) {
      // A length that would run past the end, were it believed.
      await assert.rejects(reopen(where, flipped(bytes, start + 1)), (error: Error) => {
        assert.ok(error instanceof WalError);
        assert.match(error.message, new RegExp(`corrupt at offset ${start}: the record header is corrupt`));
        return true;
      });
    }
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
