// The kv load against three fixture replicas (test/support/kv-replica.ts) and
// in-process stand-ins: the history it records is well formed, redirects are
// followed (by name or host:port, a bounded number of times), a replica that
// dies turns operations into `info` and clients into new processes, and a seed
// fixes each client's operations. Linearizability is the checker's business.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { checkHistory } from "../../src/check/index.js";
import { History, type HistoryEvent } from "../../src/workbench/history.js";
import { decodeValue, encodeValue, type KvLoad, kvLoad, ReplicaStore } from "../../src/workbench/load/kv.js";
import { MAX_HOPS } from "../../src/workbench/load/redirects.js";
import { Measurement } from "../../src/workbench/measurement.js";
import type { ProposeReply } from "../../src/workbench/pb/client.js";
import { ConsensusClient, type ConsensusServer, ConsensusService } from "../../src/workbench/pb/service.js";
import { freePortBlock } from "../support/ports.js";

const REPLICA = fileURLToPath(new URL("../support/kv-replica.js", import.meta.url));
const NAMES = ["r1", "r2", "r3"];

type Event = HistoryEvent & { time: number; replica?: string; error?: string };

let dir: string;
/** Every replica started, to be killed whatever happens. */
const children = new Set<ChildProcess>();
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "kv-"));
});
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

/** Resolves once `child` prints `line`; rejects if it exits first or takes more than 10 s. */
function printed(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${line}" within 10 s`)), 10_000);
    const onExit = (code: number | null) => reject(new Error(`exited with ${code} before "${line}"`));
    child.once("exit", onExit);
    createInterface({ input: child.stdout! }).on("line", (text) => {
      if (text !== line) return;
      clearTimeout(timer);
      child.off("exit", onExit);
      resolve();
    });
  });
}

/** Three fixture replicas r1 (the leader), r2, r3 on a free block of ports; the map of targets and their processes. */
async function startReplicas(flags: string[] = []) {
  const ports = await freePortBlock(3);
  const addresses = ports.map((port) => `127.0.0.1:${port}`);
  const processes = NAMES.map((name, i) => {
    const peers = NAMES.flatMap((peer, j) => (j === i ? [] : [`${peer}=${addresses[j]}`])).join(",");
    const args = ["--name", name, "--host", "127.0.0.1", "--port", String(ports[i]), "--peers", peers, "--data", dir];
    const child = spawn(process.execPath, [REPLICA, ...args, ...flags], { stdio: ["ignore", "pipe", "inherit"] });
    children.add(child);
    return child;
  });
  await Promise.all(processes.map((child, i) => printed(child, `${NAMES[i]} listening on ${addresses[i]}`)));
  return { targets: new Map(NAMES.map((name, i) => [name, addresses[i]!])), processes };
}

async function stopReplicas(processes: ChildProcess[]): Promise<void> {
  await Promise.all(
    processes.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exit = once(child, "exit");
      child.kill("SIGTERM");
      assert.deepEqual(await exit, [0, null], "a replica exits 0 on SIGTERM");
    }),
  );
}

let runs = 0;

/**
 * Runs the kv load for `duration` seconds (or up to `requests` answers), calling `during` once it has
 * started; resolves with the history's events and the measurement.
 */
async function run(
  { targets, ...load }: Partial<KvLoad> & { targets: Map<string, string> },
  { duration = 1, requests = 0 } = {},
  during?: (history: History, measurement: Measurement) => Promise<void>,
) {
  const file = path.join(dir, `history-${++runs}.jsonl`);
  const history = await History.open(file);
  const timeout = load.timeout ?? 2000;
  const measurement = new Measurement({ warmup: 0, duration, requests, interval: 1, timeout });
  measurement.start();
  const options = { concurrency: 6, keys: 3, reads: 0.5, seed: 1, ...load, store: new ReplicaStore(targets), timeout };
  await Promise.all([kvLoad(options, measurement, history), during?.(history, measurement)]);
  await history.close();
  const text = await readFile(file, "utf8");
  const events = text.trim()
    ? text
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Event)
    : [];
  return { events, measurement };
}

