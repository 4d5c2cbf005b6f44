// Waiting for a majority that says yes. Peers.quorum counts any reply; a
// Paxos quorum counts only the acceptors that accepted (a "no" carries the
// higher ballot that outranks the sender, which the caller looks at).
import type { Peers, ReplyTo, RequestMessage } from "../peers.js";

/** Why a round did not reach its quorum: too many "no"s or failures, or the time ran out. */
export class NoQuorum extends Error {
  override readonly name = "NoQuorum";
}

/**
 * Sends `message` to every peer and resolves with the replies that `yes`
 * approves once `needed` of them have come (this replica's own vote is the
 * caller's business). Rejects with NoQuorum as soon as so many peers said no
 * or failed that `needed` cannot be reached, or after `timeout` ms.
 */
export function votes<M extends RequestMessage>(
  peers: Peers,
  message: M,
  needed: number,
  timeout: number,
  yes: (reply: ReplyTo<M>, peer: string) => boolean,
): Promise<Map<string, ReplyTo<M>>> {
  const names = peers.names;
  const granted = new Map<string, ReplyTo<M>>();
  if (needed <= 0) return Promise.resolve(granted);
  return new Promise((resolve, reject) => {
    let refused = 0;
    let done = false;
    const refuse = (): void => {
      if (!done && ++refused > names.length - needed) {
        done = true;
        reject(new NoQuorum(`${refused} of ${names.length} peers said no or did not answer`));
      }
    };
    for (const peer of names) {
      peers.send(peer, message, { timeout }).then((reply) => {
        if (done) return;
        if (!yes(reply, peer)) return refuse();
        granted.set(peer, reply);
        if (granted.size === needed) {
          done = true;
          resolve(granted);
        }
      }, refuse);
    }
  });
}
