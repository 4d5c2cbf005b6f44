// Hosts for tests, made of Linux network namespaces: each one a namespace with
// its own address on a veth pair whose other end is on a bridge in the root
// namespace, which also has an address on it, so the test process reaches every
// host and every host reaches the others. Needs root and iproute2's `ip`.
// Names carry the test process's pid, so a run's leftovers (a crash, a kill -9)
// are recognised and removed by the next run, and parallel runs leave each
// other alone.
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The prefix of every namespace, veth and bridge name made here; the pid that made it follows. */
const PREFIX = "cc";

/** Why hosts cannot be made here, or undefined when they can. */
export function hostsUnavailable(): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "network namespaces need root";
  try {
    execFileSync("ip", ["-V"], { stdio: "ignore" });
  } catch {
    return "network namespaces need iproute2's ip command";
  }
  return undefined;
}

async function ip(...args: string[]): Promise<string> {
  return (await run("ip", args)).stdout;
}

/** Runs `ip` and ignores its failure: for cleanup of what may already be gone. */
async function ipQuietly(...args: string[]): Promise<void> {
  await ip(...args).catch(() => {});
}

/** Whether process `pid` exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** One host: a namespace and the veth that joins it to the bridge. */
export interface Host {
  /** The namespace's name. */
  readonly namespace: string;
  /** Its address on the bridge's subnet. */
  readonly address: string;
  /** The veth end on the bridge, in the root namespace: down, the host is cut off. */
  readonly link: string;
}

/** Hosts 1..count on one bridge, subnet 10.213.<subnet>.0/24; the bridge is .254, host i is .i. */
export class Hosts {
  private constructor(
    readonly hosts: readonly Host[],
    private readonly bridge: string,
  ) {}

  /** Removes what a previous run whose process is gone left behind, then makes `count` hosts. */
  static async create(count: number): Promise<Hosts> {
    await removeStale();
    const tag = `${PREFIX}${process.pid}`;
    const bridge = `${tag}br`;
    const subnet = await freeSubnet();
    const hosts = Array.from({ length: count }, (_, i) => ({
      namespace: `${PREFIX}-${process.pid}-${i + 1}`,
      address: `10.213.${subnet}.${i + 1}`,
      link: `${tag}h${i + 1}`,
    }));
    const made = new Hosts(hosts, bridge);
    try {
      await ip("link", "add", bridge, "type", "bridge");
      await ip("addr", "add", `10.213.${subnet}.254/24`, "dev", bridge);
      await ip("link", "set", bridge, "up");
      for (const [i, host] of hosts.entries()) {
        const inside = `${tag}n${i + 1}`;
        await ip("netns", "add", host.namespace);
        await ip("link", "add", host.link, "type", "veth", "peer", "name", inside);
        await ip("link", "set", inside, "netns", host.namespace);
        await ip("link", "set", host.link, "master", bridge, "up");
        await ip("-n", host.namespace, "addr", "add", `${host.address}/24`, "dev", inside);
        await ip("-n", host.namespace, "link", "set", inside, "up");
        await ip("-n", host.namespace, "link", "set", "lo", "up");
      }
    } catch (error) {
      await made.destroy();
      throw error;
    }
    return made;
  }

  /**
   * Starts `command` in `host`'s namespace, in a process group of its own (kill(-pid) stops it and
   * what it started).
   */
  spawn(host: Host, command: string[], options: SpawnOptions = {}): ChildProcess {
    return spawn("ip", ["netns", "exec", host.namespace, ...command], { ...options, detached: true });
  }

  /** Cuts `host` off the bridge: its packets go nowhere, its processes run on. */
  async linkDown(host: Host): Promise<void> {
    await ip("link", "set", host.link, "down");
  }

  /** Joins `host` to the bridge again. */
  async linkUp(host: Host): Promise<void> {
    await ip("link", "set", host.link, "up");
  }

  /** Kills what still runs in the namespaces and deletes them and the bridge; safe to call again. */
  async destroy(): Promise<void> {
    for (const host of this.hosts) await removeNamespace(host.namespace);
    // Deleting a namespace deletes the veth pairs in it; this one too, in case its end never moved in.
    for (const host of this.hosts) await ipQuietly("link", "del", host.link);
    await ipQuietly("link", "del", this.bridge);
  }
}

/** Kills every process in `namespace`, then deletes it. */
async function removeNamespace(namespace: string): Promise<void> {
  const pids = await ip("netns", "pids", namespace).catch(() => "");
  for (const pid of pids.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
  await ipQuietly("netns", "del", namespace);
}

/** Namespaces, veths and bridges named by a process of this helper that no longer runs. */
async function removeStale(): Promise<void> {
  const owner = (name: string, pattern: RegExp) => {
    const pid = pattern.exec(name)?.[1];
    return pid !== undefined && !alive(Number(pid));
  };
  const namespaces = (await ip("netns", "list")).split("\n").map((line) => line.split(" ")[0]!);
  for (const namespace of namespaces.filter((name) => owner(name, new RegExp(`^${PREFIX}-(\\d+)-\\d+$`)))) {
    await removeNamespace(namespace);
  }
  const links = (await ip("-o", "link", "show")).split("\n").map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? "");
  for (const link of links.filter((name) => owner(name, new RegExp(`^${PREFIX}(\\d+)(?:br|h\\d+)$`)))) {
    await ipQuietly("link", "del", link);
  }
}

/** A third octet x such that no route of the root namespace is in 10.213.x.0/24. */
async function freeSubnet(): Promise<number> {
  const routes = await ip("-4", "route", "show");
  const taken = new Set([...routes.matchAll(/\b10\.213\.(\d+)\./g)].map((match) => Number(match[1])));
  const start = process.pid % 254;
  for (let i = 0; i < 254; i++) {
    const subnet = (start + i) % 254;
    if (!taken.has(subnet)) return subnet;
  }
  throw new Error("no free subnet in 10.213.0.0/16");
}
