// One replica's ePaxos: command leader for what its own clients propose (any
// replica takes any command: no leader to redirect to), and acceptor of the
// other leaders' instances. A command leader PreAccepts its command with the
// attributes it knows of; if a fast quorum (itself among them) answers with
// the attributes unchanged it commits at once (the fast path), otherwise it
// Accepts the union of what a majority answered (the slow path) and commits
// once a majority accepted. It broadcasts the commit; every replica executes
// committed instances in dependency order (execution.ts), and the client is
// answered once its command has executed here. What an acceptor pre-accepts
// or accepts, and what anyone commits, is in the write-ahead log before it
// answers or executes. Time and timers come from the Runtime, so a
// simulation replays a run exactly.
//
// Recovery is not done yet: Prepare and TryPreAccept are still the stubs, so
// an instance whose command leader stops before committing it stays open,
// and so does every instance that depends on it.
import type { Timer } from "../clock.js";
import type { Runtime } from "../context.js";
import type { ProposeReply, ProposeRequest } from "../pb/client.js";
import {
  type AcceptReply,
  type AcceptRequest,
  type CommitRequest,
  type PreAcceptReply,
  type PreAcceptRequest,
  Status,
} from "../pb/epaxos.js";
import { InstanceRecord } from "../pb/wal.js";
import type { RequestMessage, ReplyTo } from "../peers.js";
import { Wal } from "../wal.js";
import { Executor } from "./execution.js";
import {
  type Attributes,
  type Command,
  Conflicts,
  decodeDeps,
  encodeDeps,
  idKey,
  type Instance,
  type InstanceId,
  isRead,
  merge,
  sameAttributes,
  union,
} from "./instances.js";
import { type Quorums, quorums } from "./quorum.js";

export interface EPaxosOptions {
  /** Milliseconds a command leader waits for a peer's answer before it asks that peer again (default 250). */
  retry?: number;
}

const EMPTY = Buffer.alloc(0);

/** What a client waiting on its command hears once it executed here: the key's value then, and the command's seq. */
interface Outcome {
  value: Buffer;
  seq: number;
}

export class EPaxos {
  private readonly options: Required<EPaxosOptions>;
  private readonly instances = new Map<number, Instance>();
  private readonly conflicts = new Conflicts();
  private readonly executor: Executor;
  private readonly store = new Map<string, Buffer>();
  /** Clients waiting on an instance this replica leads, until it executes. */
  private readonly waiting = new Map<number, { resolve: (outcome: Outcome) => void; reject: (e: Error) => void }>();
  /** Committed instances whose execution waits on an instance not committed here, by that instance. */
  private readonly blocked = new Map<number, Map<number, InstanceId>>();
  private readonly timers = new Set<Timer>();
  private names: string[] = [];
  private index = 0;
  private quorums: Quorums = quorums(1);
  /** The next instance of this replica's instance space. */
  private next = 0;
  private wal: Wal | undefined;
  private closed = false;

  constructor(
    private readonly runtime: Runtime,
    options: EPaxosOptions = {},
  ) {
    this.options = { retry: 250, ...options };
    this.executor = new Executor(
      (id) => this.instances.get(idKey(id)),
      (id, instance) => this.apply(id, instance),
    );
  }

  /** Recovers the instances from the write-ahead log and executes what they committed; resolves with the log's notice. */
  async start(): Promise<string[]> {
    const { runtime } = this;
    this.names = [runtime.name, ...runtime.peers.names].sort();
    this.quorums = quorums(this.names.length);
    this.index = this.names.indexOf(runtime.name);
    if (runtime.disk === undefined) return [];
    const { wal, records, notice } = await Wal.open(runtime.disk, "wal");
    this.wal = wal;
    // An instance's last record is its state.
    for (const bytes of records) {
      const record = InstanceRecord.decode(bytes);
      const id = { replica: record.id!.replica, instance: record.id!.instance };
      const instance: Instance = {
        command: { key: record.name, value: record.value },
        seq: Number(record.seq),
        deps: [...(record.deps?.ids ?? [])],
        status: record.status,
        ballot: Number(record.ballot),
      };
      this.instances.set(idKey(id), instance);
      this.conflicts.add(id, instance.command, instance.seq);
      if (id.replica === this.index) this.next = Math.max(this.next, id.instance + 1);
    }
    for (const [key, instance] of this.instances) {
      if (instance.status >= Status.COMMITTED) this.committed(idOf(key), instance);
    }
    return notice === undefined ? [] : [notice];
  }

