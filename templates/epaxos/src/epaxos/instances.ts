// Instances and their attributes. An instance is a slot of one replica's
// instance space, named by {replica, instance}; the batch of commands it
// holds is ordered against the others by its attributes: deps, the
// instances it must not run before, and seq, which orders the instances
// that end up depending on each other. Commands on the same key interfere,
// but two reads do not; two instances interfere when any two of their
// commands do.
//
// Deps are instance ids, one by one, not the original's vector of the
// highest instance per replica: a vector entry stands for every lower
// instance of that replica too, so a read that depends on a write would also
// depend on the reads before it, and two reads that do not interfere would
// still be ordered.
import { Dependencies, type Status } from "../pb/epaxos.js";

export interface InstanceId {
  /** The command leader's index among the replicas, their names sorted. */
  readonly replica: number;
  /** Its number in that replica's instance space. */
  readonly instance: number;
}

/** A key-value command: a write sets `key` to `value`; an empty value reads it. */
export interface Command {
  readonly key: string;
  readonly value: Uint8Array;
}

/**
 * What an instance holds: the commands its leader gathered into it (a
 * batch, run in order), or none: the no-op recovery commits when no replica
 * it hears from knows the instance's, which does nothing and interferes with
 * nothing.
 */
export type Batch = readonly Command[];

export const NOOP: Batch = [];

/**
 * A batch as the messages and the log carry it (see Command in
 * epaxos.proto): one command in `name` and `value`, more in `commands`, a
 * no-op as `noop` (PreAccept has no such field: it never carries one).
 */
export interface WireBatch<Bytes extends Uint8Array = Buffer> {
  name: string;
  value: Bytes;
  commands: { name: string; value: Bytes }[];
  noop?: boolean;
}

export function encodeBatch(commands: Batch): Required<WireBatch> {
  const one = commands.length === 1 ? commands[0]! : undefined;
  return {
    name: one?.key ?? "",
    value: Buffer.from(one?.value ?? []),
    commands: commands.length > 1 ? commands.map(({ key, value }) => ({ name: key, value: Buffer.from(value) })) : [],
    noop: commands.length === 0,
  };
}

export function decodeBatch(wire: WireBatch<Uint8Array>): Batch {
  if (wire.noop) return NOOP;
  if (wire.commands.length > 0) return wire.commands.map(({ name, value }) => ({ key: name, value }));
  return [{ key: wire.name, value: wire.value }];
}

export interface Attributes {
  readonly seq: number;
  /** Sorted by replica then instance, each once. */
  readonly deps: readonly InstanceId[];
}

/** What a replica knows of an instance. */
export interface Instance extends Attributes {
  readonly commands: Batch;
  status: Status;
  /** The highest ballot this replica promised (or voted at) for the instance. */
  ballot: number;
  /** The ballot its status and attributes were voted at (0: the command leader's own). */
  readonly vbal: number;
}

export const isRead = (command: Command): boolean => command.value.length === 0;

/** Whether `a` and `b` must be ordered: the same key, and not both reads. */
export function interfere(a: Command, b: Command): boolean {
  return a.key === b.key && !(isRead(a) && isRead(b));
}

/** An instance id as one number, for maps: replicas and instances each fit in 32 bits. */
export function idKey(id: InstanceId): number {
  return id.replica * 2 ** 32 + id.instance;
}

export function compareIds(a: InstanceId, b: InstanceId): number {
  return a.replica - b.replica || a.instance - b.instance;
}

export const idText = (id: InstanceId): string => `${id.replica}.${id.instance}`;

/** Deps as the `deps` bytes of the messages carry them. */
export function encodeDeps(deps: readonly InstanceId[]): Uint8Array {
  return Dependencies.encode({ ids: [...deps] }).finish();
}

export function decodeDeps(bytes: Uint8Array): InstanceId[] {
  return Dependencies.decode(bytes)
    .ids.map(({ replica, instance }) => ({ replica, instance }))
    .sort(compareIds);
}

/**
 * An acceptor's PreAccept: the leader's attributes joined with the local
 * ones (deps united, the higher seq), and whether that changed them. The
 * fast path needs a fast quorum to leave them unchanged.
 */
