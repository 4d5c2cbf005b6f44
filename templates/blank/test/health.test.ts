// The health service over real gRPC: NOT_SERVING while the replica starts,
// SERVING once ready, NOT_SERVING from the moment the drain begins (seen by
// Check and Watch); and `npm run probe` against a replica process.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { createInterface } from "node:readline";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { service } from "grpc-health-check";
import { checkHealth } from "../src/health.js";
import { PeerReply, PeerRequest, Type } from "../src/pb/envelope.js";
import { ConsensusClient } from "../src/pb/service.js";
import { Replica } from "../src/replica.js";
import { ReplicaServer } from "../src/server.js";
import { Code } from "../src/status.js";
import { deadline } from "./support/deadline.js";

const MAIN = fileURLToPath(new URL("../src/main.js", import.meta.url));
const PROBE = fileURLToPath(new URL("../src/probe.js", import.meta.url));
const insecure = grpc.credentials.createInsecure();
const HealthClient = grpc.makeClientConstructor(service as grpc.ServiceDefinition, "grpc.health.v1.Health");

function propose(client: ConsensusClient): Promise<grpc.ServiceError | undefined> {
  return new Promise((resolve) =>
    client.propose({ identity: "c1", name: "put", value: Buffer.alloc(0) }, new grpc.Metadata(), deadline(), (error) =>
      resolve(error ?? undefined),
    ),
  );
}

/** Opens a Dispatch stream, writes `timestamp`'s beacon; resolves `status` with how the stream ends. */
function dispatch(client: ConsensusClient, timestamp: string) {
  const stream = client.dispatch(deadline());
  const replies: PeerReply[] = [];
  stream.on("data", (reply: PeerReply) => replies.push(reply));
  stream.on("error", () => undefined); // the status says it all
  const status = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
  stream.write({ type: Type.BEACON, sender: "c", message: { $case: "beacon", value: { timestamp } } } as PeerRequest);
  return { stream, replies, status };
}

describe("health", { timeout: 30_000 }, () => {
  test("NOT_SERVING while starting, SERVING once ready, NOT_SERVING from the start of the drain", async () => {
    const replica = new Replica({ name: "r1" });
    let handling!: () => void;
    const handled = new Promise<void>((resolve) => (handling = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // The replica, with a Dispatch handler that holds the request "hold" until released.
    const server = new ReplicaServer({
      name: "r1",
      propose: (request) => replica.propose(request),
      async dispatch(request) {
        if (request.message?.$case === "beacon" && request.message.value.timestamp === "hold") {
          handling();
          await released;
        }
        return replica.dispatch(request);
      },
    });
    server.starting();
    const address = `127.0.0.1:${await server.listen()}`;
    const client = new ConsensusClient(address, insecure);
    const watcher = new HealthClient(address, insecure);
    const watch = watcher.Watch({ service: "" }) as grpc.ClientReadableStream<{ status: string }>;
    const watched: string[] = [];
    let seen: (() => void) | undefined;
    watch.on("data", ({ status }: { status: string }) => (watched.push(status), seen?.()));
    watch.on("error", () => undefined);
    const watchEnded = new Promise<grpc.StatusObject>((resolve) => watch.on("status", resolve));
    const watchedUntil = async (count: number) => {
      while (watched.length < count) await new Promise<void>((resolve) => (seen = resolve));
    };
    try {
      assert.equal(await checkHealth(address, insecure), "NOT_SERVING");
      assert.equal(await checkHealth(address, insecure, { service: "pb.Consensus" }), "NOT_SERVING");
      await watchedUntil(1);
      const early = await propose(client);
      assert.deepEqual([early?.code, early?.details], [Code.UNAVAILABLE, "r1 is starting"]);
      const refused = await dispatch(client, "now").status;
      assert.deepEqual([refused.code, refused.details], [Code.UNAVAILABLE, "r1 is starting"]);

      server.ready();
      assert.equal(await checkHealth(address, insecure), "SERVING");
      assert.equal(await checkHealth(address, insecure, { service: "pb.Consensus" }), "SERVING");
      await watchedUntil(2);
      assert.equal(await propose(client), undefined);

      const held = dispatch(client, "hold");
      await handled;
      const closed = server.close();
      // The drain is held by the request being handled: health says so, and new calls are refused.
      assert.equal(await checkHealth(address, insecure), "NOT_SERVING");
      await watchedUntil(3);
      const late = await propose(client);
      assert.deepEqual([late?.code, late?.details], [Code.UNAVAILABLE, "r1 is stopping"]);
      held.stream.end();
      release();
      await closed;
      assert.equal((await held.status).code, Code.OK);
      assert.equal(held.replies.length, 1, "the request held during the drain was answered");
      assert.equal((await watchEnded).code, Code.OK, "the Watch ends with the server");
      assert.deepEqual(watched, ["NOT_SERVING", "SERVING", "NOT_SERVING"]);
    } finally {
      client.close();
      watcher.close();
      release();
      await server.close();
    }
  });

  test("a service it does not know is NOT_FOUND", async () => {
    const server = new ReplicaServer(new Replica({ name: "r1" }));
    const address = `127.0.0.1:${await server.listen()}`;
    try {
      await assert.rejects(checkHealth(address, insecure, { service: "pb.Other" }), { code: Code.NOT_FOUND });
    } finally {
      await server.close();
    }
  });
});

/** Runs src/probe.js with `args`: its exit code and output. */
async function probe(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [PROBE, ...args], { env: { PATH: process.env.PATH } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    ),
  );
}

describe("npm run probe", { timeout: 30_000 }, () => {
  test("exits 0 against a SERVING replica, by address or by its own flags", async () => {
    const child = spawn(process.execPath, [MAIN, "--name", "r1", "--port", "0"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
      const port = /^r1 listening on 127\.0\.0\.1:(\d+)$/.exec(line)?.[1];
      assert.ok(port, line);
      assert.deepEqual(await probe([`127.0.0.1:${port}`]), {
        code: 0,
        stdout: `127.0.0.1:${port} is SERVING\n`,
        stderr: "",
      });
      assert.deepEqual(await probe(["--port", port]), {
        code: 0,
        stdout: `127.0.0.1:${port} is SERVING\n`,
        stderr: "",
      });
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("exits 1 with one line against a closed port and a replica that is not serving", async () => {
    const closed = net.createServer().listen(0, "127.0.0.1");
    await once(closed, "listening");
    const { port } = closed.address() as net.AddressInfo;
    closed.close();
    await once(closed, "close");
    const refused = await probe([`127.0.0.1:${port}`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`^127\\.0\\.0\\.1:${port}: connection refused \\([^\\n]*\\)\\n$`));

    const server = new ReplicaServer(new Replica({ name: "r1" }));
    server.starting();
    const starting = await server.listen();
    try {
      assert.deepEqual(await probe([`127.0.0.1:${starting}`]), {
        code: 1,
        stdout: "",
        stderr: `127.0.0.1:${starting} is NOT_SERVING\n`,
      });
    } finally {
      await server.close();
    }
    const bad = await probe(["--port", "http"]);
    assert.deepEqual([bad.code, bad.stderr], [1, 'error: --port: "http" is not a port (an integer from 0 to 65535)\n']);
  });
});
