// One replica's Multi-Paxos: acceptor, learner, and leader when it wins an
// election. Followers redirect clients to the leader they follow; one that
// hears nothing from a leader for a randomized election timeout runs phase 1
// with a higher ballot. Slots below the leader's commit point are chosen:
// a follower applies those it accepted at the leader's ballot and fetches the
// others (catch-up); learnCommit says why that is safe. Once the log has
// grown by the disk's snapshotEvery bytes, the learner's state is written to
// a snapshot and the log compacted to what lies above it; a replica that asks
// for compacted slots gets the snapshot. Time, timers and randomness come
// from the Runtime, so a simulation replays a run exactly.
import type { Timer } from "../clock.js";
import type { Runtime } from "../context.js";
import type { ProposeReply, ProposeRequest } from "../pb/client.js";
import type {
  Acknowledged,
  AcceptReply,
  AcceptRequest,
  CatchUpReply,
  CatchUpRequest,
  CommitPoint,
  CommitReply,
  CommitRequest,
  PrepareReply,
  PrepareRequest,
} from "../pb/paxos.js";
import { Snapshot } from "../pb/paxos.js";
import { readRecord, writeRecord } from "../wal.js";
import { Acceptor } from "./acceptor.js";
import { MAX_REPLICAS, nextBallot, ownerOf } from "./ballot.js";
import { Leader, type LeaderOptions } from "./leader.js";
import { Learner } from "./learner.js";
import { Positions } from "./positions.js";

export interface PaxosOptions {
  /** Milliseconds without a word from the leader before a follower runs for it: a random time in [t, 2t) (default 500). */
  electionTimeout?: number;
  /** Milliseconds between the leader's heartbeats when it has nothing to send (default 100). */
  heartbeat?: number;
  /** Slots a leader has in phase 2 at once (default 8). */
  window?: number;
  /** Commands in one slot at most (default 500). */
  batch?: number;
}

/** Slots fetched by one CatchUp request: keeps replies well under gRPC's 4 MB default. */
const CATCH_UP_SLOTS = 32;

/** The file of the data folder that holds the latest snapshot (the log holds what lies above it). */
const SNAPSHOT = "snapshot";

export class Paxos {
  readonly learner = new Learner();
  private acceptor: Acceptor | undefined;
  private readonly options: Required<PaxosOptions>;
  /** The cluster's names, sorted: a ballot's owner is an index into it. */
  private names: string[] = [];
  private index = 0;
  private leader: Leader | undefined;
  /** The replica this one believes leads (an index into names), undefined during an election. */
  private following: number | undefined;
  private highest = 0;
  private election: Timer | undefined;
  /** How long this follower waits for a word from its leader: a random time, drawn when the wait starts. */
  private patience = 0;
  private campaigning = false;
  private catchingUp = false;
  private compacting = false;
  private compactor: Timer | undefined;
  /** The highest commit point heard from a leader. */
  private commitKnown = 0;
  /** The last commit point heard, with its leader's ballot: written to the log every heartbeat. */
  private heardCommit: CommitPoint | undefined;
  /** Slots below this were looked at for the followed ballot's commit point (see learnCommit). */
  private scanned = { ballot: 0, below: 0 };
  /** When the leader followed was last heard from (an Accept or a Commit). */
  private heard = -Infinity;
  /** The candidate this replica last promised, and when: another's PREPARE waits an election timeout. */
  private promisedTo = { owner: -1, at: -Infinity };
  private nextId = 0n;
  private readonly waitingForLeader = new Set<() => void>();
  private closed = false;
  /** What each replica acknowledged, as far as this one knows: to refuse to vote on older data. */
  private readonly positions = new Positions();
  /** The runtime whose peers tell and learn what was acknowledged (see positions.ts). */
  private readonly watched: Runtime;

  constructor(
    private readonly runtime: Runtime,
    options: PaxosOptions = {},
  ) {
    this.options = { electionTimeout: 500, heartbeat: 100, window: 8, batch: 500, ...options };
    this.watched = this.positions.watch(runtime, () => this.acceptor);
  }

