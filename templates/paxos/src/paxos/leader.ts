// The leader (proposer) of one ballot. Phase 1 makes it leader: a majority
// promises the ballot and reports what it accepted in the open slots, whose
// values it proposes again so nothing a previous leader may have chosen is
// lost. Phase 2 then runs for new slots without a new phase 1: up to
// `window` slots in flight at once, each holding the batch of commands that
// queued while the window was full (or arrived in one turn of the event loop).
import type { Timer } from "../clock.js";
import type { Runtime } from "../context.js";
import type { AcceptRequest, Command, PrepareReply, PrepareRequest } from "../pb/paxos.js";
import type { Acceptor, Promise1b } from "./acceptor.js";
import type { Learner, Outcome } from "./learner.js";
import { NoQuorum, type Retry, votes } from "./votes.js";

export interface LeaderOptions {
  /** Milliseconds a phase waits for its majority (the election timeout). */
  readonly timeout: number;
  /** Milliseconds between two heartbeats (Commit messages) when no Accept went out; an unanswered Accept is sent again as often. */
  readonly heartbeat: number;
  /** Slots in phase 2 at once. */
  readonly window: number;
  /** Commands in one slot at most. */
  readonly batch: number;
}

/** What a leader needs from its replica. */
export interface Roles {
  readonly runtime: Runtime;
  readonly acceptor: Acceptor;
  readonly learner: Learner;
  /** A majority of the cluster, this replica included. */
  readonly majority: number;
  /** Called with every ballot heard from another replica: one above the leader's stops it. */
  observe(ballot: number): void;
  /** Whether this replica heard of a ballot above `ballot`: promised it, or saw it in any message. */
  outranked(ballot: number): boolean;
  /** The highest commit point this replica heard from a leader: every slot below it is chosen. */
  commitKnown(): number;
  /** Fetches chosen slots from `peer` until every slot below `below` is applied here; whether they are. */
  catchUp(peer: string, below: number): Promise<boolean>;
  /** Called when a phase 2 could not finish (no majority in time, or the disk failed): the leader is no use any more. */
  lost(): void;
  /** Why `peer`'s promise `reply` came from data older than what it is now known to have acknowledged, if it did (positions.ts). */
  stale(peer: string, prepare: { $case: "prepare"; value: PrepareRequest }, reply: PrepareReply): string | undefined;
}

type AcceptMessage = { $case: "accept"; value: AcceptRequest };

interface Queued {
  readonly command: Command;
  readonly resolve: (outcome: Outcome) => void;
}

export class Leader {
  private readonly queue: Queued[] = [];
  /** Open slots recovered by phase 1, proposed again before any new one (through the same window). */
  private readonly recovering: { slot: number; commands: readonly Command[] }[] = [];
  private reproposed = 0;
  private inflight = 0;
  /** A flush is due once the requests read in this turn have queued their commands. */
  private flushing: Timer | undefined;
  private stopped = false;
  private heartbeat: Timer | undefined;
  /** Whether an Accept went out since the last heartbeat: it carried the commit point. */
  private sent = false;
  /**
   * Slots proposed at this ballot that this replica has not (yet) durably accepted itself. Its commit
   * point stays below them: a follower that accepted such a slot at this ballot takes a commit point
   * past it for the leader's own acceptance (see positions.ts), and the learner may have applied it
   * already, chosen at an earlier ballot, while the leader's own Accept of it is still being written.
   */
  private readonly unaccepted = new Set<number>();
  /** When it won phase 1: a majority answered then. */
  private readonly elected: number;
  /** When each peer last said yes to an Accept or a heartbeat. */
  private readonly acks = new Map<string, number>();
  /** How phase 2 retransmits an Accept a peer has not answered. */
  private readonly retry: Retry;

  private constructor(
    readonly ballot: number,
    private readonly roles: Roles,
    private readonly options: LeaderOptions,
    private nextSlot: number,
  ) {
    const { clock } = roles.runtime;
    this.elected = clock.now();
    this.retry = { every: options.heartbeat, clock, abandoned: () => this.stopped };
  }

