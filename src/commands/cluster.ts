import { findProject } from "../core/project.js";
import { Cluster, describeExit, type Member } from "../workbench/cluster.js";

export interface ClusterCommandOptions {
  /** Where to start looking for consensus.json. */
  cwd: string;
  replicas: number;
  host: string;
  port: number;
  data?: string;
  metrics?: string;
  run?: string;
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
  const started = Cluster.start({
    start: { command: project.config.start, cwd: project.root },
    replicas: options.replicas,
    host: options.host,
    firstPort: options.port,
    data: options.data,
    metrics: options.metrics,
    run: options.run,
    output,
    errorOutput,
  });
  // A signal while the replicas start must not leave them running: they are stopped once up.
  const running = await started;
  const { members } = running;
  const list = (show: (member: Member) => string | number) => members.map((m) => `${m.name}=${show(m)}`).join(" ");
  say(`cluster of ${members.length} on ${members[0]!.host}: ${list((m) => m.address)}`);
  say(`Ctrl-C stops all (pids ${list((m) => m.pid)})`);

  const interrupted = new Promise<undefined>((resolve) => {
    if (signal.aborted) resolve(undefined);
    signal.addEventListener("abort", () => resolve(undefined), { once: true });
  });
  const died = await Promise.race([running.died, interrupted]);
  if (died) complain(`${died.name} ${describeExit(died)}`);
  const failed = (await running.stop()).filter((exit) => exit.code !== 0 && exit.name !== died?.name);
  for (const exit of failed) complain(`${exit.name} ${describeExit(exit)}`);
  return died || failed.length > 0 ? 1 : 0;
}
