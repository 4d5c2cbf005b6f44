// src/workbench/cluster.ts and `consensus cluster`, with the real replicas of a
// blank project on 127.0.0.1: they listen and answer, their output is prefixed,
// a crash is noticed, and whatever happens no replica outlives its test.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Cluster, type ClusterOptions, type StartCommand } from "../../src/workbench/cluster.js";
import { Type } from "../../src/workbench/pb/envelope.js";
import { beacon } from "../support/beacon.js";
import { OPEN_RESOURCES, spawnChild } from "../support/child.js";
import { CONSENSUS_BIN, NODE } from "../support/paths.js";
import { environment } from "../support/project.js";
import { freePortBlock, portIsFree } from "../support/ports.js";
import { builtReplicaProject } from "../support/replica-project.js";

/** A built blank project, and how its replicas start. */
let project: string;
let start: StartCommand;
before(async () => {
  project = await builtReplicaProject();
  start = { command: ["node", "dist/src/main.js"], cwd: project };
});
after(() => rm(path.dirname(project), { recursive: true, force: true }));

/** Cluster.start with the project's replicas. */
const startCluster = (options: Omit<ClusterOptions, "start">) => Cluster.start({ start, ...options });

/** A stream that keeps what is written to it; `colours` makes it pass for a terminal that takes colours. */
function sink(colours = false) {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk;
      callback();
    },
  });
  return { stream: Object.assign(stream, colours ? { hasColors: () => true } : {}), text: () => text };
}

/**
 * Holds `port` of 127.0.0.1. Connections are closed at once: the replicas' peers dial the port it
 * holds, and a socket with unread bytes never closes, so close() would wait with nothing left to run.
 */
function listen(port: number): Promise<Server> {
  const server = createServer((socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port }, () => resolve(server));
  });
}

const close = (server: Server) => new Promise((resolve) => server.close(resolve));

/** Whether process `pid` still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pids of this process's children that run a replica (main.js), from /proc (Linux). */
function replicaChildren(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]); // after the name: state, ppid
        return parent === process.pid && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("dist/src/main.js");
      } catch {
        return false; // gone meanwhile
      }
    });
}

/** Kills the replicas a failed test of the command left running. */
function killAll(pids: number[]): void {
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
}

/**
 * `text` without the lines in which the replicas report their peer links (`r1 | r1: connected to r2 (…)`,
 * `… waiting for …`, `… lost …`) and warn that they run without --data.
 */
