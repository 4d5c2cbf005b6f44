// Run by test/workbench/proxy.test.ts in a process of its own, since what it guards against hangs a
// process at exit: the dialer of a link ends its side, and a cut comes in the same turn of the event
// loop as the proxy passes that end on, while its shutdown is still pending. Prints "closed" once
// the proxies' close() has resolved, then lets the process end on its own.
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Server, Socket } from "node:net";
import { LinkProxies } from "../../src/workbench/proxy.js";

const HOST = "127.0.0.1";

/** A peer that says "x" to each connection, keeping them until the end. */
async function peer(): Promise<{ server: Server; sockets: Socket[]; port: number }> {
  const sockets: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    socket.write("x");
  });
  server.listen({ host: HOST, port: 0 });
  await once(server, "listening");
  return { server, sockets, port: (server.address() as AddressInfo).port };
}

const [a, b] = [await peer(), await peer()];
const proxies = await LinkProxies.start(
  [
    { name: "a", host: HOST, port: a.port },
    { name: "b", host: HOST, port: b.port },
  ],
  HOST,
);
const [host, port] = proxies.address("a", "b").split(/:(?=\d+$)/);
const dialer = connect({ host: host!, port: Number(port), allowHalfOpen: true });
dialer.on("error", () => {});
// b's "x" through the link: the proxy's own connection to b is up, not still dialling.
await once(dialer, "data");

const end = Socket.prototype.end;
const cut = new Promise<void>((resolve) => {
  Socket.prototype.end = function (this: Socket, ...args: Parameters<Socket["end"]>) {
    const result = end.apply(this, args);
    if (this !== dialer) {
      Socket.prototype.end = end;
      proxies.partition([["a"], ["b"]]);
      resolve();
    }
    return result;
  } as Socket["end"];
});
dialer.end();
await cut;
await proxies.close();
process.stdout.write("closed\n");
dialer.destroy();
for (const { server, sockets } of [a, b]) {
  for (const socket of sockets) socket.destroy();
  server.close();
}
