// Waiting for a majority that says yes. Peers.quorum counts any reply; a
// Paxos quorum counts only the acceptors that accepted (a "no" carries the
// higher ballot that outranks the sender, which the caller looks at).
import type { Clock, Timer } from "../clock.js";
import type { Peers, ReplyTo, RequestMessage } from "../peers.js";

/** Why a round did not reach its quorum: too many "no"s or failures, or the time ran out. */
export class NoQuorum extends Error {
  override readonly name = "NoQuorum";
}

/**
 * Retransmission: a peer that has not answered within `every` ms (its
 * request or its reply lost, or its link down) is sent the message again,
 * until the quorum, the timeout, or the caller gives the round up.
 */
export interface Retry {
  readonly every: number;
  readonly clock: Clock;
  /** Whether the caller no longer needs the round (a leader that stopped): it then ends with NoQuorum. */
  abandoned(): boolean;
}

/**
 * Sends `message` to every peer and resolves with the replies that `yes`
 * approves once `needed` of them have come (this replica's own vote is the
 * caller's business). Rejects with NoQuorum as soon as so many peers said no
 * (or, without `retry`, failed) that `needed` cannot be reached, or after
 * `timeout` ms.
 */
export function votes<M extends RequestMessage>(
  peers: Peers,
  message: M,
  needed: number,
  timeout: number,
  yes: (reply: ReplyTo<M>, peer: string) => boolean,
  retry?: Retry,
): Promise<Map<string, ReplyTo<M>>> {
  const names = peers.names;
  const granted = new Map<string, ReplyTo<M>>();
  if (needed <= 0) return Promise.resolve(granted);
  return new Promise((resolve, reject) => {
    let refused = 0;
    let done = false;
    const timers = new Set<Timer>();
    const finish = (): void => {
      done = true;
      for (const timer of timers) timer.cancel();
    };
    const refuse = (): void => {
      if (!done && ++refused > names.length - needed) {
        finish();
        reject(new NoQuorum(`${refused} of ${names.length} peers said no or did not answer`));
      }
    };
    if (retry !== undefined) {
      const timer = retry.clock.setTimeout(() => {
        if (done) return;
        finish();
        reject(new NoQuorum(`${granted.size} of ${needed} peers said yes in ${timeout} ms`));
      }, timeout);
      timers.add(timer);
    }
    const ask = (peer: string): void => {
      const sentAt = retry?.clock.now() ?? 0;
      peers.send(peer, message, { timeout: retry?.every ?? timeout }).then(
        (reply) => {
          if (done) return;
          if (!yes(reply, peer)) return refuse();
          granted.set(peer, reply);
          if (granted.size === needed) {
            finish();
            resolve(granted);
          }
        },
        () => {
          if (retry === undefined) return refuse();
          if (done) return;
          // Sent again no sooner than `every` after the last time, even when the link failed at once.
          const timer = retry.clock.setTimeout(
            () => {
              timers.delete(timer);
              if (done) return;
              if (!retry.abandoned()) return ask(peer);
              finish();
              reject(new NoQuorum("the round was given up"));
            },
            Math.max(0, sentAt + retry.every - retry.clock.now()),
          );
          timers.add(timer);
        },
      );
    };
    for (const peer of names) ask(peer);
  });
}
