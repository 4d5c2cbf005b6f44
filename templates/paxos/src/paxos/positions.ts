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
// line (Runtime.stop), before its first vote if a heartbeat tells it first.
//
// Covered: a replica restarted on old data while another that heard (or
// heard of) its acknowledgements stays up. Not covered: every replica
// restarted at once, or each restarted before any other learned of it
// (nobody remembers, nothing is on disk); promises a candidate made to
// itself in an election it lost.
import type { Runtime } from "../context.js";
import type { AcceptReply, Acknowledged, CommitReply, PrepareReply } from "../pb/paxos.js";
import type { Peers, ReplyTo, RequestMessage } from "../peers.js";
import type { Acceptor } from "./acceptor.js";

export class Positions {
  /** By replica name: the most it is known to have acknowledged. */
  private readonly known = new Map<string, Acknowledged>();

  /** `runtime` with Peers that stamp what this replica knows on each Prepare, Accept and Commit, and learn from each yes. */
  watch(runtime: Runtime): Runtime {
    const { peers } = runtime;
    const watched: Peers = {
      get names() {
        return peers.names;
      },
      send: <M extends RequestMessage>(peer: string, message: M, options?: { timeout?: number }) =>
        peers.send(peer, this.stamp(message), options).then((reply: ReplyTo<M>) => {
          this.replied(peer, message, reply);
          return reply;
        }),
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
    if (acceptor.promised >= ballot && held >= slotBallot) return undefined;
    const lacks =
      acceptor.promised < ballot
        ? `ballot ${ballot}, but its data holds a promise of only ${acceptor.promised}`
        : `slot ${slot} at ballot ${slotBallot}, but its data has ${held === 0 ? "nothing" : `ballot ${held}`} there`;
    return (
      `its data is older than what it acknowledged to its peers: it acknowledged ${lacks}; ` +
      "it stops rather than vote on what it forgot. Restore its newest data folder"
    );
  }

  /** `message` with what this replica knows, if it asks for a vote or is a leader's heartbeat. */
  private stamp<M extends RequestMessage>(message: M): M {
    if (message.$case !== "prepare" && message.$case !== "accept" && message.$case !== "commit") return message;
    return { ...message, value: { ...message.value, acknowledged: this.list() } };
  }

  /** What `peer`'s reply says it knows, and, from a yes to a Prepare or an Accept, what `peer` acknowledged. */
  private replied(peer: string, message: RequestMessage, reply: unknown): void {
    if (message.$case !== "prepare" && message.$case !== "accept" && message.$case !== "commit") return;
    const { ok, acknowledged } = reply as PrepareReply | AcceptReply | CommitReply;
    for (const each of acknowledged) this.heard(each);
    if (message.$case === "prepare" && ok) {
      this.heard({ name: peer, ballot: message.value.ballot, slot: 0n, slotBallot: 0n });
    } else if (message.$case === "accept" && ok) {
      const { ballot, slot } = message.value;
      this.heard({ name: peer, ballot, slot, slotBallot: ballot });
    }
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
