// Per-link TCP proxies, so the nemesis can cut or slow the links between
// replicas on one machine without root (no iptables, no tc): replica `from`
// reaches `to` only through the listener of the link from→to, which forwards to
// `to`'s real address while the link is whole. Clients dial replicas directly.
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { joinHostPort } from "./address.js";

/** A replica as the proxies see it: its name and where it listens (a cluster's Member is one). */
export interface Peer {
  name: string;
  host: string;
  port: number;
}

/**
 * Bytes one direction of a delayed link holds before it stops reading its
 * source: what is in flight is bounded as a TCP window bounds it, so a fast
 * sender on a slow link is slowed down (to 4 MiB per delay) rather than
 * buffered without end.
 */
const MAX_QUEUED = 4 * 1024 * 1024;

export class LinkProxies {
  private closed: Promise<void> | undefined;

  private constructor(private readonly links: ReadonlyMap<string, ReadonlyMap<string, Link>>) {}

  /**
   * Listens on `host` for every ordered pair of `peers`, each on a port the OS
   * picks that is none of the peers' own (they may not have bound theirs yet).
   */
  static async start(peers: readonly Peer[], host: string): Promise<LinkProxies> {
    const names = new Set(peers.map((peer) => peer.name));
    if (names.size !== peers.length) throw new Error("link proxies: two replicas have the same name");
    const avoid = new Set(peers.map((peer) => peer.port));
    const pairs = peers.flatMap((from) => peers.filter((to) => to !== from).map((to) => [from, to] as const));
    const listening = await Promise.allSettled(pairs.map(() => listen(host, avoid)));
    const failed = listening.find((result) => result.status === "rejected");
    if (failed !== undefined) {
      await Promise.all(listening.map((result) => (result.status === "fulfilled" ? close(result.value) : undefined)));
      throw failed.reason;
    }
    const links = new Map(peers.map((peer) => [peer.name, new Map<string, Link>()]));
    pairs.forEach(([from, to], i) => {
      links.get(from.name)!.set(to.name, new Link((listening[i] as PromiseFulfilledResult<Server>).value, to));
    });
    return new LinkProxies(links);
  }

  /** host:port that `from` dials to reach `to` (its --peers entry for `to`). */
  address(from: string, to: string): string {
    return this.link(from, to).address;
  }

  /**
   * Cuts every link between replicas on different sides, both ways, and makes
   * whole every other link: a partition replaces the previous one. A replica
   * on no side keeps all its links.
   */
  partition(sides: readonly (readonly string[])[]): void {
    const sideOf = new Map<string, number>();
    sides.forEach((side, i) => {
      for (const name of side) {
        if (!this.links.has(name)) throw new Error(`partition: no replica is named ${name}`);
        if (sideOf.has(name)) throw new Error(`partition: ${name} is on two sides`);
        sideOf.set(name, i);
      }
    });
    for (const [from, row] of this.links) {
      for (const [to, link] of row) {
        const a = sideOf.get(from);
        const b = sideOf.get(to);
        link.setCut(a !== undefined && b !== undefined && a !== b);
      }
    }
  }

  /** Makes every link whole. */
  heal(): void {
    for (const link of this.all()) link.setCut(false);
  }

  /** Delays every byte on every link by `ms` in each direction (a round trip by twice that); 0 removes it. */
  delay(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`delay ${ms}: a delay is a number of milliseconds, 0 or more`);
    for (const link of this.all()) link.delay = ms;
  }

  /** Stops listening and destroys every connection; resolves once every socket is closed. */
  close(): Promise<void> {
    this.closed ??= Promise.all([...this.all()].map((link) => link.close())).then(() => undefined);
    return this.closed;
  }

  private link(from: string, to: string): Link {
    const link = this.links.get(from)?.get(to);
    if (link === undefined) throw new Error(`no link from ${from} to ${to}`);
    return link;
  }

  private *all(): Iterable<Link> {
    for (const row of this.links.values()) yield* row.values();
  }
}

/** One ordered pair's listener and the connections it carries to `target`. */
class Link {
  delay = 0;
  readonly address: string;
  private cut = false;
  private readonly connections = new Set<Connection>();

  constructor(
    private readonly server: Server,
    private readonly target: Peer,
  ) {
    const { address, port } = server.address() as AddressInfo;
    this.address = joinHostPort(address, port);
    server.on("connection", (socket: Socket) => this.accept(socket));
  }

  setCut(cut: boolean): void {
    this.cut = cut;
    if (cut) for (const connection of this.connections) connection.destroy();
  }

