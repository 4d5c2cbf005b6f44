// `consensus bench`: against a real three-replica cluster of a blank project it
// completes with no errors and writes valid results; its Dispatch load catches
// a replica that answers out of order, too little, with the wrong type or not
// at all; --connections opens that many connections to a replica (counted by a
// TCP proxy in front of it); bad flags are refused with one line and change nothing.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { rfc3339 } from "../../src/workbench/clock.js";
import { LatencyHistogram } from "../../src/workbench/histogram.js";
import { dispatchLoad } from "../../src/workbench/load/dispatch.js";
import { Measurement } from "../../src/workbench/measurement.js";
import { type PeerReply, type PeerRequest, Type } from "../../src/workbench/pb/envelope.js";
import { type ConsensusServer, ConsensusService } from "../../src/workbench/pb/service.js";
import type { ClientRecord, ServerRecord } from "../../src/workbench/results.js";
import { type Child, OPEN_RESOURCES, spawnChild } from "../support/child.js";
import { CONSENSUS_BIN, NODE } from "../support/paths.js";
import { environment, runBin } from "../support/project.js";
import { builtReplicaProject } from "../support/replica-project.js";

/** A built blank project, whose replicas the bench's own clusters run. */
let dir: string;
/** A folder outside any project. */
let outside: string;
before(async () => {
  dir = await builtReplicaProject();
  outside = await mkdtemp(path.join(tmpdir(), "bench-outside-"));
});
after(async () => {
  await rm(path.dirname(dir), { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

/** Runs `consensus bench` in the project (or `cwd`) for test `t`; resolves with its exit code and output. */
const bench = (t: TestContext, args: string[], cwd = dir) =>
  runBin(CONSENSUS_BIN, ["bench", ...args], cwd, {}, undefined, { t });

async function lines(file: string): Promise<(ClientRecord | ServerRecord)[]> {
  return (await readFile(file, "utf8"))
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as ClientRecord | ServerRecord);
}

/** Checks the figures of a client line hang together. */
function assertValid(client: ClientRecord, bench: string): void {
  assert.equal(client.metric, "client");
  assert.equal(client.bench, bench);
  assert.match(client.version, /^\d+\.\d+\.\d+/);
  assert.match(client.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.ok(client.requests > 0, "something was answered");
  assert.equal(client.successes + client.declines, client.requests);
  assert.equal(client.errors, 0, client.error);
  assert.ok(client.duration > 0 && Math.abs(client.throughput - client.requests / client.duration) < 1e-6);
  const { min, p50, p90, p99, p999, max } = client.latency;
  assert.ok(0 < min && min <= p50 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max, "latencies rise");
  assert.ok(client.timeline.counts.reduce((a, b) => a + b, 0) <= client.requests);
  assert.ok(client.timeline.counts.length >= 1);
  const [first, last] = [client.percentiles[0]!, client.percentiles.at(-1)!];
  assert.deepEqual([first[0], last], [0, [100, max]]);
  for (let i = 1; i < client.percentiles.length; i++) {
    assert.ok(client.percentiles[i]![0] > client.percentiles[i - 1]![0], "percentiles rise");
    assert.ok(client.percentiles[i]![1] >= client.percentiles[i - 1]![1], "latencies by percentile rise");
  }
}

describe("against a cluster of three it starts itself", () => {
  const quick = ["--duration", "0.6", "--warmup", "0.2", "--interval", "0.1"];

  test(
    "propose: every replica loaded, no errors, one client line and three server lines of the run",
    { timeout: 60_000 },
    async (t) => {
      const results = path.join(dir, "propose.jsonl");
      const report = path.join(dir, "propose.html");
      const run = await bench(t, ["propose", ...quick, "--concurrency", "6", "--results", results, "--report", report]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^requests +[\d,]+ in \d+\.\d\d s: [\d,]+\/s$/m);
      const records = await lines(results);
      const client = records.at(-1) as ClientRecord;
      assertValid(client, "propose");
      assert.equal(client.targets.length, 3);
      // The blank replica declines every proposal ("not implemented").
      assert.equal(client.declines, client.requests);
      const servers = records.filter((record): record is ServerRecord => record.metric === "server");
      assert.deepEqual(servers.map((server) => [server.name, server.run]).sort(), [
        ["r1", client.run],
        ["r2", client.run],
        ["r3", client.run],
      ]);
      // Two clients per replica; the servers also saw the warm-up's requests.
      assert.ok(servers.every((server) => server.clients === 2));
      assert.ok(servers.reduce((sum, server) => sum + server.requests, 0) >= client.requests);
      // The report of the run, drawn again from the results file, is the same page.
      const again = path.join(dir, "again.html");
      const redraw = await runBin(CONSENSUS_BIN, ["report", results, "--output", again], dir);
      assert.equal(redraw.code, 0, redraw.stderr);
      assert.equal(redraw.stdout, `✔ run ${client.run} of ${results} drawn in ${again}\n`);
      assert.equal(await readFile(again, "utf8"), await readFile(report, "utf8"));
    },
  );

  test("dispatch: two streams × window 8 to r2, every reply checked, no errors", { timeout: 60_000 }, async (t) => {
    const results = path.join(dir, "dispatch.jsonl");
    const run = await bench(t, [
      "dispatch",
      ...quick,
      "--streams",
      "2",
      "--window",
      "8",
      "--target",
      "r2",
      "--results",
      results,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const client = (await lines(results)).at(-1) as ClientRecord;
    assertValid(client, "dispatch");
    assert.equal(client.successes, client.requests);
    assert.deepEqual([client.targets.length, client.flags.streams, client.flags.window], [1, 2, 8]);
    assert.deepEqual([client.flags.replicas, client.flags.port], [3, 0]);
    // r2 handled every message counted (and the warm-up's); the others none.
    const servers = new Map(
      (await lines(results))
        .filter((record): record is ServerRecord => record.metric === "server" && record.run === client.run)
        .map((server) => [server.name, server.messages]),
    );
    assert.ok(servers.get("r2")! >= client.requests, `r2 handled ${servers.get("r2")} of ${client.requests}`);
    assert.deepEqual([servers.get("r1"), servers.get("r3")], [0, 0]);
  });

  test(
    "--progress: a line rewritten in place while it runs, cleared before the figures",
    { timeout: 60_000 },
    async (t) => {
      const results = path.join(dir, "progress.jsonl");
      const run = await bench(t, [
        "dispatch",
        "--duration",
        "1.2",
        "--warmup",
        "0",
        "--replicas",
        "1",
        "--progress",
        "--results",
        results,
      ]);
      assert.equal(run.code, 0, run.stderr);
      const updates = run.stdout.split("\r\x1b[K").slice(1, -1);
      assert.ok(updates.length >= 2, run.stdout);
      for (const update of updates)
        assert.match(update, /^[\d,]+\/s {2}[\d,]+ answered {2}p99 \d+(\.\d+)? (µs|ms) {2}errors 0$/);
      assert.match(run.stdout, /\r\x1b\[Kmessages +[\d,]+ in \d+\.\d\d s/);
    },
  );

  test(
    "Ctrl-C ends the counted part early: the replicas stopped after the load, the results written",
    { timeout: 60_000 },
    async (t) => {
      const results = path.join(dir, "interrupted.jsonl");
      // Its own process group, which a terminal's Ctrl-C signals as a whole.
      const child = spawnChild(
        [
          NODE,
          "--import",
          OPEN_RESOURCES,
          CONSENSUS_BIN,
          ...["bench", "propose", "--duration", "30", "--warmup", "0.2", "--interval", "0.1", "--results", results],
        ],
        { cwd: dir, detached: true, env: environment({ NO_COLOR: "1" }), t },
      );
      await child.line(/warm-up/);
      // Into the counted part (0.2 s of warm-up), well short of its 30 s.
      await sleep(600);
      process.kill(-child.process.pid!, "SIGINT");
      await child.line(/^appended run /);
      // Its replicas drain for at most 5 s; then nothing may hold it.
      const { code, stdout, stderr } = await child.exitWithin(15_000);
      const output = stdout + stderr;
      assert.equal(code, 0, output);
      const records = await lines(results);
      const client = records.at(-1) as ClientRecord;
      assertValid(client, "propose");
      assert.ok(client.duration < 5, `counted ${client.duration} s of 30`);
      assert.equal(records.filter((record) => record.metric === "server" && record.run === client.run).length, 3);
    },
  );

  test(
    "nothing answered for twice --timeout: the run gives up instead of waiting for its --requests",
    { timeout: 60_000 },
    async (t) => {
      // A replica that accepts every call and answers none.
      const silent = new grpc.Server();
      const service: ConsensusServer = { propose: () => undefined, dispatch: () => undefined };
      silent.addService(ConsensusService, service);
      const port = await new Promise<number>((resolve, reject) =>
        silent.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
          error ? reject(error) : resolve(bound),
        ),
      );
      const results = path.join(dir, "gives-up.jsonl");
      const timeout = 500;
      const args = ["--target", `127.0.0.1:${port}`, "--requests", "10", "--warmup", "0", "--timeout", String(timeout)];
      try {
        // Replicas running elsewhere need no project around the bench.
        const run = await bench(t, ["propose", ...args, "--results", results], outside);
        assert.equal(run.code, 1);
        assert.match(run.stderr, /^error: \d+ errors, the first: client \d+: 127\.0\.0\.1:\d+: DEADLINE_EXCEEDED: /);
        const client = (await lines(results)).at(-1) as ClientRecord;
        assert.equal(client.requests, 0);
        // Counted from the start (no warm-up) to the give-up: past twice --timeout, and by at most one more
        // period of the watchdog that checks every half --timeout, with as much again for a late timer.
        assert.ok(client.duration * 1000 > 2 * timeout, `gave up after ${client.duration} s`);
        assert.ok(client.duration * 1000 < 2 * timeout + 2 * (timeout / 2), `gave up after ${client.duration} s`);
        assert.deepEqual(
          [client.flags.replicas, client.flags.port],
          [undefined, undefined],
          "no cluster, no cluster flags",
        );
      } finally {
        silent.forceShutdown();
      }
    },
  );

  test("--requests counts that many answers", { timeout: 60_000 }, async (t) => {
    const results = path.join(dir, "requests.jsonl");
    const run = await bench(t, [
      "dispatch",
      "--requests",
      "500",
      "--warmup",
      "0",
      "--replicas",
      "1",
      "--results",
      results,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(((await lines(results)).at(-1) as ClientRecord).requests, 500);
  });
});

describe("--connections: the clients spread over that many HTTP/2 connections", () => {
  /** A replica of the project; its address. */
  let replica: Child;
  let address: string;
  before(
    async () => {
      // For the three tests below, so bound to none of them: the default deadline, and the hook after.
      replica = spawnChild([NODE, "dist/src/main.js", "--name", "r1", "--port", "0"], {
        cwd: dir,
        env: environment({}),
      });
      address = / on (\S+)$/.exec(await replica.line(/ listening on /))![1]!;
    },
    { timeout: 30_000 },
  );
  after(async () => {
    replica.process.kill("SIGKILL");
    await replica.exited;
  });

  /** A TCP proxy to the replica; resolves with its address and the connections it has accepted so far. */
  async function countingProxy(): Promise<{ address: string; accepted: () => number; close: () => void }> {
    const [host, port] = [
      address.slice(0, address.lastIndexOf(":")),
      Number(address.slice(address.lastIndexOf(":") + 1)),
    ];
    let accepted = 0;
    const sockets = new Set<Socket>();
    const proxy = createServer((client) => {
      accepted++;
      const upstream = connect(port, host);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("error", () => undefined);
        socket.on("close", () => sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    return {
      address: `127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      accepted: () => accepted,
      close: () => {
        proxy.close();
        for (const socket of sockets) socket.destroy();
      },
    };
  }

  for (const [flag, expected] of [
    ["no flag", 1],
    ["--connections 1", 1],
    ["--connections 4", 4],
  ] as const) {
    test(`${flag}: ${expected} for 4 clients`, { timeout: 60_000 }, async (t) => {
      const proxy = await countingProxy();
      try {
        const results = path.join(outside, `connections-${expected}-${flag.length}.jsonl`);
        const flags = flag === "no flag" ? [] : flag.split(" ");
        const args = ["--target", proxy.address, "--concurrency", "4", "--requests", "200", "--warmup", "0"];
        const run = await bench(t, ["propose", ...args, ...flags, "--results", results], outside);
        assert.equal(run.code, 0, run.stderr);
        const client = (await lines(results)).at(-1) as ClientRecord;
        assert.ok(client.requests >= 200);
        assert.equal(client.flags.connections, expected);
        assert.equal(proxy.accepted(), expected);
      } finally {
        proxy.close();
      }
    });
  }
});

/** A Dispatch server that answers beacons the way `answer` says: with the replies to write now. */
async function brokenServer(
  answer: (request: PeerRequest, index: number, reply: PeerReply) => PeerReply[] | "end" | "fail",
): Promise<{ address: string; close: () => void }> {
  const server = new grpc.Server();
  const service: ConsensusServer = {
    propose: (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED }),
    dispatch(call) {
      let index = 0;
      let ended = false;
      call.on("data", (request: PeerRequest) => {
        if (ended) return;
        const reply: PeerReply = {
          type: request.type,
          sender: "broken",
          success: true,
          message: { $case: "beacon", value: { timestamp: rfc3339() } },
        };
        const outcome = answer(request, index++, reply);
        if (outcome === "end") ((ended = true), call.end());
        else if (outcome === "fail")
          ((ended = true), call.emit("error", { code: grpc.status.UNAVAILABLE, details: "going away" }));
        else for (const each of outcome) call.write(each);
      });
      call.on("error", () => undefined);
    },
  };
  server.addService(ConsensusService, service);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { address: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
}

describe("the Dispatch load against a broken replica", () => {
  async function measure(answer: Parameters<typeof brokenServer>[0], timeout = 2000): Promise<Measurement> {
    const server = await brokenServer(answer);
    const measurement = new Measurement({ warmup: 0, duration: 0.5, requests: 0, interval: 0.1, timeout: 5000 });
    measurement.start();
    try {
      await dispatchLoad({ targets: [server.address], streams: 1, window: 8, timeout }, measurement);
    } finally {
      server.close();
    }
    return measurement;
  }

  test("a reply out of order", { timeout: 30_000 }, async () => {
    let held: PeerReply | undefined;
    const measurement = await measure((_request, index, reply) => {
      if (index === 10) return ((held = reply), []);
      if (index === 11) return [reply, held!]; // replies 11 and 12 swapped
      return [reply];
    });
    assert.equal(measurement.errors, 1);
    assert.match(measurement.firstError!, /^stream 1: reply 12 is out of order: stamped \S+, before reply 11 \(\S+\)$/);
    assert.equal(measurement.answers, 11, "the replies before it counted");
  });

  test("a reply missing, the stream then ended", { timeout: 30_000 }, async () => {
    const measurement = await measure((_request, index, reply) => (index === 20 ? "end" : [reply]));
    assert.equal(measurement.errors, 1);
    assert.match(measurement.firstError!, /^stream 1: ended after 20 replies to \d+ requests$/);
  });

  test("a reply missing, the stream left open", { timeout: 30_000 }, async () => {
    const measurement = await measure((_request, index, reply) => (index === 5 ? [] : [reply]), 300);
    assert.equal(measurement.errors, 1);
    assert.match(measurement.firstError!, /^stream 1: no reply for 300 ms with \d+ requests in flight$/);
  });

  test("a reply of another type", { timeout: 30_000 }, async () => {
    const measurement = await measure((_request, index, reply) => [
      index === 3 ? { ...reply, type: 7 as Type } : reply,
    ]);
    assert.match(measurement.firstError!, /^stream 1: reply 4 is a type 7 reply to a BEACON request$/);
  });

  test("a reply too many", { timeout: 30_000 }, async () => {
    const measurement = await measure((_request, index, reply) => (index === 2 ? [reply, reply] : [reply]));
    assert.match(measurement.firstError!, /^stream 1: reply \d+ answers no request$/);
  });

  test("no status after the last reply", { timeout: 30_000 }, async () => {
    const measurement = await measure((_request, _index, reply) => [reply], 300);
    assert.equal(measurement.errors, 1);
    assert.match(measurement.firstError!, /^stream 1: no status for 300 ms after the last reply$/);
  });

  test("the replica's server gone mid-run", { timeout: 30_000 }, async () => {
    const server = await brokenServer((_request, _index, reply) => [reply]);
    const measurement = new Measurement({ warmup: 0, duration: 5, requests: 0, interval: 0.1, timeout: 5000 });
    measurement.start();
    setTimeout(() => server.close(), 200);
    await dispatchLoad({ targets: [server.address], streams: 2, window: 8, timeout: 2000 }, measurement);
    assert.ok(measurement.stopped, "the run ended once every stream had failed");
    assert.ok(measurement.errors >= 2, `${measurement.errors} errors`);
    assert.ok(measurement.answers > 0);
  });

  test("a stream ended with an error status", { timeout: 30_000 }, async () => {
    const measurement = await measure((_request, index, reply) => (index === 2 ? "fail" : [reply]));
    assert.equal(measurement.errors, 1);
    assert.match(measurement.firstError!, /^stream 1: ended with UNAVAILABLE: going away$/);
  });
});

describe("refused flags", () => {
  const refusals: [string, string[], RegExp][] = [
    ["no load", [], /^error: missing required argument 'load'$/],
    ["an unknown load", ["raft"], /^error: unknown load raft: propose, dispatch or kv$/],
    [
      "an unknown fault",
      ["kv", "--nemesis", "kill,flood"],
      /^error: --nemesis: unknown fault "flood" \(the faults are kill, pause, partition, delay\)$/,
    ],
    ["a seed that is not one", ["kv", "--seed", "-3"], /^error: --seed -3: a seed is an integer from 0 to 4294967295$/],
    ["a fraction of reads above 1", ["kv", "--reads", "1.5"], /^error: --reads "1\.5" is not a fraction from 0 to 1$/],
    ["no keys", ["kv", "--keys", "0"], /^error: --keys "0" is not an integer from 1 to 1000000$/],
    [
      "--check for a load without a history",
      ["propose", "--check"],
      /^error: --check checks a kv run's history: bench kv --check$/,
    ],
    [
      "--sticky for a load without kv clients",
      ["propose", "--sticky"],
      /^error: --sticky is for kv clients \(propose clients always stay\): bench kv --sticky$/,
    ],
    [
      "a nemesis for replicas the bench did not start",
      ["kv", "--nemesis", "kill", "--target", "127.0.0.1:1"],
      /^error: --nemesis breaks the bench's own cluster: name its replicas \(r1,r2\) in --target, or give none$/,
    ],
    [
      "a kill with fewer than three replicas",
      ["kv", "--nemesis", "kill", "--replicas", "2"],
      /^error: --nemesis kill needs at least 3 replicas, so that a majority stays up and connected; there are 2$/,
    ],
    [
      "an fsync for replicas the bench did not start",
      ["kv", "--fsync", "never", "--target", "127.0.0.1:1"],
      /^error: --fsync sets the bench's own replicas: name them \(r1,r2\) in --target, or give none$/,
    ],
    [
      "an fsync that is none of the replicas'",
      ["kv", "--fsync", "sometimes"],
      /^error: option '--fsync <when>' argument 'sometimes' is invalid\. Allowed choices are always, batch, never\.$/,
    ],
    ["an unknown flag", ["dispatch", "--bogus", "2"], /^error: unknown option '--bogus'$/],
    ["a window of 0", ["dispatch", "--window", "0"], /^error: --window "0" is not an integer from 1 to 100000$/],
    [
      "no connections",
      ["propose", "--connections", "0"],
      /^error: --connections "0" is not an integer from 1 to 10000$/,
    ],
    [
      "more connections than clients",
      ["propose", "--concurrency", "4", "--connections", "5"],
      /^error: --connections 5: more connections than the 4 clients \(--concurrency\)$/,
    ],
    [
      "a duration that is not a number",
      ["propose", "--duration", "soon"],
      /^error: --duration "soon" is not a number of seconds/,
    ],
    ["a port out of range", ["propose", "--port", "70000"], /^error: --port "70000" is not an integer from 0 to 65535/],
    [
      "a target that is not a replica of the cluster",
      ["dispatch", "--target", "r9", "--replicas", "1"],
      /^error: no replica r9 in a cluster of 1 \(r1 … r1\)$/,
    ],
    [
      "a target that is not host:port",
      ["dispatch", "--target", "r1=localhost"],
      /^error: --target r1=localhost: localhost is not host:port$/,
    ],
    ["a second argument", ["dispatch", "propose"], /^error: too many arguments for 'bench'/],
  ];
  for (const [what, args, message] of refusals) {
    test(what, { timeout: 60_000 }, async (t) => {
      const results = path.join(dir, `refused-${what.replaceAll(" ", "-")}.jsonl`);
      const run = await bench(t, [...args, "--results", results]);
      assert.equal(run.code, 1);
      assert.match(run.stderr.trim(), message);
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
      assert.equal(existsSync(results), false, "no results written");
    });
  }

  test("a cluster of its own outside a project", { timeout: 60_000 }, async (t) => {
    const run = await bench(t, ["propose", "--duration", "1"], outside);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      "error: no consensus.json here or above to start replicas from: run inside a project, or --target host:port\n",
    );
    assert.equal(existsSync(path.join(outside, "bench.jsonl")), false);
  });

  test("report of a missing results file", { timeout: 30_000 }, async () => {
    const run = await runBin(CONSENSUS_BIN, ["report", "none.jsonl"], dir);
    assert.equal(run.code, 1);
    assert.equal(run.stderr, "error: cannot read results file none.jsonl (ENOENT)\n");
    assert.equal(existsSync(path.join(dir, "none.html")), false);
  });

  test("a results file with a line that is not a results line", { timeout: 30_000 }, async () => {
    const results = path.join(dir, "bad.jsonl");
    await writeFile(results, '{"metric":"client","run":"a"}\n{"hello":1}\n');
    const run = await runBin(CONSENSUS_BIN, ["report", results], dir);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr.trim(),
      /^error: \S+bad\.jsonl:2: not a results line \(metric is neither "client" nor "server"\)$/,
    );
    assert.equal(existsSync(path.join(dir, "bad.html")), false);
  });
});

test("the latency histogram: figures and percentiles from what was recorded", () => {
  const histogram = new LatencyHistogram();
  assert.deepEqual(histogram.percentiles(), []);
  for (let us = 1; us <= 1000; us++) histogram.record(us);
  const latency = histogram.latency();
  assert.deepEqual([latency.min, latency.p50, latency.max], [1, 500, 1000]);
  assert.equal(latency.p99, 990);
  // 1000 values tell percentiles apart up to 99.9: three per decade, then the maximum.
  assert.deepEqual(
    histogram.percentiles().map(([percentile]) => percentile),
    [0, 50, 75, 90, 95, 97.5, 99, 99.5, 99.75, 99.9, 100],
  );
});
