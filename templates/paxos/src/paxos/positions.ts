// Data older than what a replica acknowledged: a copy of its data folder
// restored in place of a newer one, or a log that lost its end. Its WAL
// reads as sound, yet it forgot promises and acceptances that a majority
// may have counted on; were it to vote again, a chosen value could be lost.
// So every replica remembers, in memory, the most each replica is known to
// have acknowledged: a peer's yes to its Prepare or Accept, and a leader's
// own promise and acceptances (a follower sees them in the leader's Accepts
// and commit point, see Paxos.follow). What it knows travels on every
// Prepare, Accept and Commit and on their replies, and is merged on arrival,
// so it reaches every replica that stays up. A replica told that it
// acknowledged more than its data holds does not vote: it stops with one
// line (Runtime.stop) and sends nothing more, before its first vote if a
// heartbeat tells it first. It is told in requests and in the replies to
// its own: restarted, it may run for leader before the leader's requests
// reach it (a gRPC channel in reconnect backoff), and only a peer's refusal
// or promise then says what it acknowledged. And a yes that its peer's data
// cannot have given (to a ballot below one the peer promised, or a promise
// without a slot it accepted) is not counted, whether or not that peer has
// heard yet: the candidate may know before it does. A candidate looks at
// its promises again once its own is on disk, as a refusal that says so
// may come after the stale promise.
//
// Covered: a replica restarted on old data while another that heard (or
// heard of) its acknowledgements stays up and is heard before a round
// counts it. Not covered: every replica restarted at once, or each
// restarted before any other learned of it (nobody remembers, nothing is
// on disk); a majority none of which knows yet, such as the replica on old
// data and another restarted since, electing each other before the one
// that remembers reaches either of them; promises a candidate made to
// itself in an election it lost.
import type { Runtime } from "../context.js";
import type { AcceptReply, Acknowledged, CommitReply, PrepareReply } from "../pb/paxos.js";
import type { Peers, ReplyTo, RequestMessage } from "../peers.js";
import type { Acceptor } from "./acceptor.js";

/** A request that asks for a vote, or a leader's heartbeat: what carries and learns what was acknowledged. */
type Voted = Extract<RequestMessage, { $case: "prepare" | "accept" | "commit" }>;

export class Positions {
  /** By replica name: the most it is known to have acknowledged. */
  private readonly known = new Map<string, Acknowledged>();

  /** Why this replica stopped for data older than it acknowledged, once it did: it sends nothing more. */
  private stopped: string | undefined;

  /**
   * `runtime` with Peers that stamp what this replica knows on each Prepare,
   * Accept and Commit, and learn from each reply. A reply is not handed on
   * (the send rejects, so no round counts it) when it says that this replica
   * (its acceptor, `acceptor()`) is behind its own entry, which stops it, or
   * when it is a yes that the peer's data cannot have given (see stale).
   */
  watch(runtime: Runtime, acceptor: () => Acceptor | undefined): Runtime {
    const { peers } = runtime;
    const watched: Peers = {
      get names() {
        return peers.names;
      },
      send: <M extends RequestMessage>(peer: string, message: M, options?: { timeout?: number }) => {
        if (this.stopped !== undefined) return Promise.reject(new Error(`stopped: ${this.stopped}`));
        return peers.send(peer, this.stamp(message), options).then((reply: ReplyTo<M>) => {
          const stale = this.replied(peer, message, reply);
          // A candidate (or leader) restarted on old data learns it from its peers' replies as well as from
          // their requests: it may be the one asking, and the leader that remembers may not reach it for a while.
          const own = acceptor();
          const why = own === undefined ? undefined : this.behind(runtime.name, [], own);
          if (why !== undefined) {
            runtime.stop(new Error(why));
            throw new Error(`stopped: ${why}`);
          }
          if (stale !== undefined) throw new Error(stale);
          return reply;
        });
      },
      // A Leader asks for votes with send (votes.ts): these two carry nothing to learn from.
      broadcast: (message, options) => peers.broadcast(message, options),
      quorum: (message, options) => peers.quorum(message, options),
      close: () => peers.close(),
    };
    return {
      name: runtime.name,
      peers: watched,
      clock: runtime.clock,
      random: runtime.random,
      disk: runtime.disk,
      metrics: runtime.metrics,
      stop: runtime.stop,
    };
  }

