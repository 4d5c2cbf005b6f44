// Beacon: a liveness probe. Answers with this replica's clock (the context's:
// virtual in a simulation); the replica
// sets its name as the reply's sender.
import { rfc3339 } from "../clock.js";
import type { Context } from "../context.js";
import type { BeaconReply, BeaconRequest } from "../pb/beacon.js";

export async function beacon(_request: BeaconRequest, context: Context): Promise<BeaconReply> {
  return { timestamp: rfc3339(context.clock.epochNs()) };
}
