// npm run bench:log [-- --template paxos|epaxos --minutes 10 --from 2 --commands <n> --concurrency 64 --snapshot-every <bytes>]
// A template's bounded log (paxos by default): three replicas (real processes, each with
// its data folder, --fsync batch) under a saturated write load for --minutes
// (and on until --commands are committed, for a history of that length),
// their resident memory sampled each minute (its growth from minute --from to
// the last is the figure); then all three killed with SIGKILL and restarted
// from their folders, timing their start to the first commit of a new write,
// against the same time for their first start, on empty folders, each broken
// down: until a replica listens (process, modules, recovery), until it is
// connected to both peers, until the first commit.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { proposeFollowing, Replicas } from "../../src/workbench/load/redirects.js";
import { freePortBlock } from "../support/ports.js";
import { builtReplicaProject } from "../support/replica-project.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    from: { type: "string", default: "2" },
    "snapshot-every": { type: "string" },
    concurrency: { type: "string", default: "64" },
    commands: { type: "string", default: "0" },
    template: { type: "string", default: "paxos" },
  },
});
const minutes = Number(values.minutes);
const from = Number(values.from);
const concurrency = Number(values.concurrency);
const commands = Number(values.commands);
if (!Number.isInteger(minutes) || minutes < 1) throw new Error("--minutes must be an integer ≥ 1");
if (!Number.isInteger(from) || from < 1 || from > minutes)
  throw new Error("--from must be a minute from 1 to --minutes");
if (!Number.isInteger(commands) || commands < 0) throw new Error("--commands must be an integer ≥ 0");
const template = values.template;
if (template !== "paxos" && template !== "epaxos") throw new Error("--template must be paxos or epaxos");

console.log(`building a ${template} project …`);
const project = await builtReplicaProject(template);
const data = mkdtempSync(path.join(os.tmpdir(), "consensus-bench-log-"));
const names = ["r1", "r2", "r3"];
const ports = await freePortBlock(names.length);
const members = new Map(names.map((name, i) => [name, `127.0.0.1:${ports[i]}`]));
const peers = [...members].map(([name, address]) => `${name}=${address}`).join(",");

/** When a replica's start reached each step, in ms since it was spawned. */
interface Steps {
  listening?: number;
  connected?: number;
}

/** Starts replica `name` over its folder, noting its steps; it prints its lines here, prefixed. */
function start(name: string, steps: Steps): ChildProcess {
  const extra = values["snapshot-every"] === undefined ? [] : ["--snapshot-every", values["snapshot-every"]];
  const args = ["dist/src/main.js", "--name", name, "--port", members.get(name)!.split(":")[1]!, "--peers", peers];
  const spawned = Date.now();
  const child = spawn(process.execPath, [...args, "--data", path.join(data, name), ...extra], {
    cwd: project,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (chunk: Buffer) => {
    if (/ listening on /.test(chunk.toString())) steps.listening ??= Date.now() - spawned;
  });
  const connected = new Set<string>();
  child.stderr!.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().trimEnd().split("\n")) {
      const peer = /: connected to (\w+)/.exec(line)?.[1];
      if (peer !== undefined) connected.add(peer);
      if (connected.size === names.length - 1) steps.connected ??= Date.now() - spawned;
      if (!/waiting for|connected to|lost r/.test(line)) console.log(`  ${line}`);
    }
  });
  return child;
}

/** Resident memory of `pid` in MiB (Linux). */
function rss(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]!;
  return Number(kb) / 1024;
}

/** Bytes of each replica's folder, by file. */
function folders(): string {
  return names
    .map((name) => {
      const folder = path.join(data, name);
      const files = readdirSync(folder).map(
        (file) => `${file} ${(statSync(path.join(folder, file)).size / 1024).toFixed(0)} KiB`,
      );
      return `${name}: ${files.join(", ")}`;
    })
    .join("; ");
}

let replicas = new Replicas(members);
let committed = 0;
/** One write through redirects; whether it committed. */
async function write(caller: number, n: number, timeout: number): Promise<boolean> {
  const request = { identity: `c${caller}`, name: `k${n % 1000}`, value: Buffer.from(String(n)) };
  const ended = await proposeFollowing(replicas, caller, request, names[caller % names.length]!, timeout, () => {});
  return "reply" in ended && ended.reply.success;
}

