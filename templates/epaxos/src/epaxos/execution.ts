// Execution: a committed instance runs once every instance it reaches in the
// committed dependency graph is committed, after them, as the ePaxos paper
// orders them: the graph's strongly connected components in inverse
// topological order (Tarjan's algorithm emits them so), and within a
// component by seq, then replica, then instance. Every replica commits the
// same attributes for an instance, so every replica executes interfering
// commands in the same order.
import { Status } from "../pb/epaxos.js";
import { compareIds, idKey, type Instance, type InstanceId } from "./instances.js";

/**
 * The executed instances, kept small: per replica, a watermark below which
 * every instance is executed, and the executed ones above it (few: instances
 * execute about in the order their leader numbered them).
 */
export class Executed {
  private readonly watermarks = new Map<number, number>();
  private readonly above = new Map<number, Set<number>>();

  has(id: InstanceId): boolean {
    return id.instance < this.below(id.replica) || (this.above.get(id.replica)?.has(id.instance) ?? false);
  }

  add(id: InstanceId): void {
    let below = this.below(id.replica);
    if (id.instance < below) return;
    let above = this.above.get(id.replica);
    if (above === undefined) this.above.set(id.replica, (above = new Set()));
    above.add(id.instance);
    while (above.delete(below)) below++;
    this.watermarks.set(id.replica, below);
  }

  /** Takes the executed set a snapshot holds: the watermark of each replica, by index, and the executed above them. */
  restore(watermarks: readonly number[], above: Iterable<InstanceId>): void {
    watermarks.forEach((below, replica) => this.watermarks.set(replica, below));
    for (const id of above) this.add(id);
  }

  /** The watermark of `replica`'s instance space: every instance of it below this one is executed. */
  below(replica: number): number {
    return this.watermarks.get(replica) ?? 0;
  }

  /** The executed instances above the watermarks. */
  *aboveIds(): Iterable<InstanceId> {
    for (const [replica, above] of this.above) for (const instance of above) yield { replica, instance };
  }

  /** Executed instances held one by one (above the watermarks). */
  get held(): number {
    let held = 0;
    for (const above of this.above.values()) held += above.size;
    return held;
  }
}

/** One instance on the depth-first search's path: the next of its deps to look at. */
interface Frame {
  readonly id: InstanceId;
  readonly key: number;
  readonly instance: Instance;
  next: number;
}

export class Executor {
  readonly executed = new Executed();

  constructor(
    /** The instance `id` as this replica knows it, if it does. */
    private readonly lookup: (id: InstanceId) => Instance | undefined,
    /** Runs the command of an instance, once, in execution order. */
    private readonly apply: (id: InstanceId, instance: Instance) => void,
  ) {}

  /**
   * Executes `start` and every instance it depends on that is not executed
   * yet, in order. Resolves with undefined when `start` is executed, or with
   * an instance it reaches that is not committed here: it waits for that one
   * (the components completed before it was found are executed already).
   * Iterative, so a chain of any length costs no stack.
   */
  execute(start: InstanceId): InstanceId | undefined {
    if (this.executed.has(start)) return undefined;
    const order = new Map<number, number>();
    const low = new Map<number, number>();
    const stack: Frame[] = [];
    const onStack = new Set<number>();
    const path: Frame[] = [];
    const visit = (id: InstanceId): boolean => {
      const instance = this.lookup(id);
      if (instance === undefined || instance.status < Status.COMMITTED) return false;
      const key = idKey(id);
      const frame = { id, key, instance, next: 0 };
      order.set(key, order.size);
      low.set(key, order.size - 1);
      stack.push(frame);
      onStack.add(key);
      path.push(frame);
      return true;
    };
    if (!visit(start)) return start;
    while (path.length > 0) {
      const frame = path.at(-1)!;
      const { deps } = frame.instance;
      if (frame.next < deps.length) {
        const dep = deps[frame.next++]!;
        if (this.executed.has(dep)) continue;
        const key = idKey(dep);
        if (!order.has(key)) {
          if (!visit(dep)) return dep;
        } else if (onStack.has(key)) low.set(frame.key, Math.min(low.get(frame.key)!, order.get(key)!));
        continue;
      }
      path.pop();
      const parent = path.at(-1);
      if (low.get(frame.key) === order.get(frame.key)) this.component(stack, onStack, frame.key);
      else if (parent !== undefined) low.set(parent.key, Math.min(low.get(parent.key)!, low.get(frame.key)!));
    }
    return undefined;
  }

  /** Pops the component whose root is `root` off `stack` and executes it by seq, replica, instance. */
  private component(stack: Frame[], onStack: Set<number>, root: number): void {
    const members: Frame[] = [];
    let frame: Frame;
    do {
      frame = stack.pop()!;
      onStack.delete(frame.key);
      members.push(frame);
    } while (frame.key !== root);
    members.sort((a, b) => a.instance.seq - b.instance.seq || compareIds(a.id, b.id));
    for (const { id, instance } of members) {
      this.executed.add(id);
      instance.status = Status.EXECUTED;
      this.apply(id, instance);
    }
  }
}
