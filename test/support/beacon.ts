import * as grpc from "@grpc/grpc-js";
import { type PeerReply, Type } from "../../src/workbench/pb/envelope.js";
import { ConsensusClient } from "../../src/workbench/pb/service.js";

/** Sends one Beacon on a Dispatch stream to `address` and resolves with the reply. */
export async function beacon(address: string): Promise<PeerReply> {
  const client = new ConsensusClient(address, grpc.credentials.createInsecure());
  try {
    const stream = client.dispatch({ deadline: Date.now() + 5000 });
    const reply = new Promise<PeerReply>((resolve, reject) => {
      stream.once("data", resolve);
      stream.once("error", reject);
    });
    stream.write({ type: Type.BEACON, sender: "test", message: { $case: "beacon", value: { timestamp: "" } } });
    stream.end();
    return await reply;
  } finally {
    client.close();
  }
}
