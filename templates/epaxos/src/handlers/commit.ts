// A command leader tells this replica an instance is committed; it executes once its deps have.
import type { Context } from "../context.js";
import type { CommitRequest } from "../pb/epaxos.js";

/** COMMIT has no reply message: the peer gets a reply with only type and success. */
export async function commit(request: CommitRequest, context: Context): Promise<void> {
  await context.state.epaxos.commit(request);
}
