// One replica's ePaxos: command leader for what its own clients propose (any
// replica takes any command: no leader to redirect to), and acceptor of the
// other leaders' instances. A command leader gathers the commands proposed
// while its instances in flight fill its window into one instance (a batch:
// fewer messages per command under load), and PreAccepts them with the
// attributes it knows of; if a fast quorum (itself among them) answers with
// the attributes unchanged it commits at once (the fast path), otherwise it
// Accepts the union of what a majority answered (the slow path) and commits
// once a majority accepted. It broadcasts the commit; every replica executes
// committed instances in dependency order (execution.ts), and the client is
// answered once its command has executed here. What an acceptor pre-accepts
// or accepts, and what anyone commits, is in the write-ahead log before it
// answers or executes. Time, timers and randomness come from the Runtime,
// so a simulation replays a run exactly.
//
// Recovery: a replica that waits too long on an instance (it voted for it,
// or something committed here depends on it) without seeing it committed,
// or a command leader restarted with its own open, runs Prepare at a ballot
// of its own, then what recovery.ts plans from a majority's answers; its
// wait is drawn at random, so that duelling recoverers back off.
//
// Compaction: PreAccepts, their replies and Commits carry how far their
// sender executed each instance space (Progress). An instance every replica
// executed is forgotten: no replica will recover it, and a late message
// about it is answered as about a committed one. Once the log has grown by
// the disk's snapshotEvery bytes, the store and what it reflects go to a
// snapshot, and the log is rewritten with the instances still held.
import type { Timer } from "../clock.js";
import type { Runtime } from "../context.js";
import type { ProposeReply, ProposeRequest } from "../pb/client.js";
import {
  type AcceptReply,
  type AcceptRequest,
  type CommitRequest,
  type PreAcceptReply,
  type PreAcceptRequest,
  type PrepareReply,
  type PrepareRequest,
  type Progress,
  Status,
} from "../pb/epaxos.js";
import { InstanceRecord, Snapshot } from "../pb/wal.js";
import type { RequestMessage, ReplyTo } from "../peers.js";
import { readRecord, Wal, writeRecord } from "../wal.js";
import { Executor } from "./execution.js";
import {
  type Attributes,
  type Batch,
  type Command,
  Conflicts,
  decodeBatch,
  decodeDeps,
  encodeBatch,
  encodeDeps,
  idKey,
  type Instance,
  type InstanceId,
  isRead,
  merge,
  NOOP,
  sameAttributes,
} from "./instances.js";
import { type Quorums, quorums } from "./quorum.js";
import { nextBallot, plan, type Vote } from "./recovery.js";

export interface EPaxosOptions {
  /** Milliseconds a command leader waits for a peer's answer before it asks that peer again (default 250). */
  retry?: number;
  /** Milliseconds, at least, an instance stays open here before this replica recovers it; drawn up to twice that (default 1000). */
  recover?: number;
  /** Instances this replica leads at once, from PreAccept to commit; the commands proposed meanwhile wait (default 4). */
  window?: number;
  /** Commands in one instance at most (default 100). */
  batch?: number;
}

const EMPTY = Buffer.alloc(0);
/** The file of the last compaction's snapshot, beside the log. */
const SNAPSHOT = "snapshot";
/** Commits a restarted replica sends a peer at once. */
const RETELL = 64;

/** What a client waiting on its command hears once it executed here: the key's value then, and the command's seq. */
interface Outcome {
  value: Buffer;
  seq: number;
}

/** A client's command, and how to answer the client. */
interface Waiter {
  readonly command: Command;
  resolve(outcome: Outcome): void;
  reject(error: Error): void;
}

