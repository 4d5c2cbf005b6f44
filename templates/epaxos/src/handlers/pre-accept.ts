// A command leader asks this replica to pre-accept an instance's command and attributes.
import type { Context } from "../context.js";
import type { PreAcceptReply, PreAcceptRequest } from "../pb/epaxos.js";

export async function preAccept(request: PreAcceptRequest, context: Context): Promise<PreAcceptReply> {
  return context.state.epaxos.preAccept(request);
}
