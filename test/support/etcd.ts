// Three etcd members on 127.0.0.1 (Debian's etcd-server, or any etcd 3 on PATH), each with a temp
// data folder and free ports, for the workbench's etcd target: its test and npm run bench:etcd.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestContext } from "node:test";
import { type Child, spawnChild } from "./child.js";
import { freePortBlock } from "./ports.js";

/** Why etcd cannot run here (one line), or undefined when an `etcd` binary is on PATH. */
export function etcdMissing(): string | undefined {
  const { error } = spawnSync("etcd", ["--version"], { stdio: "ignore" });
  return error === undefined ? undefined : "no etcd on PATH (apt-get install etcd-server)";
}

/** How long three members may take to elect a leader and serve, on a loaded machine. */
const READY_MS = 30_000;

export interface EtcdCluster {
  /** The members' client addresses, host:port. */
  endpoints: string[];
  /** Stops the members (SIGTERM, each waited for) and removes their data. */
  stop(): Promise<void>;
}

/**
 * Starts three members; resolves once each serves clients, which etcd does only once it has
 * joined the cluster and a leader is elected. `fsync: false` runs them with --unsafe-no-fsync.
 * A member of a test `t` that still runs when it ends is stopped (support/child.ts).
 */
export async function startEtcd({ fsync = true, t }: { fsync?: boolean; t?: TestContext } = {}): Promise<EtcdCluster> {
  const ports = await freePortBlock(6);
  const data = mkdtempSync(path.join(os.tmpdir(), "consensus-etcd-"));
  const names = ["e1", "e2", "e3"];
  const peer = (i: number) => `http://127.0.0.1:${ports[3 + i]}`;
  const client = (i: number) => `127.0.0.1:${ports[i]}`;
  const initial = names.map((name, i) => `${name}=${peer(i)}`).join(",");
  const members: Child[] = names.map((name, i) =>
    spawnChild(
      [
        "etcd",
        ...["--name", name, "--data-dir", path.join(data, name)],
        ...["--listen-client-urls", `http://${client(i)}`, "--advertise-client-urls", `http://${client(i)}`],
        ...["--listen-peer-urls", peer(i), "--initial-advertise-peer-urls", peer(i)],
        ...["--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", "bench"],
        // JSON lines on stdout, so that readiness is a line to wait for.
        ...["--logger", "zap", "--log-outputs", "stdout"],
        ...(fsync ? [] : ["--unsafe-no-fsync"]),
      ],
      { stdio: ["ignore", "pipe", "pipe"], t },
    ),
  );
  const stop = async () => {
    for (const member of members) member.process.kill("SIGTERM");
    await Promise.all(members.map((member) => member.exited));
    rmSync(data, { recursive: true, force: true });
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    // Printed once the member is ready: joined, a leader elected, its client port served.
    const ready = Promise.all(members.map((member) => member.line(/"msg":"serving client traffic/)));
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`etcd members not ready within ${READY_MS} ms`)), READY_MS);
    });
    await Promise.race([ready, late]);
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return { endpoints: names.map((_, i) => client(i)), stop };
}