  /** Recovers the acceptor from the disk and starts as a follower; resolves with what the recovery has to say. */
  async start(): Promise<string[]> {
    const { runtime } = this;
    this.names = [runtime.name, ...runtime.peers.names].sort();
    if (this.names.length > MAX_REPLICAS) throw new Error(`a cluster has at most ${MAX_REPLICAS} replicas`);
    this.index = this.names.indexOf(runtime.name);
    const snapshot = runtime.disk === undefined ? undefined : await readRecord(runtime.disk, SNAPSHOT);
    if (snapshot !== undefined) this.learner.install(Snapshot.decode(snapshot));
    const { acceptor, commits, notice } = await Acceptor.open(runtime.disk, this.learner.applied);
    this.acceptor = acceptor;
    // What the commit points heard before the crash say is chosen, as learnCommit learned it then.
    for (const { below, ballot } of commits) {
      for (let slot = this.learner.applied; slot < below; slot++) {
        const accepted = acceptor.acceptedIn(slot);
        if (accepted?.ballot !== Number(ballot)) break;
        this.learner.choose(slot, accepted.commands);
      }
    }
    this.highest = acceptor.promised;
    // Command ids only need to differ from this replica's earlier ones: start at a random point.
    this.nextId = BigInt(Math.floor(runtime.random() * 2 ** 52)) << 11n;
    this.resetElection();
    this.compactLater();
    return notice === undefined ? [] : [notice];
  }

  /** The name of the replica this one believes leads, if any. */
  get leaderName(): string | undefined {
    return this.following === undefined ? undefined : this.names[this.following];
  }

  /** Whether this replica leads (it won phase 1 and nobody outranked it since). */
  get leading(): boolean {
    return this.leader !== undefined;
  }

  /** A client's command: committed through the log if this replica leads, else redirected to the leader. */
  async propose(request: ProposeRequest): Promise<ProposeReply> {
    const { metrics } = this.runtime;
    if (this.following === undefined) await this.leaderKnown();
    if (this.leader !== undefined) {
      const command = { identity: request.identity, key: request.name, value: request.value, id: this.nextId++ };
      const outcome = await this.leader.submit(command);
      if (outcome.applied) {
        metrics.complete(true);
        const { seq, value } = outcome;
        return reply({ success: true, seq: BigInt(seq), leader: this.index, name: request.name, value });
      }
      if (outcome.unknown) {
        metrics.complete(false);
        return reply({ error: "unknown whether committed: its slot reached this replica in a snapshot" });
      }
    }
    metrics.complete(false);
    const leader = this.leaderName;
    if (leader === undefined) return reply({ error: "no leader: an election is under way" });
    // Not taken: its slot went to another leader's commands, or it never got one.
    if (leader === this.runtime.name) return reply({ error: "not committed: this replica lost and won the lead" });
    return reply({ redirect: leader, leader: this.following! });
  }

  /**
   * Phase 1b, for a candidate. While this replica hears from a live leader
   * (or leads), it refuses without promising: a replica that was cut off
   * and comes back with a higher ballot does not depose a working leader.
   * Nor does it promise a second candidate within an election timeout of
   * promising the first, or of running itself: two candidates that start
   * together would otherwise both win, one after the other, and the first
   * lose its lead at once.
   * Refusing is always safe; it only delays an election that is not needed.
   */
  async prepare(request: PrepareRequest): Promise<PrepareReply> {
    const ballot = Number(request.ballot);
    const promised = this.acceptor!.promised;
    const refused = { ok: false, ballot: BigInt(promised), accepted: [], next: 0n, compacted: 0n };
    if (this.behind(request.acknowledged)) return this.told(refused);
    const owner = ownerOf(ballot);
    const followsOther = this.following !== undefined && this.following !== owner;
    const now = this.runtime.clock.now();
    const promisedOther = this.promisedTo.owner !== owner && now - this.promisedTo.at < this.options.electionTimeout;
    if (this.leader !== undefined || (followsOther && this.leaderAlive()) || promisedOther) {
      return this.told(refused);
    }
    this.observe(ballot);
    // Taken now, as the acceptor decides before its promise is durable: a PREPARE that arrives
    // meanwhile is refused.
    if (ballot >= this.acceptor!.promised) this.promisedTo = { owner, at: now };
    const vote = await this.acceptor!.prepare(ballot, Number(request.from));
    if (vote.ok) {
      // An election is under way: give the candidate its time.
      this.following = undefined;
      this.resetElection();
    }
    const { accepted, next, compacted } = vote;
    const reply = {
      ok: vote.ok,
      ballot: BigInt(vote.ballot),
      accepted,
      next: BigInt(next),
      compacted: BigInt(compacted),
    };
    return this.told(reply);
  }