/**
 * Checks what the checker will rely on: each invoke is completed by its process's next event, with
 * the same f and key; a process ends with its `info`, and its client goes on as process + concurrency;
 * no value is written twice; times do not go back. Returns each completion with its invoke.
 */
function assertWellFormed(events: Event[], concurrency: number): { invoke: Event; completion: Event }[] {
  const open = new Map<number, Event>();
  const ended = new Set<number>();
  const operations: { invoke: Event; completion: Event }[] = [];
  const written = new Set<unknown>();
  let time = 0;
  for (const event of events) {
    assert.ok(event.time >= time, `time goes back at ${JSON.stringify(event)}`);
    time = event.time;
    const { process } = event;
    if (process === "initial") continue; // what a key held before the run: checked where it matters
    assert.ok(typeof process === "number" && Number.isInteger(process), `process ${process}`);
    assert.ok(!ended.has(process), `process ${process} goes on after its info`);
    if (event.type === "invoke") {
      assert.ok(!open.has(process), `process ${process} invokes with an operation open`);
      if (process >= concurrency) assert.ok(ended.has(process - concurrency), `process ${process} is not a new one`);
      assert.match(event.key!, /^k\d+$/);
      if (event.f === "read") assert.equal(event.value, null);
      else {
        assert.equal(event.f, "write");
        assert.ok(typeof event.value === "number" && !written.has(event.value), `value ${event.value} again`);
        written.add(event.value);
      }
      open.set(process, event);
      continue;
    }
    const invoke = open.get(process);
    assert.ok(invoke, `${JSON.stringify(event)} completes nothing`);
    assert.ok(event.type === "ok" || event.type === "info", event.type);
    assert.deepEqual([event.f, event.key], [invoke.f, invoke.key]);
    if (event.f === "write") assert.equal(event.value, invoke.value);
    open.delete(process);
    if (event.type === "info") ended.add(process);
    operations.push({ invoke, completion: event });
  }
  assert.equal(open.size, 0, "every operation is completed");
  return operations;
}

/** The operations each client chose, in order: [f, key, value] by the process's client (process mod concurrency). */
function chosen(events: Event[], concurrency: number): [string, string | undefined, unknown][][] {
  const clients = Array.from({ length: concurrency }, () => [] as [string, string | undefined, unknown][]);
  for (const { process, type, f, key, value } of events) {
    if (type === "invoke" && typeof process === "number")
      clients[(process as number) % concurrency]!.push([f, key, value]);
  }
  return clients;
}