export class EPaxos {
  private readonly options: Required<EPaxosOptions>;
  private readonly instances = new Map<number, Instance>();
  private readonly conflicts = new Conflicts();
  private readonly executor: Executor;
  private readonly store = new Map<string, Buffer>();
  /** Commands proposed here and not yet in an instance: the next batch. */
  private readonly queue: Waiter[] = [];
  /** The clients of each instance this replica leads, one per command, until it executes. */
  private readonly waiting = new Map<number, Waiter[]>();
  /** Instances this replica leads that are not yet committed (at most `window`). */
  private inflight = 0;
  private flushing = false;
  /** Committed instances whose execution waits on an instance not committed here, by that instance. */
  private readonly blocked = new Map<number, Map<number, InstanceId>>();
  private readonly timers = new Set<Timer>();
  /** The command leader's fast-path commits on their way to the log: a Prepare waits for them, and then sees the commit. */
  private readonly deciding = new Map<number, Promise<void>>();
  /** Instances with a recovery timer set, or a recovery running, here. */
  private readonly watched = new Set<number>();
  /** Per instance, the highest ballot a refusal showed: the next recovery runs above it. */
  private readonly refused = new Map<number, number>();
  private names: string[] = [];
  private index = 0;
  private quorums: Quorums = quorums(1);
  /** The next instance of this replica's instance space. */
  private next = 0;
  /** Per instance space (by replica index), the instances below this one are forgotten: every replica executed them. */
  private forgotten: number[] = [];
  /** Per other replica (by index), how far it said it executed each instance space. */
  private readonly progress = new Map<number, number[]>();
  /** The last record appended to the log for each instance held: what a compaction rewrites the log with. */
  private readonly logged = new Map<number, Uint8Array>();
  private compacting = false;
  private wal: Wal | undefined;
  private closed = false;

  constructor(
    private readonly runtime: Runtime,
    options: EPaxosOptions = {},
  ) {
    this.options = { retry: 250, recover: 1000, window: 4, batch: 100, ...options };
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
    this.forgotten = this.names.map(() => 0);
    if (runtime.disk === undefined) return [];
    const snapshot = await readRecord(runtime.disk, SNAPSHOT);
    if (snapshot !== undefined) this.install(Snapshot.decode(snapshot));
    const { wal, records, notice } = await Wal.open(runtime.disk, "wal");
    this.wal = wal;
    // An instance's last record is its state. A log that a crash kept from being rewritten still holds forgotten ones.
    for (const bytes of records) {
      const record = InstanceRecord.decode(bytes);
      const id = { replica: record.id!.replica, instance: record.id!.instance };
      if (this.isForgotten(id)) continue;
      this.logged.set(idKey(id), bytes);
      const instance: Instance = {
        commands: decodeBatch(record),
        seq: Number(record.seq),
        deps: [...(record.deps?.ids ?? [])],
        status: record.status,
        ballot: Number(record.ballot),
        vbal: Number(record.vbal),
      };
      // The snapshot's store reflects it already.
      if (instance.status >= Status.COMMITTED && this.executor.executed.has(id)) instance.status = Status.EXECUTED;
      this.instances.set(idKey(id), instance);
      this.conflicts.add(id, instance.commands, instance.seq);
      if (id.replica === this.index) this.next = Math.max(this.next, id.instance + 1);
    }
    this.next = Math.max(this.next, this.forgotten[this.index]!);
    for (const [key, instance] of this.instances) {
      if (instance.status >= Status.COMMITTED) this.committed(idOf(key), instance);
      // Open here: its own are recovered soon (nobody else may know of them), the others' after the usual wait.
      else this.watch(idOf(key), idOf(key).replica === this.index);
    }
    // The Commits it was still sending when it stopped are lost with the process: send every one it holds again.
    const committed = [...this.instances].filter(([, instance]) => instance.status >= Status.COMMITTED);
    for (const peer of runtime.peers.names) void this.retell(peer, committed);
    return notice === undefined ? [] : [notice];
  }

