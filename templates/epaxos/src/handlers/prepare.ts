// Recovery: a replica recovering an instance asks this one to promise its ballot and say its last vote.
import type { Context } from "../context.js";
import type { PrepareReply, PrepareRequest } from "../pb/epaxos.js";

export async function prepare(request: PrepareRequest, context: Context): Promise<PrepareReply> {
  return context.state.epaxos.prepare(request);
}
