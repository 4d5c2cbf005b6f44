// Hosts for tests, made of Linux network namespaces: each one a namespace with
// its own address on a veth pair whose other end is on a bridge in the root
// namespace, which also has an address on it, so the test process reaches every
// host and every host reaches the others. Needs root and iproute2's `ip`.
// Host names resolve through a hosts file of each namespace's own (see hostsFile).
// Names carry the test process's pid and a count of the Hosts it made, so a
// run's leftovers (a crash, a kill -9) are recognised and removed by the next
// run, parallel runs leave each other alone, and so do a run's Hosts.
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { mkdir, readdir, rm, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The prefix of every namespace, veth and bridge name made here; the pid that made it follows. */
const PREFIX = "cc";
/** Where `ip netns exec NS` finds the files it mounts over /etc's for what it starts: NETNS_ETC/NS/hosts. */
const NETNS_ETC = "/etc/netns";
/** Namespaces and links of one pid's, by the pid: cc-<pid>-<hosts>-<host>, and cc<pid>-<hosts>br or …h<host>. */
const NAMESPACE = new RegExp(`^${PREFIX}-(\\d+)(?:-\\d+)?-\\d+$`);
const LINK = new RegExp(`^${PREFIX}(\\d+)(?:-\\d+)?(?:br|h\\d+)$`);
/** How many Hosts this process made so far. */
let instances = 0;

/** Why hosts cannot be made here, once asked. */
let unavailable: { why: string | undefined } | undefined;

/**
 * Why hosts cannot be made here, or undefined when they can: root and `ip` are not enough in a
 * container without the capability, so a namespace is made and removed to find out.
 */
export function hostsUnavailable(): string | undefined {
  unavailable ??= { why: probe() };
  return unavailable.why;
}

function probe(): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "network namespaces need root";
  try {
    execFileSync("ip", ["-V"], { stdio: "ignore" });
  } catch {
    return "network namespaces need iproute2's ip command";
  }
  // Named as a host of this pid's Hosts number 0, so that a later run removes it if it is left behind.
  const namespace = `${PREFIX}-${process.pid}-0-0`;
  try {
    execFileSync("ip", ["netns", "add", namespace], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    const said = String((error as { stderr?: Buffer }).stderr ?? "")
      .trim()
      .split("\n")[0];
    return `network namespaces cannot be made here (ip netns add: ${said || "failed"})`;
  }
  execFileSync("ip", ["netns", "del", namespace], { stdio: "ignore" });
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
    const tag = `${PREFIX}${process.pid}-${++instances}`;
    const bridge = `${tag}br`;
    const subnet = await freeSubnet();
    const hosts = Array.from({ length: count }, (_, i) => ({
      namespace: `${PREFIX}-${process.pid}-${instances}-${i + 1}`,
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

  /**
   * Gives every host the same hosts file, each name in `names` resolving to its address, from now on: for
   * what starts after (`ip netns exec` mounts it over /etc/hosts) and for what runs already, as the file is
   * rewritten in place, where that mount points.
   */
  async hostsFile(names: ReadonlyMap<string, string>): Promise<void> {
    const text = ["127.0.0.1 localhost", ...[...names].map(([name, address]) => `${address} ${name}`), ""].join("\n");
    for (const host of this.hosts) {
      await mkdir(path.join(NETNS_ETC, host.namespace), { recursive: true });
      await writeFile(path.join(NETNS_ETC, host.namespace, "hosts"), text);
    }
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
    // The folder was made for these hosts' files unless something else has files there too.
    await rmdir(NETNS_ETC).catch(() => {});
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
  await rm(path.join(NETNS_ETC, namespace), { recursive: true, force: true });
}

/** Namespaces, veths and bridges named by a process of this helper that no longer runs. */
async function removeStale(): Promise<void> {
  const owner = (name: string, pattern: RegExp) => {
    const pid = pattern.exec(name)?.[1];
    return pid !== undefined && !alive(Number(pid));
  };
  const namespaces = (await ip("netns", "list")).split("\n").map((line) => line.split(" ")[0]!);
  for (const namespace of namespaces.filter((name) => owner(name, NAMESPACE))) {
    await removeNamespace(namespace);
  }
  // A namespace whose files outlived it (a run killed between the two deletions).
  const etc = await readdir(NETNS_ETC).catch(() => [] as string[]);
  for (const namespace of etc.filter((name) => owner(name, NAMESPACE))) {
    await rm(path.join(NETNS_ETC, namespace), { recursive: true, force: true });
  }
  const links = (await ip("-o", "link", "show")).split("\n").map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? "");
  for (const link of links.filter((name) => owner(name, LINK))) {
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