  /** A client's command: this replica leads the instance it goes into, and answers once it executed here. */
  async propose(request: ProposeRequest): Promise<ProposeReply> {
    const { metrics } = this.runtime;
    const command: Command = { key: request.name, value: request.value };
    try {
      if (this.closed) throw new Error("the replica is closing");
      const executed = new Promise<Outcome>((resolve, reject) => this.queue.push({ command, resolve, reject }));
      this.flushSoon();
      const { value, seq } = await executed;
      metrics.complete(true);
      return reply({ success: true, seq: BigInt(seq), leader: this.index, name: request.name, value });
    } catch (error) {
      metrics.complete(false);
      return reply({ error: `not committed: ${(error as Error).message}`, leader: this.index });
    }
  }

  /** Flushes the queue once the commands that arrive in this turn are in it. */
  private flushSoon(): void {
    if (this.flushing) return;
    this.flushing = true;
    void this.sleep(0).then(() => {
      this.flushing = false;
      this.flush();
    });
  }

  /** Opens instances for the queued commands, a batch each, while the window has room. */
  private flush(): void {
    while (!this.closed && this.inflight < this.options.window && this.queue.length > 0) {
      this.inflight++;
      void this.open(this.queue.splice(0, this.options.batch)).finally(() => {
        this.inflight--;
        this.flush();
      });
    }
  }

  /** Leads a new instance of `batch`'s commands until it is committed (or a recoverer took it over). */
  private async open(batch: Waiter[]): Promise<void> {
    const id = { replica: this.index, instance: this.next++ };
    const commands = batch.map((waiter) => waiter.command);
    this.waiting.set(idKey(id), batch);
    try {
      const instance = this.record(id, {
        commands,
        ...this.conflicts.attributes(id, commands),
        status: Status.PREACCEPTED,
        ballot: 0,
        vbal: 0,
      });
      await this.persist(id, instance);
      this.watch(id);
      // Returns early if a recoverer took the instance over: its commit (or no-op) still executes here.
      await this.lead(id, instance);
    } catch (error) {
      this.waiting.delete(idKey(id));
      for (const waiter of batch) waiter.reject(error as Error);
    }
  }

  /**
   * PreAccept, as an acceptor: the leader's (or a recoverer's) attributes
   * merged with what this replica knows, once durable; PREACCEPTED_EQ when
   * that left the command leader's own (ballot 0) unchanged.
   */
  async preAccept(request: PreAcceptRequest): Promise<PreAcceptReply> {
    const id = { replica: request.replica, instance: request.instance };
    const ballot = Number(request.ballot);
    this.learn(request.leaderId, request.progress);
    const known = this.instances.get(idKey(id));
    const answer = (ok: boolean, at: number, attributes: Attributes | undefined): PreAcceptReply => ({
      replica: id.replica,
      instance: id.instance,
      ok,
      ballot: BigInt(at),
      seq: BigInt(attributes?.seq ?? 0),
      deps: Buffer.from(encodeDeps(attributes?.deps ?? [])),
      committedDeps: EMPTY,
      progress: this.progressOut(),
    });
    // Refused: promised higher, or decided already (a recoverer's Prepare will say so).
    if (this.isForgotten(id)) return answer(false, 0, undefined);
    if (known !== undefined && (known.ballot > ballot || known.status >= Status.COMMITTED)) {
      return answer(false, known.ballot, undefined);
    }
    // Asked again at the ballot it voted at (its answer was lost): the same answer, or what it holds since, once
    // durable (the first answer's record may still be on its way: this one, in order after it, waits for both).
    if (known !== undefined && known.status !== Status.NONE && known.vbal === ballot) {
      await this.persist(id, known);
      return answer(true, ballot, known);
    }
    const commands = decodeBatch(request);
    const leader = { seq: Number(request.seq), deps: decodeDeps(request.deps) };
    const { seq, deps, changed } = merge(leader, this.conflicts.attributes(id, commands));
    const status = ballot === 0 && !changed ? Status.PREACCEPTED_EQ : Status.PREACCEPTED;
    const instance = this.record(id, { commands, seq, deps, status, ballot, vbal: ballot });
    this.watch(id);
    await this.persist(id, instance);
    return answer(true, ballot, instance);
  }