/** Milliseconds a node process takes to start and load the replica's modules (`main.js --help`). */
function moduleLoad(): Promise<number> {
  const began = Date.now();
  const child = spawn(process.execPath, ["dist/src/main.js", "--help"], { cwd: project, stdio: "ignore" });
  return new Promise((resolve) => child.once("exit", () => resolve(Date.now() - began)));
}

/** Starts all three and times them to their first commit, with the steps of each; in ms. */
async function firstCommit(n: number): Promise<{ commit: number; steps: Steps[] }> {
  const began = Date.now();
  const steps = names.map((): Steps => ({}));
  processes = names.map((name, i) => start(name, steps[i]!));
  // Proposing once all listen: a refused connection would put the client's channel in gRPC's
  // reconnect backoff (1 s and more), which would time the client rather than the replicas.
  while (steps.some((step) => step.listening === undefined)) {
    if (Date.now() - began > 120_000) throw new Error("not listening within 120 s of the start");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  while (!(await write(0, n, 1000))) {
    if (Date.now() - began > 120_000) throw new Error("no commit within 120 s of the start");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { commit: Date.now() - began, steps };
}

/** One line of a start's figures. */
function described(start: { commit: number; steps: Steps[] }): string {
  const each = start.steps.map(
    (step, i) =>
      `${names[i]} listening at ${step.listening} ms, connected to both peers at ${step.connected ?? "–"} ms`,
  );
  return `${start.commit} ms (${each.join("; ")})`;
}

let processes: ChildProcess[] = [];
try {
  const load = await moduleLoad();
  const cold = await firstCommit(-1);
  // The load: `concurrency` closed loops, until the last minute has passed and `commands` are committed.
  const began = Date.now();
  const end = began + minutes * 60_000;
  const loops = Array.from({ length: concurrency }, async (_, caller) => {
    for (let n = caller; Date.now() < end || committed < commands; n += concurrency)
      if (await write(caller, n, 2000)) committed++;
  });
  const samples: { minute: number; mib: number[]; committed: number }[] = [];
  for (let minute = 1; minute <= minutes; minute++) {
    await new Promise((resolve) => setTimeout(resolve, began + minute * 60_000 - Date.now()));
    const mib = processes.map((child) => rss(child.pid!));
    samples.push({ minute, mib, committed });
    console.log(
      `minute ${minute}: ${committed} commands committed; RSS ${mib.map((m) => m.toFixed(0)).join(", ")} MiB`,
    );
  }
  await Promise.all(loops);
  const history = committed;
  const loaded = (Date.now() - began) / 60_000;
  console.log(`folders: ${folders()}`);

  // kill -9 of all three, and a restart from the folders.
  for (const child of processes) child.kill("SIGKILL");
  await Promise.all(processes.map((child) => new Promise((resolve) => child.once("exit", resolve))));
  replicas.close();
  replicas = new Replicas(members);
  const warm = await firstCommit(committed);

  const at = samples[from - 1]!;
  const last = samples.at(-1)!;
  console.log(`\nhistory: ${history} commands in ${loaded.toFixed(1)} min, ${concurrency} clients`);
  console.log(`node and the replica's modules (main.js --help): ${load} ms`);
  console.log(`first start of all three, empty folders → first commit: ${described(cold)}`);
  console.log(`restart of all three after SIGKILL → first commit: ${described(warm)}`);
  console.log(
    `load average: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(", ")}`,
  );
  for (const [i, name] of names.entries()) {
    const growth = (last.mib[i]! / at.mib[i]! - 1) * 100;
    console.log(
      `${name} RSS: minute ${from} ${at.mib[i]!.toFixed(0)} MiB, minute ${minutes} ${last.mib[i]!.toFixed(0)} MiB (${growth >= 0 ? "+" : ""}${growth.toFixed(1)} %)`,
    );
  }
} finally {
  replicas.close();
  for (const child of processes) child.kill("SIGKILL");
  rmSync(data, { recursive: true, force: true });
  rmSync(path.dirname(project), { recursive: true, force: true });
}
