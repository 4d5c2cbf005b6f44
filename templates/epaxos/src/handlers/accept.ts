// The slow path: a command leader asks this replica to accept an instance's final attributes.
import type { Context } from "../context.js";
import type { AcceptReply, AcceptRequest } from "../pb/epaxos.js";

export async function accept(request: AcceptRequest, context: Context): Promise<AcceptReply> {
  return context.state.epaxos.accept(request);
}
