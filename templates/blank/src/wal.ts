// A write-ahead log: records appended to one file of a Disk, each framed so
// that recovery can tell the last append cut short by a crash (dropped: it was
// never acknowledged) from corruption or a file cut short (refused: guessing
// could lose what this replica promised).
//
// A record on disk: a 12-byte header, then the record.
//   length  u32 LE   bytes of the record
//   crc     u32 LE   CRC-32 of the record
//   check   u32 LE   CRC-32 of length and crc, so that a corrupt length is
//                    caught rather than read as a record running past the end
//
// Bytes alone cannot tell a file cut short at or inside a record from one
// whose last write was torn. So a second file, `<file>.end`, keeps marks:
// each the length the log had reached on disk (u64 LE, then its CRC-32), one
// appended when the log opens (after syncing what it recovered), once the
// log has grown by MARK_EVERY bytes since the last mark, and when it closes.
// A log shorter than its last mark was cut (refused), and only past that
// mark can a bad record be a torn write: that costs one small append per
// MARK_EVERY bytes rather than a sync per record. What a mark cannot see: a
// cut that keeps at least its length (the log's last MARK_EVERY bytes, or
// what a crashed process wrote after its last mark) reads as a torn write;
// and a copy of the whole folder, marks and all, restored in place of a
// newer one reads as a sound log (src/paxos/positions.ts catches that).
import path from "node:path";
import { crc32 } from "node:zlib";
import type { Disk } from "./disk.js";

const HEADER = 12;
const MARK = 12;
/** Bytes appended between two marks: one small extra append per this many. */
const MARK_EVERY = 1 << 20;

/** A log that recovery refuses to guess about: corruption before its last record, or a file cut short. */
export class WalError extends Error {
  override name = "WalError";
}

export interface Recovered {
  wal: Wal;
  /** The records in append order. */
  records: Uint8Array[];
  /** One line when a torn last record was dropped, else undefined. */
  notice: string | undefined;
}

export class Wal {
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  /** Whether an append failed: what reached the disk is unknown, so nothing more is marked. */
  private failed = false;
  /** Where the next frame will start. */
  private size: number;
  /** Bytes whose appends resolved (durable as the disk's fsync says). */
  private durable: number;
  /** The length in the last mark written or being written. */
  private marked: number;

  private constructor(
    private readonly disk: Disk,
    private readonly file: string,
    size: number,
    marked: number,
  ) {
    this.size = this.durable = size;
    this.marked = marked;
  }

  /**
   * Reads `file` of `disk` (missing or empty: an empty log). A torn last
   * record past the last mark (a partial header, a header then zeros, a
   * length running past the end, a checksum mismatch, with no valid record
   * after it) is cut off the file and told in `notice`; a log shorter than
   * its last mark, or a bad record before the mark or with a valid record
   * after it, throws a WalError naming the offset and what would be lost.
   */
  static async open(disk: Disk, file = "wal"): Promise<Recovered> {
    const data = (await disk.read(file)) ?? Buffer.alloc(0);
    const marked = lastMark((await disk.read(`${file}.end`)) ?? Buffer.alloc(0));
    const where = path.join(disk.where, file);
    if (data.length < marked) {
      throw refuse(
        where,
        `cut short: it has ${data.length} bytes, but ${file}.end says it had ${marked} on disk, ` +
          `so ${marked - data.length} bytes of records this replica may have acknowledged are gone`,
      );
    }
    const { records, end, torn } = scan(data, where, marked);
    let notice: string | undefined;
    if (torn !== undefined) {
      notice =
        `${where}: dropped a torn last record at offset ${end} (${data.length - end} bytes: ${torn}); ` +
        `${records.length} records kept`;
    }
    const wal = new Wal(disk, file, end, marked);
    if (end !== data.length || end > marked) {
      // Cutting (or syncing, for a cut of nothing) makes what was read durable: a process that crashed
      // may have left it in the page cache only, and a mark must never claim more than the disk holds.
      await disk.truncate(file, end);
      // Not waited for: a mark lost to a crash only leaves the last one as the bound. A failed one is the
      // disk's failure, which stops the replica (Disk.onFailure).
      void wal.mark(end).catch(() => {});
    }
    return { wal, records, notice };
  }

