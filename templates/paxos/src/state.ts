// What a replica keeps between requests, and how it answers clients: its
// Multi-Paxos (src/paxos/), which the handlers of PREPARE, ACCEPT, COMMIT
// and CATCH_UP reach as `context.state.paxos`. Each Replica has its own, so
// several replicas can share one process (as in a simulation).
import type { Runtime } from "./context.js";
import { Paxos } from "./paxos/paxos.js";
import type { ProposeReply, ProposeRequest } from "./pb/client.js";

export class State {
  readonly paxos: Paxos;

  constructor(readonly runtime: Runtime) {
    this.paxos = new Paxos(runtime);
  }

  /** Recovers what the acceptor promised and accepted from the write-ahead log, and starts as a follower. */
  start(): Promise<string[]> {
    return this.paxos.start();
  }

  /** Commits the command through the log if this replica leads; otherwise redirects to the leader. */
  propose(request: ProposeRequest): Promise<ProposeReply> {
    return this.paxos.propose(request);
  }

  close(): Promise<void> {
    return this.paxos.close();
  }
}