  /** Phase 2b, for the leader; the commit point it carries is learned too. */
  async accept(request: AcceptRequest): Promise<AcceptReply> {
    const ballot = Number(request.ballot);
    if (this.behind(request.acknowledged)) return this.told({ ok: false, ballot: BigInt(this.acceptor!.promised) });
    const vote = await this.acceptor!.accept(Number(request.slot), ballot, request.commands);
    if (vote.ok) this.follow(ballot, Number(request.commit));
    else this.observe(ballot);
    return this.told({ ok: vote.ok, ballot: BigInt(vote.ballot) });
  }

  /** The leader's heartbeat and commit point. */
  async commit(request: CommitRequest): Promise<CommitReply> {
    const ballot = Number(request.ballot);
    const promised = this.acceptor!.promised;
    if (this.behind(request.acknowledged)) return this.told({ ok: false, ballot: BigInt(promised) });
    if (ballot < promised) return this.told({ ok: false, ballot: BigInt(promised) });
    this.follow(ballot, Number(request.commit));
    return this.told({ ok: true, ballot: BigInt(ballot) });
  }

  /** The chosen entries of a range, for a replica that missed them; the snapshot if they were compacted. */
  async catchUp(request: CatchUpRequest): Promise<CatchUpReply> {
    const { learner } = this;
    const from = Number(request.from);
    if (from < learner.held) return { entries: [], snapshot: learner.snapshot() };
    const to = Math.min(Number(request.to), learner.applied, from + CATCH_UP_SLOTS);
    const entries = [];
    for (let slot = from; slot < to; slot++) {
      entries.push({ slot: BigInt(slot), ballot: 0n, commands: [...learner.chosenIn(slot)!] });
    }
    return { entries, snapshot: undefined };
  }

  /** Stops timers and the leader, and closes the log. */
  async close(): Promise<void> {
    this.closed = true;
    this.election?.cancel();
    this.compactor?.cancel();
    this.stopLeading();
    for (const resolve of this.waitingForLeader) resolve();
    await this.acceptor?.close();
  }

  /** `reply` with what this replica knows each replica acknowledged (see positions.ts). */
  private told<R>(reply: R): R & { acknowledged: Acknowledged[] } {
    return { ...reply, acknowledged: this.positions.list() };
  }

  /** Whether this replica's data is older than what `acknowledged` says it acknowledged: then it stops, voting no more. */
  private behind(acknowledged: AcceptRequest["acknowledged"]): boolean {
    const why = this.positions.behind(this.runtime.name, acknowledged, this.acceptor!);
    if (why !== undefined) this.runtime.stop(new Error(why));
    return why !== undefined;
  }

  /** Whether the leader followed was heard from within the shortest election timeout. */
  private leaderAlive(): boolean {
    return this.runtime.clock.now() - this.heard < this.options.electionTimeout;
  }

  /** Whether a ballot above `ballot` was promised here or heard of in any message. */
  private outranked(ballot: number): boolean {
    return Math.max(this.highest, this.acceptor!.promised) > ballot;
  }

  /** A ballot heard from another replica: a higher one than this replica leads with ends its lead. */
  private observe(ballot: number): void {
    if (ballot > this.highest) this.highest = ballot;
    if (this.leader !== undefined && ballot > this.leader.ballot) {
      this.stopLeading();
      this.resetElection();
    }
  }

  /** An Accept or Commit from the leader of `ballot`: follow it, and learn what `commit` says is chosen. */
  private follow(ballot: number, commit: number): void {
    this.observe(ballot);
    if (ownerOf(ballot) === this.index) return; // this replica's own ballot, from before a restart: no leader
    this.following = ownerOf(ballot);
    // The leader of `ballot` promised it before it asked anything, and its commit point passes a slot it
    // proposed at `ballot` only once it accepted it itself (Leader.commitPoint): the slot below `commit`,
    // if accepted here at `ballot`, it acknowledged to itself.
    const top = commit - 1;
    const accepted = top >= 0 && this.acceptor!.acceptedIn(top)?.ballot === ballot;
    this.positions.heard({
      name: this.names[this.following]!,
      ballot: BigInt(ballot),
      slot: BigInt(accepted ? top : 0),
      slotBallot: BigInt(accepted ? ballot : 0),
    });
    this.heard = this.runtime.clock.now(); // pushes the election timer back (see electionDue)
    for (const resolve of this.waitingForLeader) resolve();
    this.learnCommit(ballot, commit);
  }