  close(): Promise<void> {
    const closed = close(this.server);
    for (const connection of this.connections) connection.destroy();
    return Promise.all([closed, ...[...this.connections].map((connection) => connection.closed)]).then(() => undefined);
  }

  private accept(socket: Socket): void {
    // Accepted and reset at once rather than no longer listening: the port stays
    // the link's (closing it would let the OS hand it to anyone until the heal),
    // heal() is immediate and cannot fail, and the dialer's connection fails at
    // once, as behind a firewall that rejects, instead of lingering in a backlog.
    if (this.cut) return reset(socket);
    const connection = new Connection(socket, this.target, () => this.delay);
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
  }
}

/** One dialer's connection and the proxy's own to the target, a Pump each way. */
class Connection {
  readonly closed: Promise<void>;
  private readonly upstream: Socket;
  private readonly pumps: readonly Pump[];

  constructor(
    private readonly client: Socket,
    target: Peer,
    delay: () => number,
  ) {
    // allowHalfOpen: a side that ends its writing is passed on as such, not taken for a close.
    this.upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    this.pumps = [new Pump(client, this.upstream, delay), new Pump(this.upstream, client, delay)];
    const sockets = [client, this.upstream];
    this.closed = Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once("close", resolve)))).then(
      () => undefined,
    );
    // A reset on one side (a replica killed, a dial refused) is passed on as a reset to the other.
    for (const socket of sockets) socket.on("error", () => this.destroy());
  }

  destroy(): void {
    for (const pump of this.pumps) pump.stop();
    reset(this.client);
    reset(this.upstream);
  }
}

/**
 * Moves bytes from `source` to `destination` in order, each chunk held until
 * `delay()` ms after it arrived and, being in a queue, after the one before it
 * (when the delay shrinks, bytes keep their order and wait), and stops reading
 * while the destination is not keeping up or too much is held.
 */
class Pump {
  private readonly queue: { chunk: Buffer; due: number }[] = [];
  private queued = 0;
  /** The destination's write() returned false: nothing more is written before its 'drain'. */
  private waiting = false;
  private ended = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: Socket,
    private readonly destination: Socket,
    private readonly delay: () => number,
  ) {
    source.on("data", (chunk: Buffer) => {
      this.queue.push({ chunk, due: performance.now() + this.delay() });
      this.queued += chunk.length;
      this.flush();
    });
    source.on("end", () => {
      this.ended = true;
      this.flush();
    });
    destination.on("drain", () => {
      this.waiting = false;
      this.flush();
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private flush(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = performance.now();
    while (!this.waiting && this.queue.length > 0 && this.queue[0]!.due <= now) {
      const { chunk } = this.queue.shift()!;
      this.queued -= chunk.length;
      this.waiting = !this.destination.write(chunk);
    }
    if (this.queue.length > 0) {
      // While waiting, 'drain' calls flush again.
      if (!this.waiting) this.timer = setTimeout(() => this.flush(), Math.ceil(this.queue[0]!.due - now));
    } else if (this.ended && !this.destination.writableEnded) {
      this.destination.end();
    }
    if (this.waiting || this.queued >= MAX_QUEUED) this.source.pause();
    else this.source.resume();
  }
}

/** Listens on a port the OS picks on `host`, never one of `avoid`. */
async function listen(host: string, avoid: ReadonlySet<number>): Promise<Server> {
  // A port to avoid stays held until another comes, so that the OS does not hand it out again.
  const held: Server[] = [];
  try {
    for (;;) {
      const server = createServer({ allowHalfOpen: true, noDelay: true });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host, port: 0 }, () => {
          server.off("error", reject);
          resolve();
        });
      });
      // A failed accept (EMFILE) is the dialer's failed connection, which it dials again, not the cluster's.
      server.on("error", () => {});
      if (!avoid.has((server.address() as AddressInfo).port)) return server;
      held.push(server);
    }
  } finally {
    await Promise.all(held.map(close));
  }
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Ends a socket abruptly: a reset also drops what the kernel still holds to send, so nothing crosses a cut after it. */
function reset(socket: Socket): void {
  if (socket.destroyed) return;
  // The reset failing (the peer gone already) is no concern.
  socket.on("error", () => {});
  // A dial still in progress has sent nothing, and resetAndDestroy would first let it connect.
  // A socket whose end() is not finished (its shutdown pending) cannot be reset: Node reports EINVAL
  // and leaves its handle neither open nor closed, so 'close' never comes and the process spins at
  // exit waiting for it. It is closed instead: what it was given before the cut may still reach its
  // peer, as it would have had the cut come a moment later.
  if (socket.connecting || (socket.writableEnded && !socket.writableFinished)) socket.destroy();
  else socket.resetAndDestroy();
}
