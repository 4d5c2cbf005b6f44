// src/main.ts as a process: the listening line, SIGTERM, the metrics line, a
// failed disk, the warning without --data.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { type PeerReply, type PeerRequest, Type } from "../src/pb/envelope.js";
import { ConsensusClient } from "../src/pb/service.js";
import { deadline } from "./support/deadline.js";
import { freePort } from "./support/ports.js";

const MAIN = fileURLToPath(new URL("../src/main.js", import.meta.url));

/** Runs main.js with `args` (and node's `flags`); resolves with the process and its first stdout line. */
async function start(args: string[], flags: string[] = []) {
  const child = spawn(process.execPath, [...flags, MAIN, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH },
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
  const exited = once(child, "close") as Promise<[number | null, NodeJS.Signals | null]>;
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([
    once(lines, "line").then(([line]) => line as string),
    exited.then(() => undefined),
  ]);
  /** Resolves once stderr matches `pattern`. */
  const printed = (pattern: RegExp) =>
    new Promise<void>((resolve) => {
      const check = () => pattern.test(stderr) && (child.stderr.off("data", check), resolve());
      child.stderr.on("data", check);
      check();
    });
  return { child, first, exited, stderr: () => stderr, printed };
}

test(
  "prints one line when it listens, serves, and exits 0 on SIGTERM after dumping its metrics",
  { timeout: 20_000 },
  async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "main-"));
    try {
      const metrics = path.join(dir, "metrics.jsonl");
      const { child, first, exited, stderr, printed } = await start([
        "--name",
        "r1",
        "--port",
        "0",
        "--metrics",
        metrics,
      ]);
      const port = /^r1 listening on 127\.0\.0\.1:(\d+)$/.exec(first ?? "")?.[1];
      assert.ok(port && Number(port) > 0, `listening line: ${first} ${stderr()}`);
      await printed(/restarts\n/);
      assert.equal(stderr(), "r1: no --data: this replica keeps nothing across restarts\n", "one warning, once");

      const client = new ConsensusClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      const reply = await new Promise<{ success: boolean; error: string }>((resolve, reject) =>
        client.propose(
          { identity: "c1", name: "put", value: Buffer.alloc(0) },
          new grpc.Metadata(),
          deadline(),
          (error, reply) => (error ? reject(error) : resolve(reply)),
        ),
      );
      client.close();
      // Whatever this template's State answers (blank: "not implemented"), the metrics count it.
      assert.equal(reply.success, reply.error === "", reply.error);

      child.kill("SIGTERM");
      assert.deepEqual(await exited, [0, null], stderr());
      const line = JSON.parse((await readFile(metrics, "utf8")).trim()) as Record<string, unknown>;
      assert.equal(line.metric, "server");
      assert.equal(line.name, "r1");
      const answered = reply.success ? [1, 0] : [0, 1];
      assert.deepEqual([line.requests, line.clients, line.commits, line.drops], [1, 1, ...answered]);
      for (const key of ["version", "started", "finished", "throughput", "duration"]) assert.ok(key in line, key);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  "--trace appends a line per Dispatch message received and sent, in wall-clock ns",
  { timeout: 20_000 },
  async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "main-"));
    try {
      const trace = path.join(dir, "r1.jsonl");
      const { child, first, exited, stderr } = await start(["--name", "r1", "--port", "0", "--trace", trace]);
      const port = /^r1 listening on 127\.0\.0\.1:(\d+)$/.exec(first ?? "")?.[1];
      assert.ok(port, `listening line: ${first} ${stderr()}`);
      const before = Date.now() * 1e6;
      const client = new ConsensusClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      const stream = client.dispatch(deadline());
      const reply = once(stream, "data") as Promise<[PeerReply]>;
      stream.write({
        type: Type.BEACON,
        sender: "r2",
        message: { $case: "beacon", value: { timestamp: "t1" } },
      } as PeerRequest);
      const [answer] = await reply;
      stream.end();
      client.close();
      const after = Date.now() * 1e6;
      child.kill("SIGTERM");
      assert.deepEqual(await exited, [0, null], stderr());
      const lines = (await readFile(trace, "utf8"))
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { time: number });
      const timestamp = answer.message?.$case === "beacon" ? answer.message.value.timestamp : "";
      assert.deepEqual(
        lines.map(({ time: _, ...line }) => line),
        [
          { replica: "r1", event: "receive", peer: "r2", type: "BEACON", fields: { timestamp: "t1" } },
          {
            replica: "r1",
            event: "send",
            peer: "r2",
            type: "BEACON",
            reply: true,
            fields: { success: true, timestamp },
          },
        ],
      );
      // A millisecond of slack: Date.now() reads the wall clock to the millisecond.
      for (const { time } of lines)
        assert.ok(time >= before - 1e6 && time <= after + 1e6, `${before} ${time} ${after}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test("a trace it cannot write is a one-line error and exit 1", { timeout: 20_000 }, async () => {
  const trace = path.join(tmpdir(), "no-such-folder-here", "r1.jsonl");
  const { exited, stderr } = await start(["--name", "r1", "--port", "0", "--trace", trace]);
  assert.deepEqual(await exited, [1, null]);
  assert.match(
    stderr(),
    new RegExp(`^error: r1 cannot write its trace to ${trace}: ENOENT: no such file or directory`, "m"),
  );
});

test("a bad flag is a one-line error and exit 1", { timeout: 20_000 }, async () => {
  const { first, exited, stderr } = await start(["--port", "99999"]);
  assert.equal(first, undefined);
  assert.deepEqual(await exited, [1, null]);
  assert.equal(stderr(), 'error: --port: "99999" is not a port (an integer from 0 to 65535)\n');
});

test(
  "stops with one line and exit 1 when its disk fails (an fdatasync fails with EIO)",
  { timeout: 20_000, skip: process.platform === "win32" && "no SIGUSR2 on Windows" },
  async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "main-"));
    try {
      const failing = new URL("support/failing-disk.js", import.meta.url).href;
      const { child, first, exited, stderr } = await start(
        ["--name", "r1", "--port", "0", "--data", dir],
        ["--import", failing],
      );
      assert.match(first ?? "", /^r1 listening on /, stderr());
      child.kill("SIGUSR2"); // its disk appends a record, whose fdatasync fails
      assert.deepEqual(await exited, [1, null], stderr());
      assert.equal(
        stderr(),
        `error: r1 stops: its disk failed, so what it wrote may not be durable: ${dir}/wal: EIO: i/o error, fdatasync\n`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test("says where it is advertised, and prints each change of a peer link once", { timeout: 30_000 }, async (t) => {
  // r2 starts after r1: at first it is not listening, as at a cluster's start.
  const r2Address = `127.0.0.1:${await freePort()}`;
  const r1 = await start([
    "--name",
    "r1",
    "--port",
    "0",
    "--advertise",
    "r1.example:3264",
    "--peers",
    `r2=${r2Address}`,
  ]);
  let r2: Awaited<ReturnType<typeof start>> | undefined;
  // Also after a wait below that never ends: the test's timeout runs this, and no replica outlives the file.
  t.after(() => {
    r1.child.kill("SIGKILL");
    r2?.child.kill("SIGKILL");
  });
  assert.match(r1.first ?? "", /^r1 listening on 127\.0\.0\.1:\d+ \(advertised as r1\.example:3264\)$/);
  await r1.printed(/waiting/);
  r2 = await start(["--name", "r2", "--port", r2Address.split(":")[1]!]);
  assert.equal(r2.first, `r2 listening on ${r2Address}`);
  await r1.printed(/connected/);
  r2.child.kill("SIGKILL");
  await r1.printed(/lost/);
  assert.match(
    r1.stderr(),
    new RegExp(
      "^r1: no --data: this replica keeps nothing across restarts\n" +
        `r1: waiting for r2 \\(${r2Address}\\)\n` +
        `r1: connected to r2 \\(${r2Address}\\)\n` +
        `r1: lost r2 \\(${r2Address}\\): (the connection dropped|connection refused) \\([^\n]*\\)\n$`,
    ),
  );
});
