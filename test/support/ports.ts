import { createServer } from "node:net";
import { readFileSync } from "node:fs";

/** Whether nothing listens on `port` of 127.0.0.1 right now. */
export function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** The first port the kernel hands to outgoing connections (Linux's default when unreadable). */
function ephemeralStart(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

/**
 * P..P+count-1, all free on 127.0.0.1, for a cluster that numbers its replicas' ports from P.
 * Taken below the ephemeral range: a port the OS picks for us (listen 0) is free, but its
 * neighbours may be handed to any outgoing connection a moment later.
 */
export async function freePortBlock(count: number): Promise<number[]> {
  const top = ephemeralStart() - count;
  for (;;) {
    const first = 10_000 + Math.floor(Math.random() * (top - 10_000));
    const ports = Array.from({ length: count }, (_, i) => first + i);
    if ((await Promise.all(ports.map(portIsFree))).every(Boolean)) return ports;
  }
}
