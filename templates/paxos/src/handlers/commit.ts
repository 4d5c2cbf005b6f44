// The leader's heartbeat: it still leads, and every slot below the commit point is chosen.
import type { Context } from "../context.js";
import type { CommitReply, CommitRequest } from "../pb/paxos.js";

export async function commit(request: CommitRequest, context: Context): Promise<CommitReply> {
  return context.state.paxos.commit(request);
}
