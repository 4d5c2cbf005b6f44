import { findProject } from "../core/project.js";
import { drawRun } from "../workbench/trace.js";
import { Cluster, describeExit, type Member } from "../workbench/cluster.js";
import type { Fsync } from "../workbench/fsync.js";
import { cutsLinks, describeEvent, type Fault, Nemesis, schedule } from "../workbench/nemesis.js";

export interface ClusterCommandOptions {
  /** Where to start looking for consensus.json. */
  cwd: string;
  replicas: number;
  host: string;
  port: number;
  data?: string;
  fsync?: Fsync;
  metrics?: string;
  run?: string;
  /** Folder of the replicas' traces (rI.jsonl), and, once they stop, of the run's (messages.jsonl, messages.html). */
  trace?: string;
  /** Faults to inject on a schedule drawn from `seed`, one every `interval` seconds (none: no nemesis). */
  nemesis?: { faults: Fault[]; seed: number; interval: number };
  /** Ends the cluster (Ctrl-C, SIGTERM): every replica is stopped. */
  signal: AbortSignal;
  /** Where lines go: the command's own and the replicas' (prefixed). */
  output: NodeJS.WritableStream;
  errorOutput: NodeJS.WritableStream;
}

/**
 * `consensus cluster`: the project's replicas until the signal, or until one
 * exits on its own (which stops the others). Resolves with the exit code: 0
 * when every replica exited 0 once stopped.
 */
export async function cluster(options: ClusterCommandOptions): Promise<number> {
  const project = findProject(options.cwd);
  const { output, errorOutput, signal } = options;
  const say = (line: string) => void output.write(`${line}\n`);
  const complain = (line: string) => void errorOutput.write(`error: ${line}\n`);
  // A signal while the replicas start must not leave them running: they are stopped once up (below).
  const running = await Cluster.start({
    start: { command: project.config.start, cwd: project.root },
    replicas: options.replicas,
    host: options.host,
    firstPort: options.port,
    data: options.data,
    fsync: options.fsync,
    metrics: options.metrics,
    run: options.run,
    trace: options.trace,
    links: options.nemesis && cutsLinks(options.nemesis.faults),
    output,
    errorOutput,
  });
  const { members } = running;
  const list = (show: (member: Member) => string | number) => members.map((m) => `${m.name}=${show(m)}`).join(" ");
  say(`cluster of ${members.length} on ${members[0]!.host}: ${list((m) => m.address)}`);
  say(`Ctrl-C stops all (pids ${list((m) => m.pid)})`);
  let nemesis: Nemesis | undefined;
  if (options.nemesis) {
    const { faults, seed, interval } = options.nemesis;
    say(`nemesis: ${faults.join(",")} every ${interval} s, seed ${seed} (--seed ${seed} replays it)`);
    nemesis = new Nemesis({
      schedule: schedule({ seed, faults, interval, replicas: members.map((member) => member.name) }),
      target: running,
      record: (event) => say(describeEvent(event)),
      now: () => performance.now(),
    });
    nemesis.start();
  }

  const interrupted = new Promise<undefined>((resolve) => {
    if (signal.aborted) resolve(undefined);
    signal.addEventListener("abort", () => resolve(undefined), { once: true });
  });
  const failed = nemesis?.failed.then((error) => ({ name: "nemesis", error }));
  const died = await Promise.race([running.died, interrupted, ...(failed ? [failed] : [])]);
  if (died && "error" in died) complain(`the nemesis failed: ${died.error.message}`);
  else if (died) complain(`${died.name} ${describeExit(died)}`);
  await nemesis?.stop();
  const unclean = (await running.stop()).filter((exit) => exit.code !== 0 && exit.name !== died?.name);
  for (const exit of unclean) complain(`${exit.name} ${describeExit(exit)}`);
  if (options.trace !== undefined) {
    const names = members.map((member) => member.name);
    say(`messages: ${await drawRun(options.trace, { names, title: "consensus cluster: messages" })}`);
  }
  return died || unclean.length > 0 ? 1 : 0;
}