  /** A client's command: this replica leads its instance, and answers once it executed here. */
  async propose(request: ProposeRequest): Promise<ProposeReply> {
    const { metrics } = this.runtime;
    const command: Command = { key: request.name, value: request.value };
    const id = { replica: this.index, instance: this.next++ };
    const executed = new Promise<Outcome>((resolve, reject) => this.waiting.set(idKey(id), { resolve, reject }));
    try {
      const instance = this.record(id, {
        command,
        ...this.conflicts.attributes(id, command),
        status: Status.PREACCEPTED,
        ballot: 0,
      });
      await this.persist(id, instance);
      await this.lead(id, instance);
      const { value, seq } = await executed;
      metrics.complete(true);
      return reply({ success: true, seq: BigInt(seq), leader: this.index, name: request.name, value });
    } catch (error) {
      this.waiting.delete(idKey(id));
      metrics.complete(false);
      return reply({ error: `not committed: ${(error as Error).message}`, leader: this.index });
    }
  }

  /** PreAccept, as an acceptor: the leader's attributes merged with what this replica knows, once durable. */
  async preAccept(request: PreAcceptRequest): Promise<PreAcceptReply> {
    const id = { replica: request.replica, instance: request.instance };
    const ballot = Number(request.ballot);
    const known = this.instances.get(idKey(id));
    const answer = (ok: boolean, at: number, attributes: Attributes | undefined): PreAcceptReply => ({
      replica: id.replica,
      instance: id.instance,
      ok,
      ballot: BigInt(at),
      seq: BigInt(attributes?.seq ?? 0),
      deps: Buffer.from(encodeDeps(attributes?.deps ?? [])),
      committedDeps: EMPTY,
    });
    if (known !== undefined && known.ballot > ballot) return answer(false, known.ballot, undefined);
    // Asked again (its answer was lost): the same answer; past PreAccept: what it holds now.
    if (known !== undefined) return answer(true, known.ballot, known);
    const command = { key: request.name, value: request.value };
    const leader = { seq: Number(request.seq), deps: decodeDeps(request.deps) };
    const { seq, deps } = merge(leader, this.conflicts.attributes(id, command));
    const instance = this.record(id, { command, seq, deps, status: Status.PREACCEPTED, ballot });
    await this.persist(id, instance);
    return answer(true, ballot, instance);
  }

  /** Accept, as an acceptor: the leader's final attributes, once durable. */
  async accept(request: AcceptRequest): Promise<AcceptReply> {
    const id = { replica: request.replica, instance: request.instance };
    const ballot = Number(request.ballot);
    const known = this.instances.get(idKey(id));
    const answer = (ok: boolean, at: number): AcceptReply => ({
      replica: id.replica,
      instance: id.instance,
      ok,
      ballot: BigInt(at),
    });
    if (known !== undefined && known.ballot > ballot) return answer(false, known.ballot);
    if (known !== undefined && known.status >= Status.COMMITTED) return answer(true, ballot);
    const command = { key: request.name, value: request.value };
    const attributes = { seq: Number(request.seq), deps: decodeDeps(request.deps) };
    const instance = this.record(id, { command, ...attributes, status: Status.ACCEPTED, ballot });
    await this.persist(id, instance);
    return answer(true, ballot);
  }

