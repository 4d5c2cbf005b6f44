// Phase 2b: the leader asks this acceptor to accept a batch in a slot.
import type { Context } from "../context.js";
import type { AcceptReply, AcceptRequest } from "../pb/paxos.js";

export async function accept(request: AcceptRequest, context: Context): Promise<AcceptReply> {
  return context.state.paxos.accept(request);
}