  /** Accept, as an acceptor: the leader's (or a recoverer's) final attributes, once durable. */
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
    if (this.isForgotten(id)) return answer(true, ballot);
    if (known !== undefined && known.ballot > ballot) return answer(false, known.ballot);
    if (known !== undefined && known.status >= Status.COMMITTED) return answer(true, ballot);
    const attributes = { seq: Number(request.seq), deps: decodeDeps(request.deps) };
    const instance = this.record(id, {
      commands: decodeBatch(request),
      ...attributes,
      status: Status.ACCEPTED,
      ballot,
      vbal: ballot,
    });
    this.watch(id);
    await this.persist(id, instance);
    return answer(true, ballot);
  }

  /**
   * Prepare, as an acceptor: promises `ballot` (durably) and answers with its
   * last vote, or refuses if it promised higher. An instance never heard of
   * is held from now on as promised, so the command leader's late PreAccept
   * at ballot 0 is refused here too.
   */
  async prepare(request: PrepareRequest): Promise<PrepareReply> {
    const id = { replica: request.replica, instance: request.instance };
    const key = idKey(id);
    const ballot = Number(request.ballot);
    // The command leader decided its fast path before this promise: answer with that commit, once durable.
    await this.deciding.get(key);
    const known = this.instances.get(key);
    const answer = (ok: boolean, at: number, vote: Instance | undefined): PrepareReply => ({
      acceptorId: this.index,
      replica: id.replica,
      instance: id.instance,
      ok,
      ballot: BigInt(at),
      status: vote?.status ?? Status.NONE,
      ...(vote === undefined ? { name: "", value: EMPTY, commands: [], noop: false } : encodeBatch(vote.commands)),
      seq: BigInt(vote?.seq ?? 0),
      deps: Buffer.from(encodeDeps(vote?.deps ?? [])),
      vbal: BigInt(vote?.vbal ?? 0),
    });
    // Executed everywhere: nobody is left to recover it for.
    if (this.isForgotten(id)) return answer(false, 0, undefined);
    if (known !== undefined && known.status >= Status.COMMITTED) return answer(true, known.ballot, { ...known });
    if (known !== undefined && known.ballot > ballot) return answer(false, known.ballot, undefined);
    const vote = known === undefined || known.status === Status.NONE ? undefined : { ...known };
    // The promise holds from here, before any await: a vote at a lower ballot is refused from now on.
    const promised =
      known ?? this.record(id, { commands: NOOP, seq: 0, deps: [], status: Status.NONE, ballot, vbal: 0 });
    promised.ballot = ballot;
    this.watch(id);
    await this.persist(id, promised);
    return answer(true, ballot, vote);
  }

  /** Commit: the instance's final commands and attributes, executed here once durable. */
  async commit(request: CommitRequest): Promise<void> {
    const id = { replica: request.replica, instance: request.instance };
    this.learn(request.leaderId, request.progress);
    if (this.statusOf(id) >= Status.COMMITTED) return;
    const known = this.instances.get(idKey(id));
    const instance: Instance = {
      commands: decodeBatch(request),
      seq: Number(request.seq),
      deps: decodeDeps(request.deps),
      status: Status.COMMITTED,
      ballot: known?.ballot ?? 0,
      vbal: known?.vbal ?? 0,
    };
    await this.persist(id, instance);
    // Committed meanwhile, by a Commit that came again.
    if (this.statusOf(id) >= Status.COMMITTED) return;
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
    const closing = new Error("the replica is closing");
    for (const { reject } of [...this.queue.splice(0), ...[...this.waiting.values()].flat()]) reject(closing);
    this.waiting.clear();
    await this.wal?.close();
  }

  /**
   * The command leader's part at ballot 0, from its PreAccept to its Commit
   * (which goes on in the background). It stops without committing once a
   * recoverer has taken the instance over: a peer refuses it, or this
   * replica promised a higher ballot itself.
   */
  private async lead(id: InstanceId, proposed: Instance): Promise<void> {
    const { fast, slow } = this.quorums;
    const peers = this.names.length - 1;
    const key = idKey(id);
    const base = { leaderId: this.index, replica: id.replica, instance: id.instance, ballot: 0n };
    const preAccept = {
      $case: "preAccept",
      value: {
        ...base,
        ...encodeBatch(proposed.commands),
        seq: BigInt(proposed.seq),
        deps: wireDeps(proposed),
        progress: this.progressOut(),
      },
    } as const;
    const unchanged = (reply: PreAcceptReply) =>
      sameAttributes(proposed, { seq: Number(reply.seq), deps: decodeDeps(reply.deps) });
    const answers = await this.ask(preAccept, (replies) => {
      const ok = [...replies.values()].filter((reply) => reply.ok);
      if (ok.length < replies.size) return "done";
      const same = ok.filter(unchanged).length;
      // Fast once a fast quorum agrees; slow once a majority answered and a fast quorum no longer can agree.
      if (same + 1 >= fast) return "done";
      const couldAgree = same + (peers - replies.size) + 1 >= fast;
      return ok.length + 1 >= slow ? (couldAgree ? "enough" : "done") : "wait";
    });
    for (const [peer, reply] of answers) this.learn(this.names.indexOf(peer), reply.progress);
    const ok = [...answers.values()].filter((reply) => reply.ok);
    // Still this leader's own, at ballot 0: checked with no await before the decision is held, as a Prepare is answered.
    const now = this.instances.get(key);
    if (ok.length < answers.size || now?.ballot !== 0 || now.status !== Status.PREACCEPTED) return;
    // The commits this replica led, by path, in its metrics (consensus bench prints their shares).
    if (ok.filter(unchanged).length + 1 >= fast) {
      this.runtime.metrics.count("path.fast");
      const decided = this.decide(id, { ...proposed, status: Status.COMMITTED });
      this.deciding.set(key, decided);
      await decided.finally(() => this.deciding.delete(key));
      this.tellCommit(id, proposed.commands, proposed);
      return;
    }
    const final = joined(proposed, ok);
    const accepted = this.record(id, { ...proposed, ...final, status: Status.ACCEPTED, vbal: 0 });
    await this.persist(id, accepted);
    // A majority accepting at ballot 0 decides, whatever was promised since: a recoverer finds the vote.
    if (!(await this.acceptRound(id, 0, proposed.commands, final))) return;
    this.runtime.metrics.count("path.slow");
    await this.decide(id, { ...proposed, ...final, status: Status.COMMITTED });
    this.tellCommit(id, proposed.commands, final);
  }

  /** The Accept of `commands` with `attributes` for instance `id` at `ballot`, as sent and as taken here. */
  private acceptRequest(id: InstanceId, ballot: number, commands: Batch, attributes: Attributes): AcceptRequest {
    return {
      leaderId: this.index,
      replica: id.replica,
      instance: id.instance,
      ballot: BigInt(ballot),
      count: 0n,
      seq: BigInt(attributes.seq),
      deps: wireDeps(attributes),
      ...encodeBatch(commands),
    };
  }

  /** Asks the peers to Accept at `ballot`; whether a majority (this replica among it) did, before any refused. */
  private async acceptRound(id: InstanceId, ballot: number, commands: Batch, attributes: Attributes): Promise<boolean> {
    const { slow } = this.quorums;
    const accept = { $case: "accept", value: this.acceptRequest(id, ballot, commands, attributes) } as const;
    const replies = await this.ask(accept, (replies) => {
      const yes = [...replies.values()].filter((reply) => reply.ok).length;
      return yes < replies.size || yes + 1 >= slow ? "done" : "wait";
    });
    return this.accepted(id, replies);
  }

  /** Whether every answer said yes; if one refused, remembers its ballot for the next recovery. */
  private accepted(id: InstanceId, replies: Map<string, { ok: boolean; ballot: bigint }>): boolean {
    let ok = true;
    for (const reply of replies.values()) {
      if (reply.ok) continue;
      ok = false;
      this.refused.set(idKey(id), Math.max(this.refused.get(idKey(id)) ?? 0, Number(reply.ballot)));
    }
    return ok;
  }

  /** Logs `instance` (committed) and then holds and executes it, unless a Commit got here first. */
  private async decide(id: InstanceId, instance: Instance): Promise<void> {
    await this.persist(id, instance);
    if (this.statusOf(id) >= Status.COMMITTED) return;
    this.committed(id, this.record(id, instance));
  }

  private tellCommit(id: InstanceId, commands: Batch, attributes: Attributes): void {
    const commit = commitMessage(this.index, id, commands, attributes, this.progressOut());
    for (const peer of this.runtime.peers.names) void this.tell(peer, commit);
  }

  /**
   * Recovers `id` after a wait drawn in [recover, 2 recover) ms (or soon,
   * for `soon`), unless it is committed here by then; again after each
   * recovery that did not commit it (refused, or cut off), until it is.
   */
  private watch(id: InstanceId, soon = false): void {
    const key = idKey(id);
    if (this.closed || this.watched.has(key)) return;
    this.watched.add(key);
    const { recover, retry } = this.options;
    const wait = soon ? retry * this.runtime.random() : recover * (1 + this.runtime.random());
    void this.sleep(wait).then(async () => {
      if (this.closed) return;
      try {
        if (this.statusOf(id) < Status.COMMITTED) await this.recover(id);
      } catch {
        // Closing: nothing more to do.
      } finally {
        this.watched.delete(key);
      }
      if (this.statusOf(id) < Status.COMMITTED) this.watch(id);
    });
  }

  /** One recovery of `id`: Prepare at a ballot of this replica's, then the step recovery.ts plans; resolves either way. */
  private async recover(id: InstanceId): Promise<void> {
    const key = idKey(id);
    const seen = Math.max(this.instances.get(key)?.ballot ?? 0, this.refused.get(key) ?? 0);
    const ballot = nextBallot(seen, this.index);
    const request = { leaderId: this.index, replica: id.replica, instance: id.instance, ballot: BigInt(ballot) };
    const own = await this.prepare(request);
    if (!own.ok) return;
    const { slow } = this.quorums;
    const replies = await this.ask({ $case: "prepare", value: request }, (replies) => {
      const yes = [...replies.values()].filter((reply) => reply.ok).length;
      return yes < replies.size || yes + 1 >= slow ? "done" : "wait";
    });
    if (!this.accepted(id, replies)) return;
    this.runtime.metrics.count("recovery.prepared");
    const votes = [own, ...replies.values()].map(voteOf);
    const next = plan(votes, id.replica, slow);
    this.runtime.metrics.count(`recovery.${next.step}`);
    const commands = next.step === "noop" ? NOOP : next.commands;
    let attributes: Attributes = next.step === "noop" ? { seq: 0, deps: [] } : next.attributes;
    if (next.step === "preAccept") {
      const preAccept = {
        leaderId: this.index,
        replica: id.replica,
        instance: id.instance,
        ballot: BigInt(ballot),
        ...encodeBatch(commands),
        seq: BigInt(attributes.seq),
        deps: wireDeps(attributes),
        progress: this.progressOut(),
      };
      const mine = await this.preAccept(preAccept);
      if (!mine.ok) return;
      const answers = await this.ask({ $case: "preAccept", value: preAccept }, (replies) => {
        const yes = [...replies.values()].filter((reply) => reply.ok).length;
        return yes < replies.size || yes + 1 >= slow ? "done" : "wait";
      });
      if (!this.accepted(id, answers)) return;
      // The slow path always, at a recoverer's ballot: the union of what a majority answered.
      attributes = joined(attributes, [mine, ...answers.values()]);
    }
    if (next.step !== "commit") {
      if (!(await this.accept(this.acceptRequest(id, ballot, commands, attributes))).ok) return;
      if (!(await this.acceptRound(id, ballot, commands, attributes))) return;
    }
    const known = this.instances.get(key);
    await this.decide(id, {
      commands,
      ...attributes,
      status: Status.COMMITTED,
      ballot: known?.ballot ?? ballot,
      vbal: known?.vbal ?? ballot,
    });
    this.tellCommit(id, commands, attributes);
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

  /** Sends a Commit to `peer` until it is acknowledged (else the peer learns it only by recovering the instance). */
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

  /** Sends `instances`' Commits to `peer`, RETELL at a time (so that they pipeline), each until acknowledged. */
  private async retell(peer: string, instances: readonly [number, Instance][]): Promise<void> {
    for (let i = 0; i < instances.length && !this.closed; i += RETELL) {
      await Promise.all(
        instances
          .slice(i, i + RETELL)
          .map(([key, { commands, seq, deps }]) =>
            this.tell(peer, commitMessage(this.index, idOf(key), commands, { seq, deps }, this.progressOut())),
          ),
      );
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
    this.conflicts.add(id, instance.commands, instance.seq);
    return instance;
  }

  /** Appends the state of `id` to the write-ahead log; resolves once it is durable as `--fsync` says. */
  private async persist(id: InstanceId, instance: Instance): Promise<void> {
    if (this.wal === undefined) return;
    const { commands, seq, deps, status, ballot, vbal } = instance;
    const record = {
      id,
      ballot: BigInt(ballot),
      status,
      ...encodeBatch(commands),
      seq: BigInt(seq),
      deps: { ids: [...deps] },
      vbal: BigInt(vbal),
    };
    const bytes = InstanceRecord.encode(record).finish();
    this.logged.set(idKey(id), bytes);
    const appended = this.wal.append(bytes);
    void this.compact();
    await appended;
  }

  /** Whether every replica executed `id`, and this one forgot it. */
  private isForgotten(id: InstanceId): boolean {
    return id.instance < (this.forgotten[id.replica] ?? 0);
  }

  /** The status of `id` here: a forgotten instance was executed. */
  private statusOf(id: InstanceId): Status {
    return this.isForgotten(id) ? Status.EXECUTED : (this.instances.get(idKey(id))?.status ?? Status.NONE);
  }

  /** What this replica tells the others of its progress: how far it executed each space, and forgot. */
  private progressOut(): Progress {
    return { executed: this.names.map((_, r) => this.executor.executed.below(r)), stable: [...this.forgotten] };
  }

  /**
   * Takes in what replica `from` said of its progress, and forgets what every
   * replica is now known to have executed: below the lowest watermark of a
   * space, or below what `from` forgot of it (never past this replica's own).
   */
  private learn(from: number, progress: Progress | undefined): void {
    if (progress === undefined || from === this.index || this.names[from] === undefined) return;
    const known = this.progress.get(from) ?? this.names.map(() => 0);
    this.progress.set(from, known);
    progress.executed.forEach((below, r) => r < known.length && (known[r] = Math.max(known[r]!, below)));
    for (let r = 0; r < this.names.length; r++) {
      const own = this.executor.executed.below(r);
      let lowest = own;
      for (let other = 0; other < this.names.length; other++) {
        if (other !== this.index) lowest = Math.min(lowest, this.progress.get(other)?.[r] ?? 0);
      }
      this.forget(r, Math.min(own, Math.max(lowest, progress.stable[r] ?? 0)));
    }
  }

  /** Forgets the instances of space `replica` below `below`. */
  private forget(replica: number, below: number): void {
    for (let instance = this.forgotten[replica]!; instance < below; instance++) {
      this.instances.delete(idKey({ replica, instance }));
    }
    this.forgotten[replica] = Math.max(this.forgotten[replica]!, below);
  }

  /**
   * Once the log has grown by the disk's snapshotEvery bytes: writes the
   * store and the executed and forgotten instances it reflects to the
   * snapshot, then rewrites the log with the last record of each instance
   * not forgotten when the snapshot was taken. A crash between the two
   * leaves the snapshot and the longer log, which start() reads the same.
   */
  private async compact(): Promise<void> {
    const { disk } = this.runtime;
    if (disk === undefined || this.wal === undefined || this.compacting || this.wal.grown < disk.snapshotEvery) return;
    this.compacting = true;
    try {
      const snapshot = this.snapshot();
      const forgotten = (id: InstanceId) => id.instance < (snapshot.forgotten[id.replica] ?? 0);
      await writeRecord(disk, SNAPSHOT, Snapshot.encode(snapshot).finish());
      for (const key of this.logged.keys()) if (forgotten(idOf(key))) this.logged.delete(key);
      await this.wal.rewrite([...this.logged.values()]);
      this.runtime.metrics.count("compactions");
    } catch {
      // The disk failed: the replica stops (see Replica).
    } finally {
      this.compacting = false;
    }
  }

  /** The store, and which instances it reflects (executed here) and which are forgotten. */
  private snapshot(): Snapshot {
    const { executed } = this.executor;
    return {
      store: [...this.store].map(([key, value]) => ({ key, value })),
      executed: this.names.map((_, r) => executed.below(r)),
      above: [...executed.aboveIds()],
      forgotten: [...this.forgotten],
    };
  }

  /** Starts from a snapshot: its store, executed set and forgotten instances. */
  private install(snapshot: Snapshot): void {
    for (const { key, value } of snapshot.store) this.store.set(key, value);
    this.executor.executed.restore(snapshot.executed, snapshot.above);
    snapshot.forgotten.forEach((below, r) => r < this.forgotten.length && (this.forgotten[r] = below));
  }

  /** A committed instance: it covers its deps for later commands, and it executes with what waited on it. */
  private committed(id: InstanceId, instance: Instance): void {
    this.refused.delete(idKey(id));
    this.conflicts.committed(instance.commands, instance.deps);
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
    this.watch(missing);
  }

  /**
   * Runs an instance's commands on the store, in order; the client of each,
   * if waiting here, hears the key's value right after its command. A no-op
   * runs as nothing, and the clients whose batch recovery replaced by it
   * hear that it was not committed.
   */
  private apply(id: InstanceId, instance: Instance): void {
    const waiters = this.waiting.get(idKey(id));
    this.waiting.delete(idKey(id));
    instance.commands.forEach((command, i) => {
      if (!isRead(command)) this.store.set(command.key, Buffer.from(command.value));
      waiters?.[i]?.resolve({ value: this.get(command.key), seq: instance.seq });
    });
    if (instance.commands.length > 0) return;
    for (const waiter of waiters ?? []) waiter.reject(new Error("recovery committed a no-op in its place"));
  }
}

/** The Commit of `id` as replica `from` sends it, with its progress. */
function commitMessage(from: number, id: InstanceId, commands: Batch, attributes: Attributes, progress: Progress) {
  return {
    $case: "commit",
    value: {
      leaderId: from,
      replica: id.replica,
      instance: id.instance,
      ...encodeBatch(commands),
      seq: BigInt(attributes.seq),
      deps: wireDeps(attributes),
      progress,
    },
  } as const;
}

/** A Prepare answer as recovery.ts reads it. */
function voteOf(reply: PrepareReply): Vote {
  const known = reply.status !== Status.NONE;
  return {
    from: reply.acceptorId,
    status: reply.status,
    vbal: Number(reply.vbal),
    commands: known ? decodeBatch(reply) : undefined,
    seq: Number(reply.seq),
    deps: decodeDeps(reply.deps),
  };
}

/** `start` with every answer's attributes merged in: the highest seq, the union of the deps (the slow path's). */
function joined(start: Attributes, answers: Iterable<{ seq: bigint; deps: Uint8Array }>): Attributes {
  let { seq, deps } = start;
  for (const answer of answers)
    ({ seq, deps } = merge({ seq, deps }, { seq: Number(answer.seq), deps: decodeDeps(answer.deps) }));
  return { seq, deps };
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
