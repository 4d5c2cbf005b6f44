import { once } from "node:events";
import { readFileSync } from "node:fs";
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

/** Whether `port` can be listened on at 127.0.0.1 now. */
export function portIsFree(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive ports free on 127.0.0.1, below the ephemeral range: a port the OS picked is
 * free, but its neighbours may go to any outgoing connection a moment later (`npm run cluster`
 * takes P, P+1, P+2).
 */
export async function freePortBlock(count: number): Promise<number[]> {
  let ephemeral = 32768;
  try {
    ephemeral = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
  } catch {
    // not Linux: its default is as good a guess as any
  }
  for (;;) {
    const first = 10_000 + Math.floor(Math.random() * (ephemeral - count - 10_000));
    const ports = Array.from({ length: count }, (_, i) => first + i);
    if ((await Promise.all(ports.map(portIsFree))).every(Boolean)) return ports;
  }
}