  /** Commit: the instance's final command and attributes, executed here once durable. */
  async commit(request: CommitRequest): Promise<void> {
    const id = { replica: request.replica, instance: request.instance };
    const known = this.instances.get(idKey(id));
    if (known !== undefined && known.status >= Status.COMMITTED) return;
    const instance: Instance = {
      command: { key: request.name, value: request.value },
      seq: Number(request.seq),
      deps: decodeDeps(request.deps),
      status: Status.COMMITTED,
      ballot: known?.ballot ?? 0,
    };
    await this.persist(id, instance);
    // Committed meanwhile, by a Commit that came again.
    if ((this.instances.get(idKey(id))?.status ?? Status.NONE) >= Status.COMMITTED) return;
    this.committed(id, this.record(id, instance));
  }

  /** The value of `key` as executed here (empty if never written). */
  get(key: string): Buffer {
    return this.store.get(key) ?? EMPTY;
  }

  /** The instance `id` as this replica knows it, if it does. */
  instance(id: InstanceId): Instance | undefined {
    return this.instances.get(idKey(id));
  }

  /** Stops the retries, fails the clients still waiting, and closes the log. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) timer.cancel();
    this.timers.clear();
    for (const { reject } of this.waiting.values()) reject(new Error("the replica is closing"));
    this.waiting.clear();
    await this.wal?.close();
  }

  /** The command leader's part, from its PreAccept to its Commit (which goes on in the background). */
  private async lead(id: InstanceId, proposed: Instance): Promise<void> {
    const { fast, slow } = this.quorums;
    const peers = this.names.length - 1;
    const base = { leaderId: this.index, replica: id.replica, instance: id.instance, ballot: 0n };
    const { key, value } = proposed.command;
    const preAccept = {
      $case: "preAccept",
      value: { ...base, name: key, value: Buffer.from(value), seq: BigInt(proposed.seq), deps: wireDeps(proposed) },
    } as const;
    const unchanged = (reply: PreAcceptReply) =>
      sameAttributes(proposed, { seq: Number(reply.seq), deps: decodeDeps(reply.deps) });
    const answers = await this.ask(preAccept, (replies) => {
      const ok = [...replies.values()].filter((reply) => reply.ok);
      const same = ok.filter(unchanged).length;
      // Fast once a fast quorum agrees; slow once a majority answered and a fast quorum no longer can agree.
      if (same + 1 >= fast) return "done";
      const couldAgree = same + (peers - replies.size) + 1 >= fast;
      return ok.length + 1 >= slow ? (couldAgree ? "enough" : "done") : "wait";
    });
    const ok = [...answers.values()].filter((reply) => reply.ok);
    let final: Attributes = proposed;
    // The commits this replica led, by path, in its metrics (consensus bench prints their shares).
    if (ok.filter(unchanged).length + 1 >= fast) this.runtime.metrics.count("path.fast");
    else {
      let seq = proposed.seq;
      let deps = proposed.deps;
      for (const reply of ok) {
        seq = Math.max(seq, Number(reply.seq));
        deps = union(deps, decodeDeps(reply.deps));
      }
      final = { seq, deps };
      const accepted = this.record(id, { ...proposed, seq, deps, status: Status.ACCEPTED });
      await this.persist(id, accepted);
      const accept = {
        $case: "accept",
        value: { ...base, count: 0n, seq: BigInt(seq), deps: wireDeps(final), name: key, value: Buffer.from(value) },
      } as const;
      await this.ask(accept, (replies) => {
        const yes = [...replies.values()].filter((reply) => reply.ok).length;
        return yes + 1 >= slow ? "done" : "wait";
      });
      this.runtime.metrics.count("path.slow");
    }
    const committed: Instance = { ...proposed, ...final, status: Status.COMMITTED };
    await this.persist(id, committed);
    this.committed(id, this.record(id, committed));
    const commit = {
      $case: "commit",
      value: { ...base, name: key, value: Buffer.from(value), seq: BigInt(final.seq), deps: wireDeps(final) },
    } as const;
    for (const peer of this.runtime.peers.names) void this.tell(peer, commit);
  }