function withoutLinkLines(text: string): string {
  return text.replace(
    /^r\d+ \| r\d+: ((connected to|waiting for|lost) r\d+ \(.*|no --data: this replica keeps nothing across restarts)\n/gm,
    "",
  );
}

describe("Cluster", () => {
  test(
    "starts three replicas that answer, prefixes their lines, and stops them with their metrics",
    { timeout: 30_000 },
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), "cluster-"));
      const output = sink();
      const metrics = path.join(dir, "metrics.jsonl");
      const cluster = await startCluster({ replicas: 3, firstPort: 0, metrics, run: "run-a", output: output.stream });
      try {
        assert.deepEqual(
          cluster.members.map(({ name, host, address }) => [name, host, address.split(":")[0]]),
          ["r1", "r2", "r3"].map((name) => [name, "127.0.0.1", "127.0.0.1"]),
        );
        assert.equal(new Set(cluster.members.map((member) => member.port)).size, 3);
        for (const { name, port, address } of cluster.members) {
          assert.equal(address, `127.0.0.1:${port}`);
          const reply = await beacon(address);
          assert.deepEqual([reply.type, reply.sender, reply.success], [Type.BEACON, name, true]);
          assert.ok(output.text().includes(`${name} | ${name} listening on ${address}\n`), output.text());
        }
        assert.doesNotMatch(output.text(), /\x1b/, "no colour on a stream that is not a terminal");

        const exits = await cluster.stop();
        assert.deepEqual(
          exits,
          ["r1", "r2", "r3"].map((name) => ({ name, code: 0, signal: null })),
        );
        assert.equal(await cluster.stop("SIGKILL"), exits, "a second stop is the first");
        assert.ok(cluster.members.every(({ pid }) => !alive(pid)));
        const lines = (await readFile(metrics, "utf8"))
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line) as Record<string, unknown>);
        assert.deepEqual(
          lines.map(({ metric, name, run }) => [metric, name, run]).sort(),
          ["r1", "r2", "r3"].map((name) => ["server", name, "run-a"]),
        );
        const settled = await Promise.race([cluster.died.then(() => "died"), sleep(50, "no")]);
        assert.equal(settled, "no", "died does not resolve for replicas stop() stopped");
      } finally {
        await cluster.stop("SIGKILL"); // after a failure; a no-op after the test's own stop
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  test("--fsync reaches every replica's command line", { timeout: 30_000 }, async () => {
    const cluster = await startCluster({ replicas: 2, firstPort: 0, fsync: "never", output: sink().stream });
    try {
      for (const { pid } of cluster.members) {
        const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        assert.equal(args[args.indexOf("--fsync") + 1], "never", args.join(" "));
      }
    } finally {
      await cluster.stop("SIGKILL");
    }
  });

  test("died names a replica killed behind its back", { timeout: 30_000 }, async () => {
    const cluster = await startCluster({ replicas: 3, firstPort: 0, output: sink().stream });
    try {
      process.kill(cluster.members[1]!.pid, "SIGKILL");
      assert.deepEqual(await cluster.died, { name: "r2", code: null, signal: "SIGKILL" });
      assert.deepEqual(await cluster.stop(), [
        { name: "r1", code: 0, signal: null },
        { name: "r2", code: null, signal: "SIGKILL" },
        { name: "r3", code: 0, signal: null },
      ]);
    } finally {
      await cluster.stop("SIGKILL"); // after a failure; a no-op after the test's own stop
    }
  });

  test("start rejects naming the replica whose port is taken, and stops the others", { timeout: 30_000 }, async () => {
    const [port] = (await freePortBlock(3)) as [number];
    const blocker = await listen(port + 1);
    const output = sink();
    const errors = sink(true);
    try {
      const starting = startCluster({
        replicas: 3,
        firstPort: port,
        output: output.stream,
        errorOutput: errors.stream,
      });
      const pids = replicaChildren(); // spawned before start's first await
      assert.equal(pids.length, 3, "three replicas spawned");
      await assert.rejects(starting, (error: Error) => {
        assert.match(
          error.message,
          new RegExp(`^r2 exited with code 1: error: r2 cannot listen on 127\\.0\\.0\\.1:${port + 1}: .*EADDRINUSE`),
        );
        assert.doesNotMatch(error.message, /\n/);
        return true;
      });
      // The same line went to errorOutput, its prefix coloured as for a terminal.
      assert.match(errors.text(), /\x1b\[\d+mr2 \|\x1b\[39m error: r2 cannot listen/);
      // r1 and r3 are gone once start has rejected, and their ports are free.
      assert.deepEqual(
        pids.filter((pid) => alive(pid)),
        [],
      );
      assert.deepEqual(await Promise.all([port, port + 2].map(portIsFree)), [true, true]);
    } finally {
      await close(blocker);
    }
  });

  test("start rejects when the replicas do not listen in time, and stops them", { timeout: 30_000 }, async () => {
    const output = sink();
    const ports = await freePortBlock(3);
    assert.deepEqual(replicaChildren(), []);
    // Given its ports, start spawns the replicas before its first await: they are this process's children now.
    const starting = startCluster({ replicas: 3, firstPort: ports[0], timeout: 1, output: output.stream });
    const pids = replicaChildren();
    assert.equal(pids.length, 3, "three replicas spawned");
    await assert.rejects(starting, { message: "r1, r2, r3 did not print a listening line within 1 ms" });
    assert.deepEqual(
      pids.filter((pid) => alive(pid)),
      [],
      "every replica is gone once start has rejected",
    );
    assert.deepEqual(await Promise.all(ports.map(portIsFree)), [true, true, true], "their ports are free");
    assert.equal(output.text(), "", "they were stopped before they could listen");
  });

  test("start rejects bad options with a one-line message", { timeout: 30_000 }, async () => {
    const cases: [Omit<ClusterOptions, "start">, string][] = [
      [{ replicas: 0 }, "0 replicas: a cluster has an integer number of replicas from 1 to 64"],
      [{ replicas: 65 }, "65 replicas: a cluster has an integer number of replicas from 1 to 64"],
      [{ replicas: 2.5 }, "2.5 replicas: a cluster has an integer number of replicas from 1 to 64"],
      [{ replicas: 3, firstPort: -1 }, "first port -1 is not a port (an integer from 0 to 65535)"],
      [{ replicas: 3, firstPort: 70000 }, "first port 70000 is not a port (an integer from 0 to 65535)"],
      [{ replicas: 3, firstPort: 65534 }, "3 replicas from port 65534 need ports up to 65536, past 65535"],
      [{ replicas: 3, host: "" }, 'host "" is not an address'],
    ];
    for (const [options, message] of cases) {
      await assert.rejects(startCluster({ ...options, output: sink().stream }), { message });
    }
  });
});

describe("the cluster command", () => {
  /** Runs the command with `args` for test `t`; the replicas' pids it lists, and its exit. */
  function run(t: TestContext, args: string[]) {
    const child = spawnChild([NODE, "--import", OPEN_RESOURCES, CONSENSUS_BIN, "cluster", ...args], {
      cwd: project,
      env: environment({ NO_COLOR: "1" }),
      t,
    });
    const exited = child.exited.then(({ code, signal }) => [code, signal]);
    /** The pids of the replicas, once the command printed its hint line. */
    const pids = child.line(/^Ctrl-C stops all \(pids (.*)\)$/).then((line) => {
      const list = /\(pids (.*)\)$/.exec(line)![1]!;
      return new Map(list.split(" ").map((pair) => [pair.split("=")[0]!, Number(pair.split("=")[1])]));
    });
    pids.catch(() => undefined); // a test that expects no pids does not wait for them
    return { child, exited, pids, stdout: () => child.stdout, stderr: () => child.stderr };
  }

  test("prints the members, and stops them all on SIGINT with exit 0", { timeout: 30_000 }, async (t) => {
    const [port] = (await freePortBlock(3)) as [number];
    const dir = await mkdtemp(path.join(tmpdir(), "cluster-"));
    const metrics = path.join(dir, "metrics.jsonl");
    const command = run(t, ["--replicas", "3", "--port", String(port), "--metrics", metrics]);
    const pids: number[] = [];
    try {
      pids.push(...(await command.pids).values());
      const addresses = [0, 1, 2].map((i) => `127.0.0.1:${port + i}`);
      assert.ok(
        command
          .stdout()
          .includes(`cluster of 3 on 127.0.0.1: r1=${addresses[0]} r2=${addresses[1]} r3=${addresses[2]}\n`),
        command.stdout(),
      );
      for (const [i, address] of addresses.entries()) {
        assert.ok(command.stdout().includes(`r${i + 1} | r${i + 1} listening on ${address}\n`), command.stdout());
      }
      assert.equal((await beacon(addresses[1]!)).sender, "r2");
      const warned = command.stderr().match(/^r\d \| r\d: no --data: this replica keeps nothing across restarts$/gm);
      assert.deepEqual(
        warned?.sort(),
        ["r1", "r2", "r3"].map((r) => `${r} | ${r}: no --data: this replica keeps nothing across restarts`),
      );

      command.child.process.kill("SIGINT");
      // Its replicas drain for at most 5 s; then nothing may hold it.
      const { code, signal } = await command.child.exitWithin(15_000);
      assert.deepEqual([code, signal], [0, null], command.stderr());
      assert.equal(withoutLinkLines(command.stderr()), "");
      assert.ok(pids.every((pid) => !alive(pid)));
      assert.equal((await readFile(metrics, "utf8")).trim().split("\n").length, 3);
    } finally {
      killAll(pids);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("exits 1 naming a replica that was killed, after stopping the others", { timeout: 30_000 }, async (t) => {
    const command = run(t, ["--replicas", "3", "--port", "0"]);
    const pids: number[] = [];
    try {
      const byName = await command.pids;
      pids.push(...byName.values());
      process.kill(byName.get("r3")!, "SIGKILL");
      assert.deepEqual(await command.exited, [1, null]);
      assert.equal(withoutLinkLines(command.stderr()), "error: r3 was killed by SIGKILL\n");
      assert.ok(pids.every((pid) => !alive(pid)));
    } finally {
      killAll(pids);
    }
  });

  test("a bad flag is one error line and exit 1; --help is the usage and exit 0", { timeout: 30_000 }, async (t) => {
    const bad = run(t, ["--replicas", "3", "--bogus"]);
    assert.deepEqual(await bad.exited, [1, null]);
    assert.equal(bad.stderr(), "error: unknown option '--bogus'\n");
    assert.equal(bad.stdout(), "");

    const zero = run(t, ["--replicas", "0"]);
    assert.deepEqual(await zero.exited, [1, null]);
    assert.equal(zero.stderr(), "error: 0 replicas: a cluster has an integer number of replicas from 1 to 64\n");

    const fsync = run(t, ["--fsync", "sometimes"]);
    assert.deepEqual(await fsync.exited, [1, null]);
    assert.equal(
      fsync.stderr(),
      "error: option '--fsync <when>' argument 'sometimes' is invalid. Allowed choices are always, batch, never.\n",
    );

    const help = run(t, ["--help"]);
    assert.deepEqual(await help.exited, [0, null]);
    assert.match(help.stdout(), /^Usage: consensus cluster \[options\]\n/);
    assert.match(help.stdout(), /--replicas <n>/);
  });

  test("outside a project: one error line, nothing started", { timeout: 30_000 }, async (t) => {
    const outside = await mkdtemp(path.join(tmpdir(), "cluster-outside-"));
    try {
      const child = spawnChild([NODE, CONSENSUS_BIN, "cluster"], {
        cwd: outside,
        env: environment({ NO_COLOR: "1" }),
        t,
      });
      const { code, signal, stderr } = await child.result();
      assert.deepEqual([code, signal], [1, null]);
      assert.match(stderr, /^error: no consensus\.json in \S+ or any folder above it/);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});
