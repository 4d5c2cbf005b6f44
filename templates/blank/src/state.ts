// What a replica keeps between requests, and how it answers clients. Add your
// protocol's state here (the log, the ballot it promised, the instance
// space...): each Replica has its own, which its handlers reach as
// `context.state`, so several replicas can share one process (as on the
// in-memory network and in a simulation).
import type { Runtime } from "./context.js";
import type { ProposeReply, ProposeRequest } from "./pb/client.js";

export class State {
  constructor(readonly runtime: Runtime) {}

  /**
   * Runs before the replica serves anyone: recover from `runtime.disk`, set
   * the first timers. Resolves with what a person should know about the
   * recovery (one line each: printed as the replica starts); throws to refuse
   * to start.
   */
  async start(): Promise<string[]> {
    return [];
  }

  /**
   * Answers a client. Your protocol goes here: replicate the command to a
   * quorum (`runtime.peers`), then answer success with its seq, or redirect
   * the client to the leader. Call `runtime.metrics.complete(true)` for each
   * command the quorum commits.
   */
  async propose(_request: ProposeRequest): Promise<ProposeReply> {
    this.runtime.metrics.complete(false);
    return {
      success: false,
      redirect: "",
      error: "not implemented",
      seq: 0n,
      leader: 0,
      name: "",
      value: Buffer.alloc(0),
    };
  }

  /** Runs when the replica stops: cancel timers, close files. */
  async close(): Promise<void> {}
}