  /** Appends `record`; resolves once it is durable as the disk's fsync says. Records keep their order. */
  append(record: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${path.join(this.disk.where, this.file)}: the log is closed`));
    const frame = Buffer.allocUnsafe(HEADER + record.length);
    frame.writeUInt32LE(record.length, 0);
    frame.writeUInt32LE(crc32(record), 4);
    frame.writeUInt32LE(crc32(frame.subarray(0, 8)), 8);
    frame.set(record, HEADER);
    const end = (this.size += frame.length);
    const appended = this.track(this.disk.append(this.file, frame));
    appended.then(
      () => {
        this.durable = Math.max(this.durable, end);
        // A failed mark is the disk's failure, which stops the replica (Disk.onFailure).
        if (this.durable - this.marked >= MARK_EVERY) void this.mark(this.durable).catch(() => {});
      },
      () => (this.failed = true),
    );
    return appended;
  }

  /** Takes no more appends, waits for those in flight and marks the length reached. The disk stays open: whoever opened it closes it. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.inFlight);
    if (!this.failed && this.durable > this.marked) await this.mark(this.durable).catch(() => {});
  }

  /** Appends a mark of `size` bytes, which must already be on disk. */
  private mark(size: number): Promise<void> {
    this.marked = size;
    const mark = Buffer.allocUnsafe(MARK);
    mark.writeBigUInt64LE(BigInt(size), 0);
    mark.writeUInt32LE(crc32(mark.subarray(0, 8)), 8);
    return this.track(this.disk.append(`${this.file}.end`, mark));
  }

  /** Keeps `operation` among those close() waits for. */
  private track(operation: Promise<void>): Promise<void> {
    this.inFlight.add(operation);
    const forget = () => void this.inFlight.delete(operation);
    operation.then(forget, forget);
    return operation;
  }
}

/** The length in the last mark that checks (0 without one): a torn last mark is ignored, the one before it holds. */
function lastMark(marks: Buffer): number {
  for (let offset = marks.length - (marks.length % MARK) - MARK; offset >= 0; offset -= MARK) {
    if (crc32(marks.subarray(offset, offset + 8)) === marks.readUInt32LE(offset + 8)) {
      return Number(marks.readBigUInt64LE(offset));
    }
  }
  return 0;
}

/**
 * The records of `data` up to `end`, and why the rest is a torn last record
 * (if there is a rest). A bad record is torn only when it starts at or past
 * `marked` and nothing after it frames as a valid record; else it throws.
 */
function scan(data: Buffer, where: string, marked: number): { records: Uint8Array[]; end: number; torn?: string } {
  const records: Uint8Array[] = [];
  const bad = (offset: number, what: string) => {
    const lost = `${data.length - offset} bytes from there on`;
    if (offset < marked) {
      throw refuse(where, `corrupt at offset ${offset}: ${what}, before the ${marked} bytes marked on disk; ${lost}`);
    }
    const next = nextRecord(data, offset + 1);
    if (next !== undefined) {
      throw refuse(
        where,
        `corrupt at offset ${offset}: ${what}, yet a valid record follows at offset ${next}; ${lost}`,
      );
    }
    return { records, end: offset, torn: what };
  };
  let offset = 0;
  while (offset < data.length) {
    const rest = data.length - offset;
    if (rest < HEADER) return bad(offset, "a partial header");
    const length = data.readUInt32LE(offset);
    if (!headerChecks(data, offset)) {
      // Zeros to the end, from within the header on: space the file system allocated for a write that
      // never landed, or landed only in part.
      const written = data.subarray(offset).findLastIndex((byte) => byte !== 0) + 1;
      if (written === 0) return bad(offset, "zeros");
      if (written < HEADER) return bad(offset, `a ${written}-byte partial header, then zeros`);
      return bad(offset, "the record header is corrupt (its checksum does not match)");
    }
    const end = offset + HEADER + length;
    if (end > data.length) return bad(offset, `a ${length}-byte record cut to ${rest - HEADER} bytes`);
    const record = data.subarray(offset + HEADER, end);
    if (crc32(record) !== data.readUInt32LE(offset + 4)) {
      return bad(offset, `the ${length}-byte record's checksum does not match`);
    }
    records.push(record);
    offset = end;
  }
  return { records, end: offset };
}

function headerChecks(data: Buffer, offset: number): boolean {
  return crc32(data.subarray(offset, offset + 8)) === data.readUInt32LE(offset + 8);
}

/** The first offset from `from` on where a whole record checks, if any: damage, not a torn write, comes before one. */
function nextRecord(data: Buffer, from: number): number | undefined {
  for (let offset = from; offset + HEADER <= data.length; offset++) {
    const end = offset + HEADER + data.readUInt32LE(offset);
    if (end > data.length || !headerChecks(data, offset)) continue;
    if (crc32(data.subarray(offset + HEADER, end)) === data.readUInt32LE(offset + 4)) return offset;
  }
  return undefined;
}

function refuse(where: string, what: string): WalError {
  return new WalError(
    `${where}: ${what}; refusing to guess. To start anyway, move the log and its .end file away: ` +
      `this replica then forgets what it promised and accepted`,
  );
}