export function merge(leader: Attributes, local: Attributes): Attributes & { changed: boolean } {
  const seq = Math.max(leader.seq, local.seq);
  const deps = union(leader.deps, local.deps);
  return { seq, deps, changed: seq !== leader.seq || deps.length !== leader.deps.length };
}

export function sameAttributes(a: Attributes, b: Attributes): boolean {
  return (
    a.seq === b.seq && a.deps.length === b.deps.length && a.deps.every((id, i) => compareIds(id, b.deps[i]!) === 0)
  );
}

/** Two sorted id lists as one, sorted, each id once. */
export function union(a: readonly InstanceId[], b: readonly InstanceId[]): InstanceId[] {
  const out: InstanceId[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const order = i === a.length ? 1 : j === b.length ? -1 : compareIds(a[i]!, b[j]!);
    out.push(order <= 0 ? a[i]! : b[j]!);
    if (order <= 0) i++;
    if (order >= 0) j++;
  }
  return out;
}

/** The instances of one key that a new command must depend on, and the highest seqs seen there. */
interface KeyConflicts {
  readonly writes: Map<number, InstanceId>;
  /** Reads not yet covered by a committed write that depends on them. */
  readonly reads: Map<number, InstanceId>;
  writeSeq: number;
  readSeq: number;
}

/**
 * Per key, what a new command's attributes come from. Its deps are kept few:
 * not every interfering instance known here, but those no committed write
 * covers yet. A write committed with X among its deps is ordered after X
 * wherever it runs, so a command that depends on that write is ordered
 * after X too: X leaves the lists. Only a write covers, as only a write
 * interferes with what comes next either way (a read commits with the
 * writes it follows but no read, so a later write still needs those reads).
 * A new write depends on the key's listed writes and reads, a new read on
 * its listed writes. Its seq is 1 + the highest seq of every interfering
 * instance known here, covered or not, so that a command proposed after
 * another committed gets a higher seq than it, which orders them within a
 * cycle as real time did.
 */
export class Conflicts {
  private readonly keys = new Map<string, KeyConflicts>();

  /** The attributes the instances known here give the commands of instance `id`: over them all. */
  attributes(id: InstanceId, commands: Batch): Attributes {
    const own = idKey(id);
    const deps = new Map<number, InstanceId>();
    let highest = 0;
    for (const command of commands) {
      const conflicts = this.keys.get(command.key);
      if (conflicts === undefined) continue;
      for (const [key, dep] of conflicts.writes) if (key !== own) deps.set(key, dep);
      if (!isRead(command)) for (const [key, dep] of conflicts.reads) if (key !== own) deps.set(key, dep);
      const seq = isRead(command) ? conflicts.writeSeq : Math.max(conflicts.writeSeq, conflicts.readSeq);
      highest = Math.max(highest, seq);
    }
    return { seq: 1 + highest, deps: [...deps.values()].sort(compareIds) };
  }

  /** Instance `id` holds `commands` at `seq`: later commands on their keys depend on it. */
  add(id: InstanceId, commands: Batch, seq: number): void {
    for (const command of commands) {
      let conflicts = this.keys.get(command.key);
      if (conflicts === undefined) {
        conflicts = { writes: new Map(), reads: new Map(), writeSeq: 0, readSeq: 0 };
        this.keys.set(command.key, conflicts);
      }
      if (isRead(command)) {
        conflicts.reads.set(idKey(id), id);
        conflicts.readSeq = Math.max(conflicts.readSeq, seq);
      } else {
        conflicts.writes.set(idKey(id), id);
        conflicts.writeSeq = Math.max(conflicts.writeSeq, seq);
      }
    }
  }

  /** An instance of `commands` committed with `deps`: each write among them covers them on its key (see the class). */
  committed(commands: Batch, deps: readonly InstanceId[]): void {
    for (const command of commands) {
      if (isRead(command)) continue;
      const conflicts = this.keys.get(command.key);
      if (conflicts === undefined) continue;
      for (const dep of deps) {
        conflicts.writes.delete(idKey(dep));
        conflicts.reads.delete(idKey(dep));
      }
    }
  }

  /** How many instances the lists of `key` hold: what a new command there would depend on, at most. */
  listed(key: string): number {
    const conflicts = this.keys.get(key);
    return conflicts === undefined ? 0 : conflicts.writes.size + conflicts.reads.size;
  }
}