  /**
   * Learns what a request says the replicas acknowledged, and says why this
   * replica (`name`, with `acceptor`) is behind its own entry, if it is: it
   * promised less, or lacks the slot it accepted (or holds it at a lower ballot).
   */
  behind(name: string, acknowledged: readonly Acknowledged[], acceptor: Acceptor): string | undefined {
    for (const each of acknowledged) this.heard(each);
    const own = this.known.get(name);
    if (own === undefined) return undefined;
    const ballot = Number(own.ballot);
    const [slot, slotBallot] = [Number(own.slot), Number(own.slotBallot)];
    const held = acceptor.acceptedIn(slot)?.ballot ?? 0;
    // A slot below the snapshot is chosen and kept there: what was accepted in it is no longer needed.
    if (acceptor.promised >= ballot && (slot < acceptor.compacted || held >= slotBallot)) return undefined;
    const lacks =
      acceptor.promised < ballot
        ? `ballot ${ballot}, but its data holds a promise of only ${acceptor.promised}`
        : `slot ${slot} at ballot ${slotBallot}, but its data has ${held === 0 ? "nothing" : `ballot ${held}`} there`;
    this.stopped ??=
      `its data is older than what it acknowledged to its peers: it acknowledged ${lacks}; ` +
      "it stops rather than vote on what it forgot. Restore its newest data folder";
    return this.stopped;
  }

  /** `message` with what this replica knows, if it asks for a vote or is a leader's heartbeat. */
  private stamp<M extends RequestMessage>(message: M): M {
    if (message.$case !== "prepare" && message.$case !== "accept" && message.$case !== "commit") return message;
    return { ...message, value: { ...message.value, acknowledged: this.list() } };
  }

  /**
   * What `peer`'s reply says it knows, and, from a yes to a Prepare or an
   * Accept, what `peer` acknowledged; why the yes is not to be counted, if
   * it is stale.
   */
  private replied(peer: string, message: RequestMessage, reply: unknown): string | undefined {
    if (message.$case !== "prepare" && message.$case !== "accept" && message.$case !== "commit") return undefined;
    const { ok, acknowledged } = reply as PrepareReply | AcceptReply | CommitReply;
    const stale = ok ? this.stale(peer, message, reply as PrepareReply) : undefined;
    for (const each of acknowledged) this.heard(each);
    if (stale !== undefined) return stale;
    if (message.$case === "prepare" && ok) {
      this.heard({ name: peer, ballot: message.value.ballot, slot: 0n, slotBallot: 0n });
    } else if (message.$case === "accept" && ok) {
      const { ballot, slot } = message.value;
      this.heard({ name: peer, ballot, slot, slotBallot: ballot });
    }
    return undefined;
  }

  /**
   * Why `peer`'s yes to `message` came from data older than what it is known
   * to have acknowledged, if it did: a yes to a ballot below one it promised,
   * or a promise whose chunk of accepted slots lacks the slot it accepted
   * (or holds it at a lower ballot). Counting such a promise could make a
   * candidate miss a chosen value; the peer itself stops once it hears its
   * entry, but the candidate may learn it first (from another reply).
   */
  stale(peer: string, message: Voted, reply: PrepareReply): string | undefined {
    const known = this.known.get(peer);
    if (known === undefined) return undefined;
    const { ballot } = message.value;
    if (known.ballot > ballot) {
      return `${peer} said yes to ballot ${ballot}, but it had promised ${known.ballot}: its data is older than that`;
    }
    if (message.$case !== "prepare" || known.slotBallot === 0n) return undefined;
    // The chunk covers the slots from `from` up to `next` (all of them if 0), those below `compacted` left out.
    const { slot, slotBallot } = known;
    const { next, compacted } = reply;
    if (slot < message.value.from || slot < compacted || (next !== 0n && slot >= next)) return undefined;
    const held = reply.accepted.find((entry) => entry.slot === slot)?.ballot ?? 0n;
    if (held >= slotBallot) return undefined;
    return `${peer} promised without slot ${slot}, which it accepted at ballot ${slotBallot}: its data is older than that`;
  }

  /** What each replica is known to have acknowledged, for a request or a reply. */
  list(): Acknowledged[] {
    return [...this.known.values()];
  }

  /** Learns that `heard.name` acknowledged at least this much. */
  heard(heard: Acknowledged): void {
    const known = this.known.get(heard.name);
    if (known === undefined) {
      this.known.set(heard.name, { ...heard });
      return;
    }
    if (heard.ballot > known.ballot) known.ballot = heard.ballot;
    if (heard.slot > known.slot || (heard.slot === known.slot && heard.slotBallot > known.slotBallot)) {
      known.slot = heard.slot;
      known.slotBallot = heard.slotBallot;
    }
  }
}
