import { once } from "node:events";
import net from "node:net";

/** A free port on 127.0.0.1 (bound, read, released): for a replica a test starts later, or a peer that is not up. */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}
