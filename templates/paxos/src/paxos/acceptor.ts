// The acceptor: the only role whose state must survive a crash. What it
// promises and accepts is appended to the write-ahead log before it answers,
// so a promise or an acceptance once given is never forgotten, which is all
// Paxos's safety asks of a replica's memory.
import type { Disk } from "../disk.js";
import type { Command, Entry } from "../pb/paxos.js";
import { WalRecord } from "../pb/paxos.js";
import { Wal } from "../wal.js";

/** What an acceptor accepted in a slot, and at which ballot. */
export interface Accepted {
  readonly ballot: number;
  readonly commands: readonly Command[];
}

/** The acceptor's answer: yes, or no with the higher ballot it promised. */
export interface Vote {
  readonly ok: boolean;
  readonly ballot: number;
}

export class Acceptor {
  /** The highest ballot promised: no lower ballot's Prepare or Accept is granted. */
  promised = 0;
  private readonly accepted = new Map<number, Accepted>();

  private constructor(private readonly wal: Wal | undefined) {}

  /**
   * The acceptor as the log under `disk` left it (a fresh one without a
   * disk), and the log's notice if it dropped a torn last record.
   */
  static async open(disk: Disk | undefined): Promise<{ acceptor: Acceptor; notice: string | undefined }> {
    if (disk === undefined) return { acceptor: new Acceptor(undefined), notice: undefined };
    const { wal, records, notice } = await Wal.open(disk, "wal");
    const acceptor = new Acceptor(wal);
    for (const bytes of records) {
      const { record } = WalRecord.decode(bytes);
      if (record?.$case === "promise") acceptor.promise(Number(record.value));
      else if (record?.$case === "accepted") {
        const { slot, ballot, commands } = record.value;
        acceptor.note(Number(slot), Number(ballot), commands);
      }
    }
    return { acceptor, notice };
  }

  /** Phase 1b: promises `ballot` (once durable) and returns what was accepted from slot `from` on. */
  async prepare(ballot: number, from: number): Promise<Vote & { accepted: Entry[] }> {
    if (ballot < this.promised) return { ok: false, ballot: this.promised, accepted: [] };
    this.promise(ballot);
    await this.wal?.append(WalRecord.encode({ record: { $case: "promise", value: BigInt(ballot) } }).finish());
    const accepted: Entry[] = [];
    for (const [slot, { ballot, commands }] of this.accepted) {
      if (slot >= from) accepted.push({ slot: BigInt(slot), ballot: BigInt(ballot), commands: [...commands] });
    }
    accepted.sort((a, b) => Number(a.slot - b.slot));
    return { ok: true, ballot, accepted };
  }

  /** Phase 2b: accepts `commands` in `slot` at `ballot` unless a higher ballot was promised; resolves once durable. */
  async accept(slot: number, ballot: number, commands: readonly Command[]): Promise<Vote> {
    if (ballot < this.promised) return { ok: false, ballot: this.promised };
    this.note(slot, ballot, commands);
    const entry = { slot: BigInt(slot), ballot: BigInt(ballot), commands: [...commands] };
    await this.wal?.append(WalRecord.encode({ record: { $case: "accepted", value: entry } }).finish());
    return { ok: true, ballot };
  }

  /** What this acceptor accepted in `slot`, if anything. */
  acceptedIn(slot: number): Accepted | undefined {
    return this.accepted.get(slot);
  }

  close(): Promise<void> {
    return this.wal?.close() ?? Promise.resolve();
  }

  private promise(ballot: number): void {
    if (ballot > this.promised) this.promised = ballot;
  }

  /** Accepting at a ballot promises it too. */
  private note(slot: number, ballot: number, commands: readonly Command[]): void {
    this.promise(ballot);
    this.accepted.set(slot, { ballot, commands });
  }
}
