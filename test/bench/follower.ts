// npm run bench:follower [-- --rounds N --accepts N --window N]
// A paxos follower's Accepts from a pipelining leader, with no other process in
// the way: one replica of a built paxos project (FileDisk under each --fsync
// mode, in turns), one Dispatch stream from a stand-in leader keeping `window`
// Accepts in flight. Prints Accepts/s and the fdatasyncs per Accept (counted on
// the real calls): the follower's group commit, which a full cluster's figures
// bury under CPU contention on a small machine. Medians over the rounds.
import { type FileHandle, mkdtemp, open, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { median } from "../support/median.js";
import { builtReplicaProject } from "../support/replica-project.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    accepts: { type: "string", default: "4000" },
    window: { type: "string", default: "8" },
  },
});
const rounds = Number(values.rounds);
const accepts = Number(values.accepts);
const window = Number(values.window);
for (const [flag, value] of Object.entries({ rounds, accepts, window })) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag} must be an integer ≥ 1`);
}

console.log("building a paxos project …");
const project = await builtReplicaProject("paxos");
const load = (file: string) => import(path.join(project, "dist/src", file));
const [{ Replica }, { ReplicaServer }, { FileDisk }, { ConsensusClient }, { envelope }, { nextBallot }] =
  await Promise.all(
    ["replica.js", "server.js", "disk.js", "pb/service.js", "envelope.js", "paxos/ballot.js"].map(load),
  );

// The real fdatasyncs: FileDisk's handles come from fs/promises, whose prototype is shared.
const scratch = await mkdtemp(path.join(os.tmpdir(), "consensus-bench-follower-"));
const probe = await open(path.join(scratch, "probe"), "w");
const handles = Object.getPrototypeOf(probe) as FileHandle;
await probe.close();
let syncs = 0;
const datasync = handles.datasync;
handles.datasync = function (this: FileHandle) {
  syncs++;
  return datasync.call(this);
};

/** Peers that never answer: the follower only needs their names (it is one of three). */
const silent = {
  names: ["r1", "r3"],
  send: () => new Promise(() => undefined),
  broadcast: async () => new Map(),
  quorum: () => new Promise(() => undefined),
  close: async () => undefined,
};

/** One run: `accepts` Accepts of r1's first ballot, `window` in flight, against follower r2 under `fsync`. */
async function measure(fsync: string, round: number): Promise<{ rate: number; perAccept: number }> {
  const data = path.join(scratch, `${fsync}-${round}`);
  const replica = new Replica({ name: "r2", peers: silent, disk: new FileDisk(data, fsync) });
  await replica.start();
  const server = new ReplicaServer(replica);
  const client = new ConsensusClient(`127.0.0.1:${await server.listen()}`, grpc.credentials.createInsecure());
  const stream = client.dispatch();
  const ballot = BigInt(nextBallot(0, 0));
  let sent = 0;
  let answered = 0;
  const send = (): void => {
    const slot = sent++;
    const command = { identity: "bench", key: `k${slot % 8}`, value: Buffer.from(`v${slot}`), id: BigInt(slot + 1) };
    const accept = { ballot, slot: BigInt(slot), commands: [command], commit: 0n, acknowledged: [] };
    stream.write(envelope("r1", { $case: "accept", value: accept }));
  };
  const before = syncs;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    stream.on("data", (reply: { message?: { value: { ok?: boolean } } }) => {
      if (reply.message?.value.ok !== true) return reject(new Error(`Accept ${answered} refused`));
      if (++answered === accepts) resolve();
      else if (sent < accepts) send();
    });
    stream.on("error", reject);
    for (let i = 0; i < window; i++) send();
  });
  const seconds = (performance.now() - started) / 1000;
  const perAccept = (syncs - before) / accepts;
  stream.end();
  client.close();
  await server.close(1000);
  await replica.close();
  return { rate: accepts / seconds, perAccept };
}

const MODES = ["always", "batch", "never"];
const figures = new Map<string, { rate: number; perAccept: number }[]>(MODES.map((mode) => [mode, []]));
try {
  for (let round = 1; round <= rounds; round++) {
    for (const fsync of MODES) {
      const figure = await measure(fsync, round);
      figures.get(fsync)!.push(figure);
      console.log(
        `round ${round}: --fsync ${fsync}: ${Math.round(figure.rate)} Accepts/s, ${figure.perAccept.toFixed(2)} fdatasyncs per Accept`,
      );
    }
  }
} finally {
  await rm(path.dirname(project), { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
}

console.log(`\nmedians of ${rounds} rounds: ${accepts} Accepts, ${window} in flight, one follower`);
for (const [fsync, lines] of figures) {
  const rate = median(lines.map((line) => line.rate));
  const perAccept = median(lines.map((line) => line.perAccept));
  console.log(
    `--fsync ${fsync.padEnd(7)} ${String(Math.round(rate)).padStart(6)} Accepts/s  ${perAccept.toFixed(2)} fdatasyncs per Accept`,
  );
}