  /**
   * Phase 1 for `ballot`: resolves with the leader of that ballot, already
   * proposing the recovered values of the open slots, or with undefined when
   * no majority promised it in time.
   */
  static async elect(ballot: number, roles: Roles, options: LeaderOptions): Promise<Leader | undefined> {
    const { acceptor, learner, runtime, majority } = roles;
    const from = learner.applied;
    // `acknowledged` is filled in as it is sent (see positions.ts).
    const prepare = {
      $case: "prepare" as const,
      value: { ballot: BigInt(ballot), from: BigInt(from), acknowledged: [] },
    };
    let promises;
    try {
      promises = await votes(runtime.peers, prepare, majority - 1, options.timeout, (reply) => {
        if (!reply.ok) roles.observe(Number(reply.ballot));
        return reply.ok;
      });
    } catch (error) {
      if (error instanceof NoQuorum) return undefined;
      throw error;
    }
    // Its own promise last: a candidate that cannot win (cut off, or its peers follow a live leader)
    // leaves no higher promise behind, which would make it refuse the leader's Accepts once it hears them.
    const own = await acceptor.prepare(ballot, from);
    // Outranked meanwhile (a Commit is enough): that ballot's leader may have had slots chosen that these
    // promises, given before, do not show, and this replica may even have learned them. See learnCommit.
    if (!own.ok || roles.outranked(ballot)) return undefined;
    // A promise from a peer restarted on old data, which this replica learned of only after the promise was
    // counted (a refusal that came later says what the peer acknowledged): it may lack a chosen value.
    if ([...promises].some(([peer, reply]) => roles.stale(peer, prepare, reply) !== undefined)) return undefined;
    // The rest of each promise, a chunk per request, each in its own time however long the log.
    const ask = (peer: string, from: number) => {
      const more = { ...prepare, value: { ...prepare.value, from: BigInt(from) } };
      return runtime.peers.send(peer, more, { timeout: options.timeout }).then(promise1b);
    };
    let replies: { peer: string | undefined; reply: Promise1b }[];
    try {
      replies = await Promise.all([
        rest(undefined, own, (from) => acceptor.prepare(ballot, from)),
        ...[...promises].map(([peer, reply]) => rest(peer, promise1b(reply), (from) => ask(peer, from))),
      ]);
    } catch {
      return undefined; // a chunk did not come in time
    }
    for (const { reply } of replies) if (!reply.ok) roles.observe(reply.ballot);
    if (replies.some(({ reply }) => !reply.ok) || roles.outranked(ballot)) return undefined;
    // Slots an acceptor compacted are chosen, and it no longer reports them: fetch them first.
    const ahead = replies.reduce((a, b) => (b.reply.compacted > a.reply.compacted ? b : a));
    if (ahead.peer !== undefined && ahead.reply.compacted > learner.applied) {
      if (!(await roles.catchUp(ahead.peer, ahead.reply.compacted))) return undefined;
      if (roles.outranked(ballot)) return undefined; // as above
    }
    // Slots below `start` are chosen and known here: this leader proposes none of them at its ballot.
    const start = Math.max(from, learner.applied);
    // In each open slot, the value accepted at the highest ballot (Paxos's rule); a gap gets a no-op.
    const recovered = new Map<number, { ballot: number; commands: readonly Command[] }>();
    for (const entries of replies.map(({ reply }) => reply.accepted)) {
      for (const { slot, ballot, commands } of entries) {
        const known = recovered.get(Number(slot));
        if (known === undefined || Number(ballot) > known.ballot) {
          recovered.set(Number(slot), { ballot: Number(ballot), commands });
        }
      }
    }
    // New slots start above every slot known to be chosen: reported, learned, or below a commit point heard.
    const top = Math.max(start - 1, roles.commitKnown() - 1, ...recovered.keys());
    const leader = new Leader(ballot, roles, options, top + 1);
    for (let slot = start; slot <= top; slot++) {
      leader.recovering.push({ slot, commands: learner.chosenIn(slot) ?? recovered.get(slot)?.commands ?? [] });
    }
    leader.flush();
    leader.beat();
    return leader;
  }

  /** Queues `command` for the next slot with room; resolves once its slot is applied here. */
  submit(command: Command): Promise<Outcome> {
    if (this.stopped) return Promise.resolve({ applied: false });
    const outcome = new Promise<Outcome>((resolve) => this.queue.push({ command, resolve }));
    this.flushing ??= this.roles.runtime.clock.setTimeout(() => {
      this.flushing = undefined;
      this.flush();
    }, 0);
    return outcome;
  }

  /** Whether this leader still leads (it stops on a higher ballot, or without a majority). */
  get active(): boolean {
    return !this.stopped;
  }

  /** Stops leading: no more slots or heartbeats; queued commands were never proposed. */
  stop(): void {
    this.stopped = true;
    this.heartbeat?.cancel();
    this.flushing?.cancel();
    for (const { resolve } of this.queue.splice(0)) resolve({ applied: false });
  }

