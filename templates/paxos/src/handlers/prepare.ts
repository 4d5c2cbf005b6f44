// Phase 1b: a candidate asks this acceptor to promise its ballot.
import type { Context } from "../context.js";
import type { PrepareReply, PrepareRequest } from "../pb/paxos.js";

export async function prepare(request: PrepareRequest, context: Context): Promise<PrepareReply> {
  return context.state.paxos.prepare(request);
}