  /**
   * Asks every peer, and again those that did not answer, until `enough`
   * says "done", or says "enough" once every peer asked has answered or
   * failed; resolves with the answers. Rejects once the replica closes.
   */
  private async ask<M extends RequestMessage>(
    message: M,
    enough: (replies: Map<string, ReplyTo<M>>) => "done" | "enough" | "wait",
  ): Promise<Map<string, ReplyTo<M>>> {
    const replies = new Map<string, ReplyTo<M>>();
    const { peers } = this.runtime;
    const { retry } = this.options;
    for (;;) {
      if (this.closed) throw new Error("the replica is closing");
      const asked = peers.names.filter((peer) => !replies.has(peer));
      const decided = await new Promise<boolean>((resolve) => {
        let open = asked.length;
        const settle = () => {
          if (enough(replies) === "done") resolve(true);
          else if (--open <= 0) resolve(enough(replies) !== "wait");
        };
        if (open === 0) resolve(enough(replies) !== "wait");
        for (const peer of asked) {
          peers.send(peer, message, { timeout: retry }).then((reply) => {
            replies.set(peer, reply);
            settle();
          }, settle);
        }
      });
      if (decided) return replies;
      await this.sleep(retry);
    }
  }

  /** Sends a Commit to `peer` until it is acknowledged (nothing else brings a replica a commit it missed yet). */
  private async tell(peer: string, commit: RequestMessage): Promise<void> {
    while (!this.closed) {
      try {
        await this.runtime.peers.send(peer, commit, { timeout: this.options.retry });
        return;
      } catch {
        await this.sleep(this.options.retry);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.runtime.clock.setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  /** Holds `instance` as the state of `id`, and lists it for the attributes of later commands. */
  private record(id: InstanceId, instance: Instance): Instance {
    this.instances.set(idKey(id), instance);
    this.conflicts.add(id, instance.command, instance.seq);
    return instance;
  }

  /** Appends the state of `id` to the write-ahead log; resolves once it is durable as `--fsync` says. */
  private async persist(id: InstanceId, instance: Instance): Promise<void> {
    const { command, seq, deps, status, ballot } = instance;
    const record = {
      id,
      ballot: BigInt(ballot),
      status,
      name: command.key,
      value: Buffer.from(command.value),
      seq: BigInt(seq),
      deps: { ids: [...deps] },
    };
    await this.wal?.append(InstanceRecord.encode(record).finish());
  }

  /** A committed instance: it covers its deps for later commands, and it executes with what waited on it. */
  private committed(id: InstanceId, instance: Instance): void {
    this.conflicts.committed(instance.command, instance.deps);
    this.execute(id);
    const key = idKey(id);
    const waiting = this.blocked.get(key);
    if (waiting === undefined) return;
    this.blocked.delete(key);
    for (const start of waiting.values()) this.execute(start);
  }

  /** Executes `start` if it can; otherwise waits for the instance it reaches that is not committed. */
  private execute(start: InstanceId): void {
    const missing = this.executor.execute(start);
    if (missing === undefined) return;
    let waiting = this.blocked.get(idKey(missing));
    if (waiting === undefined) this.blocked.set(idKey(missing), (waiting = new Map()));
    waiting.set(idKey(start), start);
  }

  /** Runs an instance's command on the store; its client, if waiting here, hears the key's value. */
  private apply(id: InstanceId, instance: Instance): void {
    const { key, value } = instance.command;
    if (!isRead(instance.command)) this.store.set(key, Buffer.from(value));
    const waiter = this.waiting.get(idKey(id));
    if (waiter === undefined) return;
    this.waiting.delete(idKey(id));
    waiter.resolve({ value: this.get(key), seq: instance.seq });
  }
}

function wireDeps(attributes: Attributes): Buffer {
  return Buffer.from(encodeDeps(attributes.deps));
}

function idOf(key: number): InstanceId {
  return { replica: Math.floor(key / 2 ** 32), instance: key % 2 ** 32 };
}

/** A ProposeReply with defaults for what `fields` leaves out. */
function reply(fields: Partial<ProposeReply>): ProposeReply {
  return { success: false, redirect: "", error: "", seq: 0n, leader: 0, name: "", value: EMPTY, ...fields };
}
