// The learner: knows which slots are chosen and applies them, in slot order
// and each exactly once, to the key-value store (SPEC §5: a write sets the
// key, a read returns it; both are answered with the key's value after the
// command). A replica whose client is waiting on a command hears here how
// it ended. Slots below a snapshot are no longer held (see Paxos.compact):
// only the store they left is.
import type { Command, Snapshot } from "../pb/paxos.js";

/**
 * How a proposed command ended: applied with its result, or not chosen (its
 * slot holds other commands), or unknown: its slot came in a snapshot, which
 * says what the slots left, not what they held.
 */
export type Outcome = { applied: true; seq: number; value: Buffer } | { applied: false; unknown?: true };

const EMPTY = Buffer.alloc(0);

export class Learner {
  /** Slots below `applied` are chosen and applied. */
  applied = 0;
  /** Slots below `held` were compacted: their commands are no longer kept. */
  held = 0;
  /** Commands applied: the seq of the last one. */
  private seq = 0;
  private readonly chosen = new Map<number, readonly Command[]>();
  private readonly store = new Map<string, Buffer>();
  /** Clients waiting, by command id (with the slot the command was proposed in), and the ids proposed in each slot. */
  private readonly waiting = new Map<bigint, { slot: number; resolve: (outcome: Outcome) => void }>();
  private readonly expected = new Map<number, bigint[]>();

  /** Records that `commands` are chosen in `slot`, and applies every slot that is now next. */
  choose(slot: number, commands: readonly Command[]): void {
    if (slot < this.applied || this.chosen.has(slot)) return;
    this.chosen.set(slot, commands);
    for (let next = this.chosen.get(this.applied); next !== undefined; next = this.chosen.get(this.applied)) {
      this.apply(this.applied++, next);
    }
  }

  /** The commands chosen in `slot`, if known here. */
  chosenIn(slot: number): readonly Command[] | undefined {
    return this.chosen.get(slot);
  }

  /** Resolves once `command`, proposed in `slot`, is applied, or once `slot` is applied with other commands. */
  wait(slot: number, command: Command): Promise<Outcome> {
    const ids = this.expected.get(slot);
    if (ids === undefined) this.expected.set(slot, [command.id]);
    else ids.push(command.id);
    return new Promise((resolve) => this.waiting.set(command.id, { slot, resolve }));
  }

  /** The chosen log as applied and still held: the commands of each slot from `held` to `applied`, by slot. */
  log(): Map<number, readonly Command[]> {
    const log = new Map<number, readonly Command[]>();
    for (let slot = this.held; slot < this.applied; slot++) log.set(slot, this.chosen.get(slot)!);
    return log;
  }

  /** What the applied slots left: the store, and the seq of the last command. */
  snapshot(): Snapshot {
    const store = [...this.store].map(([key, value]) => ({ key, value }));
    return { applied: BigInt(this.applied), seq: BigInt(this.seq), store };
  }

  /**
   * Takes the state `snapshot` says its slots left, if it is ahead of this
   * learner's (a recovery, or a catch-up from a replica that compacted what
   * this one lacks), and applies the held slots that are then next.
   */
  install(snapshot: Snapshot): void {
    const applied = Number(snapshot.applied);
    if (applied <= this.applied) return;
    this.store.clear();
    for (const { key, value } of snapshot.store) this.store.set(key, Buffer.from(value));
    this.seq = Number(snapshot.seq);
    this.applied = applied;
    for (const [slot, ids] of this.expected) {
      if (slot >= applied) continue;
      for (const id of ids) {
        this.waiting.get(id)?.resolve({ applied: false, unknown: true });
        this.waiting.delete(id);
      }
      this.expected.delete(slot);
    }
    this.prune(applied);
    for (let next = this.chosen.get(this.applied); next !== undefined; next = this.chosen.get(this.applied)) {
      this.apply(this.applied++, next);
    }
  }

  /** Forgets the commands of the slots below `below` (no further than `applied`): a snapshot holds what they left. */
  prune(below: number): void {
    const to = Math.min(below, this.applied);
    for (const slot of this.chosen.keys()) if (slot < to) this.chosen.delete(slot);
    this.held = Math.max(this.held, to);
  }

  /** The value of `key` (empty if never written). */
  get(key: string): Buffer {
    return this.store.get(key) ?? EMPTY;
  }

  private apply(slot: number, commands: readonly Command[]): void {
    for (const command of commands) {
      const seq = ++this.seq;
      // An empty value reads; anything else writes.
      if (command.value.length > 0) this.store.set(command.key, command.value);
      const waiter = this.waiting.get(command.id);
      // A command stays in the slot it was proposed in; the slot check makes another replica's equal id harmless.
      if (waiter?.slot === slot) {
        this.waiting.delete(command.id);
        waiter.resolve({ applied: true, seq, value: this.get(command.key) });
      }
    }
    // Commands proposed here for this slot that another leader's commands replaced.
    for (const id of this.expected.get(slot) ?? []) {
      this.waiting.get(id)?.resolve({ applied: false });
      this.waiting.delete(id);
    }
    this.expected.delete(slot);
  }
}