  /**
   * Opens slots while the window has room: the recovered ones first, then
   * the queued commands. A burst of recovered slots goes out no faster than
   * the acceptors answer, so none of them waits past its timeout in a queue.
   */
  private flush(): void {
    while (!this.stopped && this.inflight < this.options.window && this.reproposed < this.recovering.length) {
      const { slot, commands } = this.recovering[this.reproposed++]!;
      this.replicate(slot, commands);
    }
    while (!this.stopped && this.inflight < this.options.window && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.batch);
      const slot = this.nextSlot++;
      for (const { command, resolve } of batch) void this.roles.learner.wait(slot, command).then(resolve);
      this.replicate(
        slot,
        batch.map((queued) => queued.command),
      );
    }
  }

  /** Phase 2 for one slot: accepted here (on disk) and by a majority means chosen. */
  private replicate(slot: number, commands: readonly Command[]): void {
    const { acceptor, learner } = this.roles;
    this.inflight++;
    this.sent = true;
    this.unaccepted.add(slot); // before the commit point this Accept carries
    const accept = {
      $case: "accept" as const,
      value: {
        ballot: BigInt(this.ballot),
        slot: BigInt(slot),
        commands: [...commands],
        commit: BigInt(this.commitPoint()),
        acknowledged: [], // filled in as it is sent (see positions.ts)
      },
    };
    const own = acceptor.accept(slot, this.ballot, commands).then((vote) => {
      if (vote.ok) this.unaccepted.delete(slot);
      return vote;
    });
    Promise.all([own, this.accepted(accept)])
      .then(
        ([own]) => {
          // A majority accepted at this ballot: chosen, even if this leader has stopped meanwhile.
          if (own.ok) learner.choose(slot, commands);
          else this.roles.observe(own.ballot);
        },
        // This replica's own disk failed (it cannot lead), or the leader stopped.
        () => this.stopped || this.roles.lost(),
      )
      .finally(() => {
        this.inflight--;
        this.flush();
      });
  }

  /**
   * Resolves once a majority of the peers accepted `accept`: each is sent it
   * again while it does not answer (a lost message costs a retransmission,
   * not the lead), for as long as this leader leads. Rejects once it stops:
   * outranked, or no majority heard for an election timeout (see beat).
   */
  private async accepted(accept: AcceptMessage): Promise<void> {
    const { runtime, majority } = this.roles;
    for (;;) {
      try {
        await votes(runtime.peers, accept, majority - 1, this.options.timeout, this.yes, this.retry);
        return;
      } catch (error) {
        if (!(error instanceof NoQuorum) || this.stopped) throw error;
      }
    }
  }

  /** Counts a peer's answer to an Accept or a heartbeat: a yes is a sign of life, a no carries a higher ballot. */
  private readonly yes = (reply: { ok: boolean; ballot: bigint }, peer: string): boolean => {
    if (reply.ok) this.acks.set(peer, this.roles.runtime.clock.now());
    else this.roles.observe(Number(reply.ballot));
    return reply.ok;
  };

  /** When this leader last had a majority (itself included) answering: the oldest of the most recent acks that make one. */
  private heard(): number {
    const needed = this.roles.majority - 1;
    if (needed <= 0) return this.roles.runtime.clock.now();
    const recent = [...this.acks.values()].sort((a, b) => b - a);
    return Math.max(this.elected, recent[needed - 1] ?? -Infinity);
  }

  /** The commit point this leader tells: every slot below it is applied here, and accepted here if proposed at this ballot. */
  private commitPoint(): number {
    let point = this.roles.learner.applied;
    for (const slot of this.unaccepted) point = Math.min(point, slot);
    return point;
  }

  /**
   * Heartbeats: every `heartbeat` ms, a Commit to every peer unless an Accept
   * carried the commit point since. A leader that no majority answered for
   * an election timeout stops (its clients are better off redirected), as a
   * cut-off leader would otherwise keep taking commands it cannot commit.
   */
  private beat(): void {
    if (this.stopped) return;
    const { runtime, majority } = this.roles;
    const { heartbeat, timeout } = this.options;
    if (runtime.clock.now() - this.heard() > timeout) return this.roles.lost();
    if (!this.sent) {
      // `acknowledged` is filled in as it is sent (see positions.ts).
      const commit = {
        $case: "commit" as const,
        value: { ballot: BigInt(this.ballot), commit: BigInt(this.commitPoint()), acknowledged: [] },
      };
      // Its answers count as they come (this.yes); a missed one is made up by the next beats.
      votes(runtime.peers, commit, majority - 1, timeout, this.yes).catch(() => undefined);
    }
    this.sent = false;
    this.heartbeat = runtime.clock.setTimeout(() => this.beat(), heartbeat);
  }
}

/** A Prepare's reply as the acceptor gave it. */
function promise1b(reply: PrepareReply): Promise1b {
  const { ok, accepted } = reply;
  return { ok, ballot: Number(reply.ballot), accepted, next: Number(reply.next), compacted: Number(reply.compacted) };
}

/** `first` with the chunks that follow it, asked with `more` from each `next`, until the last one or a refusal. */
async function rest(
  peer: string | undefined,
  first: Promise1b,
  more: (from: number) => Promise<Promise1b>,
): Promise<{ peer: string | undefined; reply: Promise1b }> {
  const accepted = [...first.accepted];
  let reply = first;
  while (reply.ok && reply.next !== 0) {
    reply = await more(reply.next);
    accepted.push(...reply.accepted);
  }
  return { peer, reply: { ...reply, accepted, compacted: Math.max(first.compacted, reply.compacted) } };
}