describe("kv load", () => {
  test("a value is the UTF-8 of its decimal form; other bytes read as text, none as null", () => {
    assert.equal(encodeValue(42).toString(), "42");
    assert.equal(decodeValue(encodeValue(42)), 42);
    assert.equal(decodeValue(Buffer.alloc(0)), null);
    assert.equal(decodeValue(Buffer.from("007")), "007");
    assert.equal(decodeValue(Buffer.from("x y")), "x y");
    assert.equal(decodeValue(Buffer.from("99999999999999999999")), "99999999999999999999");
  });

  test(
    "the history writer appends events in order with their time, and nemesis lines as they come",
    { timeout: 30_000 },
    async () => {
      const file = path.join(dir, "writer.jsonl");
      const history = await History.open(file);
      for (let i = 0; i < 1000; i++) history.record({ process: i, type: "invoke", f: "write", key: "k0", value: i });
      history.record({ process: "nemesis", type: "info", f: "start", fault: "kill", value: ["r2"] });
      await sleep(5);
      history.record({ process: 0, type: "ok", f: "write", key: "k0", value: 0, time: 7 });
      await history.close();
      await history.close();
      assert.throws(() => history.record({ process: 1, type: "ok", f: "read", value: null }), /after close/);
      const events = (await readFile(file, "utf8"))
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Event);
      assert.equal(events.length, 1002);
      assert.deepEqual(Object.keys(events[0]!), ["process", "type", "f", "key", "value", "time"]);
      assert.deepEqual(
        events.slice(0, 1000).map(({ value }) => value),
        Array.from({ length: 1000 }, (_, i) => i),
      );
      assert.ok(
        events.slice(0, 1001).every(({ time }, i) => Number.isInteger(time) && time >= (events[i - 1]?.time ?? 0)),
      );
      assert.deepEqual(events[1000], { ...events[1000], process: "nemesis", fault: "kill", value: ["r2"] });
      assert.equal(events[1001]!.time, 7, "an event's own time is kept");
    },
  );

  describe("against three fixture replicas", () => {
    let cluster: Awaited<ReturnType<typeof startReplicas>>;
    before(
      async () => {
        cluster = await startReplicas();
      },
      { timeout: 30_000 },
    );
    after(() => stopReplicas(cluster.processes));

    test(
      "records a well-formed history, following redirects from the followers to the leader",
      { timeout: 30_000 },
      async () => {
        // 300 answers: enough for reads and writes from each follower, however slow the machine.
        const { events, measurement } = await run({ targets: cluster.targets, concurrency: 6 }, { requests: 300 });
        const operations = assertWellFormed(events, 6);
        assert.equal(measurement.errors, 0, measurement.firstError);
        assert.ok(operations.every(({ completion }) => completion.type === "ok" && completion.replica === "r1"));
        assert.ok(measurement.redirects > 0 && measurement.successes > 0);
        // Clients started at each follower, and their writes and reads went through at the leader.
        for (const follower of ["r2", "r3"]) {
          for (const f of ["read", "write"]) {
            assert.ok(
              operations.some(({ invoke }) => invoke.replica === follower && invoke.f === f),
              `a ${f} started at ${follower}`,
            );
          }
        }
        // Whatever is read was written to that key (or is nothing yet): the values round-trip.
        for (const { invoke, completion } of operations) {
          if (invoke.f !== "read" || completion.value === null) continue;
          assert.ok(
            events.some(
              ({ type, f, key, value }) =>
                type === "invoke" && f === "write" && key === invoke.key && value === completion.value,
            ),
            `read ${completion.value} from ${invoke.key}`,
          );
        }
      },
    );

    test(
      "with sticky, a client redirected to the leader starts its next operations there",
      { timeout: 30_000 },
      async () => {
        const { events, measurement } = await run(
          { targets: cluster.targets, concurrency: 6, sticky: true },
          { requests: 120 },
        );
        const operations = assertWellFormed(events, 6);
        assert.equal(measurement.errors, 0, measurement.firstError);
        // Each client's first operation started at its own replica (r1, r2, r3 in turn); the four that
        // started at a follower were redirected once, and every later operation started at the leader.
        assert.equal(measurement.redirects, 4);
        for (let client = 0; client < 6; client++) {
          const started = operations
            .filter(({ invoke }) => (invoke.process as number) % 6 === client)
            .map(({ invoke }) => invoke.replica);
          assert.ok(started.length > 1, `client ${client + 1} ran more than one operation`);
          assert.deepEqual(started, [["r1", "r2", "r3"][client % 3], ...started.slice(1).map(() => "r1")]);
        }
      },
    );

    test("a seed fixes the operations each client chooses", { timeout: 30_000 }, async () => {
      const invokes = async (seed: number, concurrency: number, requests: number) =>
        chosen((await run({ targets: cluster.targets, seed, concurrency }, { requests })).events, concurrency);
      /** Asserts `x` and `y` agree as far as both go, which is at least `least` operations. */
      const samePrefix = (x: unknown[], y: unknown[], least: number, what: string) => {
        const length = Math.min(x.length, y.length);
        assert.ok(length >= least, `${what}: ${length} operations`);
        assert.deepEqual(x.slice(0, length), y.slice(0, length), what);
      };
      // One client at the leader: one answer per operation, so 40 answers are 40 operations.
      const [a] = (await invokes(42, 1, 40)) as [unknown[]];
      const [b] = (await invokes(42, 1, 40)) as [unknown[]];
      samePrefix(a, b, 40, "seed 42");
      const [c] = (await invokes(43, 1, 40)) as [unknown[]];
      assert.notDeepEqual(c.slice(0, 40), a.slice(0, 40));
      // With several clients, each one's choices are its own, whatever the interleaving.
      const [first, second] = [await invokes(7, 3, 150), await invokes(7, 3, 150)];
      for (let client = 0; client < 3; client++) samePrefix(first[client]!, second[client]!, 5, `client ${client}`);
      assert.notDeepEqual(first[0]!.slice(0, 5), first[1]!.slice(0, 5), "clients do not share a sequence");
    });

    test(
      "against a cluster that holds data, each key is read before anything is written, and two runs in a row each check linearizable",
      { timeout: 60_000 },
      async () => {
        const keys = ["k0", "k1", "k2", "k3", "k4"];
        let written = new Set<unknown>();
        for (const round of [1, 2]) {
          const { events } = await run(
            { targets: cluster.targets, concurrency: 2, keys: keys.length },
            { requests: 200 },
          );
          assertWellFormed(events, 2);
          const clients = events.filter(({ process }) => process !== "initial");
          const firstWrite = clients.findIndex(({ f, type }) => f === "write" && type === "invoke");
          const reads = clients.slice(0, firstWrite).filter(({ type }) => type === "ok");
          assert.deepEqual(reads.map(({ key }) => key).sort(), keys, `round ${round}: each key read first, once`);
          // What a first read found is written by "initial" just before it answers.
          const held = events.filter(({ process, type }) => process === "initial" && type === "ok");
          for (const read of reads) {
            if (read.value === null) continue;
            const at = events.indexOf(read);
            assert.deepEqual(
              events.slice(at - 2, at).map(({ process, type, f, key, value }) => [process, type, f, key, value]),
              [
                ["initial", "invoke", "write", read.key, read.value],
                ["initial", "ok", "write", read.key, read.value],
              ],
            );
          }
          if (round === 2) {
            // The first run wrote every key: the second starts from values it wrote.
            assert.deepEqual(held.map(({ key }) => key).sort(), keys);
            for (const { value } of held) assert.ok(written.has(value), `${value} was written by the first run`);
          }
          written = new Set(clients.filter(({ f }) => f === "write").map(({ value }) => value));
          const { verdict } = await checkHistory(events);
          assert.equal(verdict, "linearizable", `round ${round}`);
        }
      },
    );
  });

  test(
    "with --stale-reads followers answer reads themselves, from the copy the leader keeps up to date",
    { timeout: 30_000 },
    async () => {
      const { targets, processes } = await startReplicas(["--stale-reads"]);
      try {
        const { events } = await run({ targets, concurrency: 6, keys: 2 }, { requests: 200 });
        const operations = assertWellFormed(events, 6);
        assert.ok(operations.every(({ completion }) => completion.type === "ok"));
        for (const follower of ["r2", "r3"]) {
          assert.ok(
            operations.some(({ invoke, completion }) => invoke.f === "read" && completion.replica === follower),
          );
          assert.ok(operations.every(({ invoke, completion }) => invoke.f === "read" || completion.replica === "r1"));
        }
        // Once the load is over, every replica reads what the leader has.
        const read = (address: string, key: string) =>
          new Promise<ProposeReply>((resolve, reject) => {
            const client = new ConsensusClient(address, grpc.credentials.createInsecure());
            const request = { identity: "test", name: key, value: Buffer.alloc(0) };
            client.propose(request, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (error, reply) => {
              client.close();
              if (error) reject(error);
              else resolve(reply);
            });
          });
        for (const key of ["k0", "k1"]) {
          const leader = decodeValue((await read(targets.get("r1")!, key)).value);
          assert.notEqual(leader, null);
          for (const follower of ["r2", "r3"]) {
            let value: unknown;
            for (let tries = 0; tries < 50 && value !== leader; tries++, await sleep(20)) {
              value = decodeValue((await read(targets.get(follower)!, key)).value);
            }
            assert.equal(value, leader, `${follower} ${key}`);
          }
        }
      } finally {
        await stopReplicas(processes);
      }
    },
  );

  test(
    "a follower killed mid-run turns its operations into info, and its clients into new processes",
    { timeout: 30_000 },
    async () => {
      const { targets, processes } = await startReplicas();
      let killedAt = 0;
      const { events, measurement } = await run({ targets, concurrency: 6 }, { duration: 1.5 }, async (history) => {
        await sleep(400);
        processes[2]!.kill("SIGKILL");
        await once(processes[2]!, "exit");
        killedAt = history.now();
      });
      try {
        const operations = assertWellFormed(events, 6);
        const infos = operations.filter(({ completion }) => completion.type === "info");
        assert.ok(infos.length > 0, "some operation was cut short");
        assert.ok(infos.every(({ completion }) => completion.replica === "r3" && completion.error));
        assert.ok(measurement.errors >= infos.length);
        assert.match(measurement.firstError!, /^client \d+: r3: UNAVAILABLE: /);
        // The clients went on, as new processes, and their operations still succeed at the others.
        const renewed = operations.filter(({ invoke }) => (invoke.process as number) >= 6);
        assert.ok(
          renewed.some(({ completion }) => completion.type === "ok"),
          "a new process completed an operation",
        );
        assert.ok(operations.some(({ completion }) => completion.type === "ok" && completion.time > killedAt + 2e8));
      } finally {
        await stopReplicas(processes);
      }
    },
  );

  describe("against replicas that never commit", () => {
    /** What the stand-in answers to every Propose; it counts the calls. */
    let answer: (self: string) => Partial<ProposeReply>;
    let calls = 0;
    /** The measurement to stop at that many calls. */
    let stopAt: { calls: number; measurement: Measurement } | undefined;
    let server: grpc.Server;
    let self: string;
    before(
      async () => {
        server = new grpc.Server();
        const service: ConsensusServer = {
          propose(_call, callback) {
            if (++calls === stopAt?.calls) stopAt.measurement.stop();
            const reply = {
              success: false,
              redirect: "",
              error: "",
              seq: 0n,
              leader: 0,
              name: "",
              value: Buffer.alloc(0),
            };
            callback(null, { ...reply, ...answer(self) });
          },
          dispatch(call) {
            call.end();
          },
        };
        server.addService(ConsensusService, service);
        const port = await new Promise<number>((resolve, reject) =>
          server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) =>
            error ? reject(error) : resolve(port),
          ),
        );
        self = `127.0.0.1:${port}`;
      },
      { timeout: 30_000 },
    );
    after(() => server.forceShutdown());

    // What the stand-in answers, the error recorded, calls per operation, and whether it counts as an error.
    const cases: [string, (self: string) => Partial<ProposeReply>, RegExp, number, boolean][] = [
      ["a decline", () => ({ error: "no quorum" }), /^no quorum$/, 1, false],
      ["a redirect to an unknown name", () => ({ redirect: "r9" }), /^redirect to unknown replica "r9"$/, 1, true],
      ["endless redirects by name", () => ({ redirect: "r1" }), /^more than 3 redirects$/, MAX_HOPS + 1, true],
      ["endless redirects by host:port", (self) => ({ redirect: self }), /^more than 3 redirects$/, MAX_HOPS + 1, true],
    ];
    for (const [what, reply, error, callsPerOperation, counted] of cases) {
      test(`${what} is recorded info, with a new process after it`, { timeout: 30_000 }, async () => {
        answer = reply;
        calls = 0;
        const { events, measurement } = await run(
          { targets: new Map([["r1", self]]), concurrency: 1 },
          // Four declines are four answers; operations that end in errors are none: stopped at their last call.
          counted ? { duration: 30 } : { requests: 4 },
          async (_history, measurement) =>
            void (stopAt = counted ? { calls: 4 * callsPerOperation, measurement } : undefined),
        );
        const operations = assertWellFormed(events, 1);
        assert.deepEqual(
          operations.map(({ invoke }) => invoke.process),
          [0, 1, 2, 3],
        );
        for (const { completion } of operations) {
          assert.equal(completion.type, "info");
          assert.match(completion.error!, error);
        }
        assert.equal(calls, 4 * callsPerOperation);
        assert.equal(measurement.successes, 0);
        assert.equal(measurement.errors, counted ? 4 : 0);
        assert.equal(measurement.declines, counted ? 0 : 4);
        // Each operation followed the redirects before the last one, and one answer at most counted for it.
        assert.equal(measurement.redirects, 4 * (callsPerOperation - 1));
        assert.equal(measurement.answers, counted ? 0 : 4);
      });
    }
  });
});
