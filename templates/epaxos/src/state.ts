// What a replica keeps between requests, and how it answers clients: its
// ePaxos (src/epaxos/), which the handlers of PRE_ACCEPT, ACCEPT and COMMIT
// reach as `context.state.epaxos`. Each Replica has its own, so several
// replicas can share one process (as in a simulation).
import type { Runtime } from "./context.js";
import { EPaxos } from "./epaxos/epaxos.js";
import type { ProposeReply, ProposeRequest } from "./pb/client.js";

export class State {
  readonly epaxos: EPaxos;

  constructor(readonly runtime: Runtime) {
    this.epaxos = new EPaxos(runtime);
  }

  /** Recovers the instances from the write-ahead log and executes those committed. */
  start(): Promise<string[]> {
    return this.epaxos.start();
  }

  /** Leads the command's instance here, and answers once it has executed. */
  propose(request: ProposeRequest): Promise<ProposeReply> {
    return this.epaxos.propose(request);
  }

  close(): Promise<void> {
    return this.epaxos.close();
  }
}
