// A replica that missed chosen slots asks for them.
import type { Context } from "../context.js";
import type { CatchUpReply, CatchUpRequest } from "../pb/paxos.js";

export async function catchUp(request: CatchUpRequest, context: Context): Promise<CatchUpReply> {
  return context.state.paxos.catchUp(request);
}