  /**
   * Every slot below `commit` is chosen, and one accepted here at `ballot`
   * holds the chosen value: the leader of `ballot` proposes one value per
   * slot, and its commit point passes a slot it proposed in only once the
   * value chosen there is that one (the README's "Why it is safe" has the
   * argument). Any other slot below it is fetched from the leader.
   */
  private learnCommit(ballot: number, commit: number): void {
    const { learner } = this;
    if (commit > this.commitKnown) this.commitKnown = commit;
    // The previous leader's last point now, not at the next heartbeat: the new one's may not cover its slots.
    if (this.heardCommit !== undefined && this.heardCommit.ballot !== BigInt(ballot))
      this.acceptor!.remember(this.heardCommit);
    this.heardCommit = { below: BigInt(commit), ballot: BigInt(ballot) };
    if (this.scanned.ballot !== ballot) this.scanned = { ballot, below: 0 };
    for (let slot = Math.max(learner.applied, this.scanned.below); slot < commit; slot++) {
      const accepted = this.acceptor!.acceptedIn(slot);
      if (accepted?.ballot === ballot) learner.choose(slot, accepted.commands);
    }
    this.scanned.below = Math.max(this.scanned.below, commit);
    if (learner.applied < this.commitKnown) this.fetchChosen();
  }

  /** Asks the leader for the chosen slots this replica lacks, a chunk at a time, one request at once. */
  private fetchChosen(): void {
    const leader = this.leaderName;
    if (this.catchingUp || leader === undefined || leader === this.runtime.name || this.closed) return;
    this.catchingUp = true;
    const from = this.learner.applied;
    // A candidate or leader learns from its own Accepts only (see learnCommit): what this brings may come
    // from a higher ballot it has not heard of. The next Accept or Commit it follows asks again.
    this.fetch(leader, this.commitKnown, () => !this.campaigning && this.leader === undefined)
      .catch(() => undefined) // the next Accept or Commit asks again
      .finally(() => {
        this.catchingUp = false;
        if (this.learner.applied > from && this.learner.applied < this.commitKnown) this.fetchChosen();
      });
  }

  /**
   * For a candidate behind a slot some acceptor compacted: fetches from that
   * acceptor, a chunk (or its snapshot) at a time, until every slot below
   * `below` is applied here; whether they are.
   */
  private async catchUpFrom(peer: string, below: number): Promise<boolean> {
    while (this.learner.applied < below && !this.closed) {
      const from = this.learner.applied;
      try {
        await this.fetch(peer, below);
      } catch {
        return false;
      }
      if (this.learner.applied === from) return false; // it has nothing more for this replica
    }
    return this.learner.applied >= below;
  }

  /** One CatchUp from `peer` for the slots from the first not applied here to `to`; applies what it gets, if still `wanted`. */
  private async fetch(peer: string, to: number, wanted = () => true): Promise<void> {
    const from = BigInt(this.learner.applied);
    const request = { $case: "catchUp", value: { from, to: BigInt(to) } } as const;
    const { entries, snapshot } = await this.runtime.peers.send(peer, request, {
      timeout: this.options.electionTimeout,
    });
    if (!wanted()) return;
    if (snapshot !== undefined) this.learner.install(snapshot);
    for (const { slot, commands } of entries) this.learner.choose(Number(slot), commands);
  }

  /** Every heartbeat: writes the commit point to the log, and compacts it once it has grown enough. */
  private compactLater(): void {
    if (this.closed) return;
    this.compactor = this.runtime.clock.setTimeout(() => {
      const { leader } = this;
      const commit =
        leader === undefined
          ? this.heardCommit
          : { below: BigInt(this.learner.applied), ballot: BigInt(leader.ballot) };
      if (commit !== undefined) this.acceptor!.remember(commit);
      void this.compact();
      this.compactLater();
    }, this.options.heartbeat);
  }

  /**
   * Once the log has grown by the disk's snapshotEvery bytes since it was
   * last compacted: writes the learner's state to the snapshot, then has the
   * acceptor rewrite the log without the slots below it. A crash between the
   * two leaves a snapshot and a longer log, which recovery reads the same.
   */
  private async compact(): Promise<void> {
    const { disk } = this.runtime;
    const acceptor = this.acceptor!;
    const below = this.learner.applied;
    if (disk === undefined || this.compacting) return;
    if (acceptor.grown < disk.snapshotEvery || below <= acceptor.compacted) return;
    this.compacting = true;
    try {
      await writeRecord(disk, SNAPSHOT, Snapshot.encode(this.learner.snapshot()).finish());
      this.learner.prune(below);
      await acceptor.compact(below);
    } catch {
      // The disk failed: the replica stops (see Replica).
    } finally {
      this.compacting = false;
    }
  }

