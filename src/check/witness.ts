// What a failed search shows, as Knossos and Porcupine show it: the longest
// order the search found, the value it leaves, and the operations pending
// there, none of which can go next; the first to return among them had to.
import { type Key, type Operation, type Scalar, show } from "./history.js";
import { register } from "./model.js";
import type { Outcome } from "./search.js";

/** Why one key's operations cannot be ordered. */
export interface Violation {
  key: Key;
  /** One line: the operation that cannot take effect, and the value it finds. */
  message: string;
  /**
   * The operations that cannot be ordered: those pending after the longest
   * order found (invoked, not yet known to be done), none of which can go
   * next. The first is the one whose return ended the search: it had to.
   */
  operations: Operation[];
  /** The longest order found that explains every result in it, first to last. */
  linearized: Operation[];
  /** The key's value after it. */
  value: Scalar;
}

/** The violation a failed search of `key`'s operations shows; `operations` are what the search was given. */
export function violation(
  key: Key,
  operations: readonly Operation[],
  outcome: Extract<Outcome<unknown>, { linearizable: false }>,
): Violation {
  const linearized = outcome.longest.map((i) => operations[i]!);
  // The search's state may stand for any of several values (UNSEEN): the order says which.
  const value = linearized.reduce((state, op) => register.step(state, op).state, register.init());
  const blocked = operations[outcome.blocked]!;
  // Operations that may never have happened do not have to go next; they are left out.
  const others = outcome.pending.map((i) => operations[i]!).filter((op) => op !== blocked && op.type === "ok");
  const writer = linearized.findLast((op) => op.f !== "read");
  const source = writer ? `from ${describeOperation(writer)}` : "(never written)";
  const pending =
    others.length === 0
      ? "nothing else was pending"
      : others.length === 1
        ? "the other operation pending cannot take effect either"
        : `none of the ${others.length} others pending can take effect either`;
  const n = linearized.length;
  const after = n === 0 ? "" : `after ${n} operation${n === 1 ? "" : "s"} `;
  return {
    key,
    message:
      `${subject(key)}: ${describeOperation(blocked)} cannot take effect: ` +
      `${after}the value is ${show(value)} ${source}, and ${pending}`,
    operations: [blocked, ...others],
    linearized,
    value,
  };
}

/** `key "x"`, or `the register` for operations without a key. */
export function subject(key: Key): string {
  return key === null ? "the register" : `key ${show(key)}`;
}

/** `read → 3 (process 1, lines 7–9)`, `cas 3 → 5 (process 2, lines 4–6, info)`, `write 1 (process 0, line 8, never completed)`. */
export function describeOperation(op: Operation): string {
  const where = op.complete
    ? `lines ${op.invoke.line}–${op.complete.line}${op.type === "ok" ? "" : `, ${op.type}`}`
    : `line ${op.invoke.line}, never completed`;
  return `${describeCall(op)} (process ${show(op.process)}, ${where})`;
}

/** The operation without where it is: `read → 3`, `write 4`, `cas 3 → 5`, `append "ab"`. */
export function describeCall(op: Operation): string {
  switch (op.f) {
    case "read":
      return op.type === "ok" ? `read → ${show(op.value)}` : "read";
    case "cas":
      return `cas ${show(op.value[0])} → ${show(op.value[1])}`;
    default:
      return `${op.f} ${show(op.value)}`;
  }
}
