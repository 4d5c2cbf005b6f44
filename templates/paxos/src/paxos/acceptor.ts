// The acceptor: the only role whose state must survive a crash. What it
// promises and accepts is appended to the write-ahead log before it answers,
// so a promise or an acceptance once given is never forgotten, which is all
// Paxos's safety asks of a replica's memory. Once a snapshot holds what the
// slots below a point left, compaction forgets what was accepted there: those
// slots are chosen, and a candidate told so catches up rather than recovers them.
import type { Disk } from "../disk.js";
import type { Command, CommitPoint, Entry } from "../pb/paxos.js";
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

/** A promise, with one chunk of what was accepted (see prepare). */
export interface Promise1b extends Vote {
  readonly accepted: Entry[];
  /** Where the next chunk starts (0: this was the last). */
  readonly next: number;
  /** Slots below this are chosen and compacted. */
  readonly compacted: number;
}

/** Accepted slots in one Prepare reply at most: keeps it well under gRPC's 4 MB default, however long the log. */
export const PREPARE_SLOTS = 32;

export class Acceptor {
  /** The highest ballot promised: no lower ballot's Prepare or Accept is granted. */
  promised = 0;
  /** Slots below this are chosen, and what was accepted in them is forgotten (see compact). */
  compacted = 0;
  private readonly accepted = new Map<number, Accepted>();
  /** The last commit point written to the log (see remember). */
  private commit: CommitPoint | undefined;

  private constructor(private readonly wal: Wal | undefined) {}

  /**
   * The acceptor as the log under `disk` left it (a fresh one without a
   * disk), slots below `compacted` (the snapshot's) left out, and the log's
   * notice if it dropped a torn last record.
   */
  static async open(
    disk: Disk | undefined,
    compacted = 0,
  ): Promise<{ acceptor: Acceptor; commits: CommitPoint[]; notice: string | undefined }> {
    if (disk === undefined) return { acceptor: new Acceptor(undefined), commits: [], notice: undefined };
    const { wal, records, notice } = await Wal.open(disk, "wal");
    const acceptor = new Acceptor(wal);
    acceptor.compacted = compacted;
    const commits: CommitPoint[] = [];
    for (const bytes of records) {
      const { record } = WalRecord.decode(bytes);
      if (record?.$case === "commit") commits.push((acceptor.commit = record.value));
      else if (record?.$case === "promise") acceptor.promise(Number(record.value));
      else if (record?.$case === "accepted") {
        const { slot, ballot, commands } = record.value;
        // Below the snapshot: a crash came between writing it and rewriting the log.
        if (Number(slot) >= compacted) acceptor.note(Number(slot), Number(ballot), commands);
        else acceptor.promise(Number(ballot));
      }
    }
    return { acceptor, commits, notice };
  }

  /**
   * Phase 1b: promises `ballot` (once durable) and returns what was accepted
   * from slot `from` on (none below `compacted`), PREPARE_SLOTS slots at
   * most: the candidate asks again from `next` for the rest.
   */
  async prepare(ballot: number, from: number): Promise<Promise1b> {
    if (ballot < this.promised) return { ok: false, ballot: this.promised, accepted: [], next: 0, compacted: 0 };
    this.promise(ballot);
    await this.wal?.append(WalRecord.encode({ record: { $case: "promise", value: BigInt(ballot) } }).finish());
    const slots = [...this.accepted.keys()].filter((slot) => slot >= from).sort((a, b) => a - b);
    const accepted = slots.slice(0, PREPARE_SLOTS).map((slot) => this.entry(slot));
    // Read after the await: a compaction meanwhile left out the slots below its point.
    return { ok: true, ballot, accepted, next: slots[PREPARE_SLOTS] ?? 0, compacted: this.compacted };
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

  /**
   * Writes `commit` to the log, unless it is the last one written: it need
   * not be durable (without it a restarted replica learns those slots later).
   */
  remember(commit: CommitPoint): void {
    if (this.commit?.below === commit.below && this.commit.ballot === commit.ballot) return;
    this.commit = commit;
    // A failed append stops the replica (see Replica): nothing waits on this one.
    this.wal?.append(WalRecord.encode({ record: { $case: "commit", value: commit } }).finish()).catch(() => undefined);
  }

  /** Bytes appended to the log since it was opened or compacted. */
  get grown(): number {
    return this.wal?.grown ?? 0;
  }

  /**
   * Forgets what was accepted below `below`, whose slots a durable snapshot
   * holds, and rewrites the log to the promise and the entries from `below`
   * on (all or nothing); resolves once the new log is durable.
   */
  async compact(below: number): Promise<void> {
    if (below <= this.compacted) return;
    this.compacted = below;
    for (const slot of this.accepted.keys()) if (slot < below) this.accepted.delete(slot);
    const records = [WalRecord.encode({ record: { $case: "promise", value: BigInt(this.promised) } }).finish()];
    for (const slot of [...this.accepted.keys()].sort((a, b) => a - b)) {
      records.push(WalRecord.encode({ record: { $case: "accepted", value: this.entry(slot) } }).finish());
    }
    if (this.commit !== undefined)
      records.push(WalRecord.encode({ record: { $case: "commit", value: this.commit } }).finish());
    await this.wal?.rewrite(records);
  }

  close(): Promise<void> {
    return this.wal?.close() ?? Promise.resolve();
  }

  private entry(slot: number): Entry {
    const { ballot, commands } = this.accepted.get(slot)!;
    return { slot: BigInt(slot), ballot: BigInt(ballot), commands: [...commands] };
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
