// A write-ahead log: records appended to one file of a Disk, each framed so
// that recovery can tell the last append cut short by a crash (dropped: it was
// never acknowledged) from corruption (refused: guessing could lose what this
// replica promised).
//
// A record on disk: a 12-byte header, then the record.
//   length  u32 LE   bytes of the record
//   crc     u32 LE   CRC-32 of the record
//   check   u32 LE   CRC-32 of length and crc, so that a corrupt length is
//                    caught rather than read as a record running past the end
import path from "node:path";
import { crc32 } from "node:zlib";
import type { Disk } from "./disk.js";

const HEADER = 12;

/** A log that recovery refuses to guess about: corruption before its last record. */
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
  /** Bytes appended since the log was opened or last rewritten: what a compaction would win back, at most. */
  grown = 0;

  private constructor(
    private readonly disk: Disk,
    private readonly file: string,
  ) {}

  /**
   * Reads `file` of `disk` (missing or empty: an empty log). A torn last
   * record (a partial header, a length running past the end, a checksum
   * mismatch in the last record) is cut off the file and told in `notice`;
   * anything else that does not check throws a WalError.
   */
  static async open(disk: Disk, file = "wal"): Promise<Recovered> {
    const data = (await disk.read(file)) ?? Buffer.alloc(0);
    const where = path.join(disk.where, file);
    const { records, end, torn } = scan(data, where);
    let notice: string | undefined;
    if (torn !== undefined) {
      await disk.truncate(file, end);
      notice =
        `${where}: dropped a torn last record at offset ${end} (${data.length - end} bytes: ${torn}); ` +
        `${records.length} records kept`;
    }
    return { wal: new Wal(disk, file), records, notice };
  }

  /** Appends `record`; resolves once it is durable as the disk's fsync says. Records keep their order. */
  append(record: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${path.join(this.disk.where, this.file)}: the log is closed`));
    const data = frame(record);
    this.grown += data.length;
    return this.track(this.disk.append(this.file, data));
  }

  /**
   * Compaction: makes `records` the whole log, all or nothing across a crash
   * (Disk.replace). The appends called before it are in the file it
   * replaces, those called after follow it: `records` must hold whatever of
   * the former is still needed.
   */
  rewrite(records: readonly Uint8Array[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${path.join(this.disk.where, this.file)}: the log is closed`));
    this.grown = 0;
    return this.track(this.disk.replace(this.file, Buffer.concat(records.map(frame))));
  }

  /** Takes no more appends and waits for those in flight. The disk stays open: whoever opened it closes it. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.inFlight);
  }

  private track(written: Promise<void>): Promise<void> {
    this.inFlight.add(written);
    const forget = () => void this.inFlight.delete(written);
    written.then(forget, forget);
    return written;
  }
}

/**
 * Writes `record` as the whole of `file`, framed and checksummed like a log
 * record, all or nothing across a crash (Disk.replace): a snapshot.
 */
export function writeRecord(disk: Disk, file: string, record: Uint8Array): Promise<void> {
  return disk.replace(file, frame(record));
}

/**
 * The record writeRecord() left in `file`, or undefined when there is no
 * such file. Written whole or not at all, so anything else is damage: a WalError.
 */
export async function readRecord(disk: Disk, file: string): Promise<Uint8Array | undefined> {
  const data = await disk.read(file);
  if (data === undefined) return undefined;
  const where = path.join(disk.where, file);
  const { records, torn } = scan(data, where);
  if (records.length !== 1 || torn !== undefined) {
    throw new WalError(
      `${where}: damaged (${torn ?? `${records.length} records where one was written`}); refusing to guess. ` +
        `To start anyway, move the file away and the write-ahead log with it: this replica then forgets what it promised and accepted`,
    );
  }
  return records[0];
}

/** `record` behind its header. */
function frame(record: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(HEADER + record.length);
  framed.writeUInt32LE(record.length, 0);
  framed.writeUInt32LE(crc32(record), 4);
  framed.writeUInt32LE(crc32(framed.subarray(0, 8)), 8);
  framed.set(record, HEADER);
  return framed;
}

/** The records of `data` up to `end`, and why the rest is a torn last record (if there is a rest). */
function scan(data: Buffer, where: string): { records: Uint8Array[]; end: number; torn?: string } {
  const records: Uint8Array[] = [];
  let offset = 0;
  while (offset < data.length) {
    const rest = data.length - offset;
    if (rest < HEADER) return { records, end: offset, torn: "a partial header" };
    const length = data.readUInt32LE(offset);
    if (crc32(data.subarray(offset, offset + 8)) !== data.readUInt32LE(offset + 8)) {
      // Zeros to the end, from within the header on: space the file system allocated for a write that
      // never landed, or landed only in part. Nothing follows, so this is the last record.
      const written = data.subarray(offset).findLastIndex((byte) => byte !== 0) + 1;
      if (written === 0) return { records, end: offset, torn: "zeros" };
      if (written < HEADER) return { records, end: offset, torn: `a ${written}-byte partial header, then zeros` };
      throw corrupt(
        where,
        offset,
        `the record header is corrupt (its checksum does not match), ${rest} bytes from the end`,
      );
    }
    const end = offset + HEADER + length;
    if (end > data.length) {
      return { records, end: offset, torn: `a ${length}-byte record cut to ${rest - HEADER} bytes` };
    }
    const record = data.subarray(offset + HEADER, end);
    if (crc32(record) !== data.readUInt32LE(offset + 4)) {
      if (end === data.length) return { records, end: offset, torn: "its checksum does not match" };
      throw corrupt(
        where,
        offset,
        `the ${length}-byte record's checksum does not match, and ${data.length - end} bytes follow it`,
      );
    }
    records.push(record);
    offset = end;
  }
  return { records, end: offset };
}

function corrupt(where: string, offset: number, what: string): WalError {
  return new WalError(
    `${where}: corrupt at offset ${offset}: ${what}; refusing to guess. ` +
      `To start anyway, move the file away: this replica then forgets what it promised and accepted`,
  );
}