  /** (Re)starts the wait for a word from the leader; a leader has no such wait. */
  private resetElection(): void {
    this.election?.cancel();
    if (this.closed || this.leader !== undefined) return;
    this.patience = this.options.electionTimeout * (1 + this.runtime.random());
    this.election = this.runtime.clock.setTimeout(() => this.electionDue(), this.patience);
  }

  /**
   * The wait is over, unless the leader was heard from since it began: then
   * it goes on until `patience` after that. One timer per wait, rather than
   * one cancelled and set again by every Accept. (Within a millisecond of
   * its end it is over: a timer of a fraction of a millisecond could, on a
   * virtual clock, land at the very same time again and again.)
   */
  private electionDue(): void {
    const quiet = this.runtime.clock.now() - this.heard;
    if (this.following !== undefined && quiet < this.patience - 1) {
      this.election = this.runtime.clock.setTimeout(() => this.electionDue(), this.patience - quiet);
    } else void this.campaign();
  }

  /** Phase 1 with a ballot above every one seen; on success this replica leads. */
  private async campaign(): Promise<void> {
    if (this.closed || this.leader !== undefined || this.campaigning) return;
    // A promise to another candidate within an election timeout (its write perhaps still under
    // way, so the timer was not yet reset): that candidate gets its time, as in prepare().
    const { owner, at } = this.promisedTo;
    if (owner !== this.index && this.runtime.clock.now() - at < this.options.electionTimeout) {
      this.resetElection();
      return;
    }
    this.campaigning = true;
    this.following = undefined;
    const ballot = nextBallot(Math.max(this.highest, this.acceptor!.promised), this.index);
    this.highest = ballot;
    // A candidate votes for itself: it promises no other candidate during its run (see prepare).
    this.promisedTo = { owner: this.index, at: this.runtime.clock.now() };
    const { electionTimeout: timeout, heartbeat, window, batch } = this.options;
    const options: LeaderOptions = { timeout, heartbeat, window, batch };
    try {
      const leader = await Leader.elect(ballot, this.roles(), options);
      if (leader !== undefined && (this.closed || !leader.active || this.outranked(ballot))) leader.stop();
      else if (leader !== undefined) {
        // As in learnCommit: the slots it learned as a follower are not at its own ballot.
        if (this.heardCommit !== undefined) this.acceptor!.remember(this.heardCommit);
        this.leader = leader;
        this.following = this.index;
        // Printed by the bench: under load without faults, a cluster should elect once.
        this.runtime.metrics.count("elections won");
        for (const resolve of this.waitingForLeader) resolve();
      }
    } catch {
      // This replica's disk failed: it cannot lead, and tries again later.
    } finally {
      this.campaigning = false;
      this.resetElection();
    }
  }

  private roles() {
    return {
      runtime: this.watched,
      acceptor: this.acceptor!,
      learner: this.learner,
      majority: Math.floor(this.names.length / 2) + 1,
      observe: (ballot: number) => this.observe(ballot),
      outranked: (ballot: number) => this.outranked(ballot),
      commitKnown: () => this.commitKnown,
      catchUp: (peer: string, below: number) => this.catchUpFrom(peer, below),
      lost: () => {
        this.stopLeading();
        this.resetElection();
      },
      stale: (peer: string, prepare: { $case: "prepare"; value: PrepareRequest }, reply: PrepareReply) =>
        this.positions.stale(peer, prepare, reply),
    };
  }

  private stopLeading(): void {
    this.leader?.stop();
    this.leader = undefined;
    if (this.following === this.index) this.following = undefined;
  }

  /** Resolves once a leader is known, or after a few election timeouts. */
  private leaderKnown(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        timer.cancel();
        this.waitingForLeader.delete(done);
        resolve();
      };
      const timer = this.runtime.clock.setTimeout(done, this.options.electionTimeout * 4);
      this.waitingForLeader.add(done);
    });
  }
}

/** A ProposeReply with defaults for what `fields` leaves out. */
function reply(fields: Partial<ProposeReply>): ProposeReply {
  return { success: false, redirect: "", error: "", seq: 0n, leader: 0, name: "", value: Buffer.alloc(0), ...fields };
}
