// The learner: knows which slots are chosen and applies them, in slot order
// and each exactly once, to the key-value store (SPEC §5: a write sets the
// key, a read returns it; both are answered with the key's value after the
// command). A replica whose client is waiting on a command hears here how
// it ended.
import type { Command } from "../pb/paxos.js";

/** How a proposed command ended: applied with its result, or not chosen (its slot holds other commands). */
export type Outcome = { applied: true; seq: number; value: Buffer } | { applied: false };

const EMPTY = Buffer.alloc(0);

export class Learner {
  /** Slots below `applied` are chosen and applied. */
  applied = 0;
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

  /** The chosen log as applied: the commands of each slot below `applied`. */
  log(): (readonly Command[])[] {
    return Array.from({ length: this.applied }, (_, slot) => this.chosen.get(slot)!);
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
