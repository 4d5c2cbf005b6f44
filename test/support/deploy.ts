// A generated project's deployment files, read and checked offline: the
// Kubernetes objects against the API's schemas and types, and every file
// against the others (names, ports, peers, volumes, grace) and against the
// project (its set-up, start command, engines, drain). Each check returns the
// problems it finds, one line each, so that a test can break a file and see
// the check name what broke.
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { StatefulSet, type IStatefulSet } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget, type IPodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Service, type IService } from "kubernetes-models/v1";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IProbe } from "kubernetes-models/v1/Probe";
import semver from "semver";
import { parse, parseAllDocuments } from "yaml";
import { REPO } from "./paths.js";
import { tsc } from "./project.js";

const KUBERNETES_DIR = "deploy/kubernetes";
const KUSTOMIZATION = "kustomization.yaml";

/** The models a manifest may use, by `apiVersion/kind`: the class that validates it and the module of its type. */
const MODELS: Record<string, { model: new (data: never) => { validate(): void }; module: string }> = {
  "v1/Service": { model: Service, module: "kubernetes-models/v1/Service" },
  "apps/v1/StatefulSet": { model: StatefulSet, module: "kubernetes-models/apps/v1/StatefulSet" },
  "policy/v1/PodDisruptionBudget": {
    model: PodDisruptionBudget,
    module: "kubernetes-models/policy/v1/PodDisruptionBudget",
  },
};

export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string };
}

/** One instruction of a Dockerfile: its keyword, upper case, and the rest, continuation lines joined. */
export interface Instruction {
  keyword: string;
  args: string;
}

interface ComposeService {
  build?: unknown;
  image?: string;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test?: string[] };
  stop_grace_period?: string;
}

export interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** What the checks read of a generated project. */
export interface Deployment {
  packageJson: { name: string; engines: { node: string }; scripts: Record<string, string> };
  readme: string;
  dockerfile: Instruction[];
  compose: Compose;
  /** The objects of each file of deploy/kubernetes but the kustomization, by file name. */
  manifests: Record<string, KubernetesObject[]>;
  kustomization: { resources?: string[] };
  /** How long a replica drains on SIGTERM at most, in ms (src/server.ts). */
  drain: number;
}

/** Parses one YAML document, or throws naming the file and what is wrong with it. */
function yaml(text: string, file: string): unknown {
  // Merge keys (`<<: *replica`) are Compose's way to share settings between services.
  return parse(text, { merge: true, prettyErrors: true, strict: true }) ?? fail(`${file} is empty`);
}

function fail(message: string): never {
  throw new Error(message);
}

/** Reads the deployment files of the project in `dir`. */
export function readDeployment(dir: string): Deployment {
  const read = (file: string) => readFileSync(path.join(dir, file), "utf8");
  const manifests: Record<string, KubernetesObject[]> = {};
  for (const file of readdirSync(path.join(dir, KUBERNETES_DIR)).sort()) {
    if (file === KUSTOMIZATION) continue;
    const documents = parseAllDocuments(read(`${KUBERNETES_DIR}/${file}`), { strict: true });
    if (documents.length === 0) fail(`${file} holds no YAML document`);
    manifests[file] = documents.map((document) => {
      if (document.errors.length > 0) fail(`${file}: ${document.errors[0]!.message}`);
      return document.toJS() as KubernetesObject;
    });
  }
  const server = read("src/server.ts").match(/close\(timeout = ([\d_]+)\)/);
  return {
    packageJson: JSON.parse(read("package.json")),
    readme: read("README.md"),
    dockerfile: parseDockerfile(read("Dockerfile")),
    compose: yaml(read("compose.yaml"), "compose.yaml") as Compose,
    manifests,
    kustomization: yaml(read(`${KUBERNETES_DIR}/${KUSTOMIZATION}`), KUSTOMIZATION) as Deployment["kustomization"],
    drain: Number(
      (server ?? fail("src/server.ts: no `close(timeout = …)`, the drain's limit"))[1]!.replaceAll("_", ""),
    ),
  };
}

/** A Dockerfile's instructions: comments and blank lines dropped, lines ending in `\` joined to the next. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    // A comment inside a continuation is dropped too, as Docker does.
    if (line.startsWith("#")) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = (pending + line).trim();
    pending = "";
    if (whole === "") continue;
    const keyword = whole.split(/\s/, 1)[0]!;
    instructions.push({ keyword: keyword.toUpperCase(), args: whole.slice(keyword.length).trim() });
  }
  return instructions;
}

/** The words of a command: exec form (a JSON array) or shell form. */
const words = (args: string): string[] => (args.startsWith("[") ? JSON.parse(args) : args.split(/\s+/));

/** The instructions of each stage, from its FROM on. */
function stages(dockerfile: Instruction[]): Instruction[][] {
  const found: Instruction[][] = [];
  for (const instruction of dockerfile) {
    if (instruction.keyword === "FROM") found.push([]);
    found.at(-1)?.push(instruction);
  }
  return found;
}

/** The variables an image's last stage sets (`ENV a=1 b=2`). */
export function imageEnv(dockerfile: Instruction[]): Record<string, string> {
  const last = stages(dockerfile).at(-1) ?? [];
  const pairs = last.filter((i) => i.keyword === "ENV").flatMap((i) => i.args.split(/\s+/));
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]));
}

/** The set-up commands of the README's "Run a replica": its first shell block, up to `npm start`. */
export function readmeSetup(readme: string): string[] {
  const section = readme.split(/^## Run a replica$/m)[1] ?? fail("the README has no section Run a replica");
  const block = section.match(/```sh\n([\s\S]*?)```/)?.[1] ?? fail("Run a replica has no shell block");
  const lines = block.split("\n").map((line) => line.trim());
  const start = lines.findIndex((line) => line.startsWith("npm start"));
  return lines.slice(0, start);
}

/** Lockfile-exact installs in an image: `npm ci` is `npm install` without changing what package-lock.json says. */
const locked = (command: string) => (command === "npm install" ? "npm ci" : command);

export function dockerfileProblems(deployment: Deployment): string[] {
  const problems: string[] = [];
  const found = stages(deployment.dockerfile);
  if (found.length !== 2) return [`the Dockerfile has ${found.length} stages, not 2 (build, then run)`];
  const [build, run] = found as [Instruction[], Instruction[]];
  const commands = (stage: Instruction[]) =>
    stage.filter((i) => i.keyword === "RUN").flatMap((i) => i.args.split("&&").map((c) => c.trim()));

  const setup = readmeSetup(deployment.readme).map(locked);
  const built = commands(build);
  const at = setup.map((command) => built.indexOf(command));
  if (at.includes(-1) || at.some((index, i) => i > 0 && index < at[i - 1]!)) {
    problems.push(`the build stage runs ${JSON.stringify(built)}, not the README's set-up ${JSON.stringify(setup)}`);
  }
  if (!commands(run).includes("npm ci --omit=dev")) problems.push("the runtime stage does not run npm ci --omit=dev");
  const alias = words(build[0]!.args)[2];
  if (!run.some((i) => i.keyword === "COPY" && i.args.startsWith(`--from=${alias} /app/dist`))) {
    problems.push(`the runtime stage copies no dist/ from the build stage (${alias})`);
  }

  const [image, tag] = (words(build[0]!.args)[0] ?? "").split(":");
  const major = tag?.match(/^(\d+)/)?.[1];
  const engines = deployment.packageJson.engines.node;
  if (image !== "node" || major === undefined) {
    problems.push(`the build stage is not from node:<major>: ${image}:${tag}`);
  } else if (!semver.subset(`${major}.x`, engines))
    problems.push(`Node.js ${major} is not within engines (${engines})`);
  if (words(run[0]!.args)[0] !== words(build[0]!.args)[0]) problems.push("the two stages are from different images");

  const user = run.findLast((i) => i.keyword === "USER")?.args.split(":")[0];
  if (user === undefined || user === "root" || user === "0") problems.push(`the replica runs as root (USER ${user})`);
  const env = imageEnv(deployment.dockerfile);
  const exposed = run.filter((i) => i.keyword === "EXPOSE").flatMap((i) => i.args.split(/\s+/));
  if (exposed.join() !== env.CONSENSUS_PORT) {
    problems.push(`EXPOSE ${exposed.join(" ")} is not CONSENSUS_PORT (${env.CONSENSUS_PORT})`);
  }
  if (!["0.0.0.0", "::"].includes(env.CONSENSUS_HOST!)) {
    problems.push(`CONSENSUS_HOST is ${env.CONSENSUS_HOST}: other containers cannot reach it`);
  }
  const volumes = run.filter((i) => i.keyword === "VOLUME").flatMap((i) => words(i.args));
  if (env.CONSENSUS_DATA === undefined || !volumes.includes(env.CONSENSUS_DATA)) {
    problems.push(`CONSENSUS_DATA (${env.CONSENSUS_DATA}) is not a VOLUME (${volumes.join(" ")})`);
  }
  const command = run.findLast((i) => i.keyword === "CMD" || i.keyword === "ENTRYPOINT");
  const start = deployment.packageJson.scripts.start!;
  if (command === undefined || words(command.args).join(" ") !== start) {
    problems.push(`the image runs ${command?.args}, not the start script (${start})`);
  }
  return problems;
}

/** `15s`, `1m30s`, `500ms` in ms, as Compose reads a duration. */
function duration(text: string | undefined): number {
  let ms = 0;
  for (const [, n, unit] of (text ?? "").matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    ms += Number(n) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as "ms"];
  }
  return ms;
}

/** `a=h:1,b=h:2` as [name, address] pairs. */
const peerList = (list: string | undefined) =>
  (list ?? "").split(",").map((entry) => entry.split("=") as [string, string | undefined]);

/** The Node.js command the Compose health check runs, by its words. */
const PROBE = ["node", "dist/src/probe.js"];

export function composeProblems(deployment: Deployment): string[] {
  const problems: string[] = [];
  const image = imageEnv(deployment.dockerfile);
  const services = Object.entries(deployment.compose.services ?? {});
  if (services.length === 0) return ["compose.yaml has no services"];
  const names = services.map(([name]) => name);
  const first = services[0]![1];
  const published = new Set<string>();
  const sources = new Set<string>();
  for (const [name, service] of services) {
    const env = { ...image, ...service.environment };
    const port = env.CONSENSUS_PORT;
    if (service.image !== first.image || service.build === undefined) {
      problems.push(`${name} is not built as the others: image ${service.image}, build ${service.build}`);
    }
    if (env.CONSENSUS_NAME !== name) problems.push(`${name} is named ${env.CONSENSUS_NAME}`);
    if (env.CONSENSUS_ADVERTISE !== `${name}:${port}`) {
      problems.push(`${name} advertises ${env.CONSENSUS_ADVERTISE}, not ${name}:${port}`);
    }
    const peers = peerList(env.CONSENSUS_PEERS);
    const expected = names.map((peer) => [peer, `${peer}:${port}`]);
    if (JSON.stringify(peers) !== JSON.stringify(expected)) {
      problems.push(`${name}'s peers are ${env.CONSENSUS_PEERS}, not every service at its port`);
    }
    const mounts = (service.volumes ?? []).map((volume) => volume.split(":"));
    const data = mounts.filter(([, target]) => target === env.CONSENSUS_DATA);
    if (data.length !== 1 || !(data[0]![0]! in (deployment.compose.volumes ?? {}))) {
      problems.push(`${name} has no named volume of its own at ${env.CONSENSUS_DATA}`);
    } else if (sources.has(data[0]![0]!)) {
      problems.push(`${name} shares the volume ${data[0]![0]}`);
    } else sources.add(data[0]![0]!);
    const ports = (service.ports ?? []).map((mapping) => mapping.split(":"));
    if (ports.length !== 1 || ports[0]!.at(-1) !== port) problems.push(`${name} does not publish its port ${port}`);
    for (const mapping of ports) {
      const host = mapping.slice(0, -1).join(":");
      if (published.has(host)) problems.push(`${name} publishes ${host} again`);
      published.add(host);
    }
    const check = service.healthcheck?.test ?? [];
    if (check[0] !== "CMD" || check.slice(1).join(" ") !== PROBE.join(" ")) {
      problems.push(`${name}'s health check is ${JSON.stringify(check)}, not the probe`);
    }
    if (duration(service.stop_grace_period) <= deployment.drain) {
      problems.push(`${name}'s stop_grace_period (${service.stop_grace_period}) does not cover the drain`);
    }
  }
  return problems;
}

/** Each Kubernetes object against the schema of its kind, named `file: Kind name: what is wrong`. */
export function schemaProblems(manifests: Record<string, KubernetesObject[]>): string[] {
  const problems: string[] = [];
  for (const [file, objects] of Object.entries(manifests)) {
    for (const object of objects) {
      const known = MODELS[`${object.apiVersion}/${object.kind}`];
      const where = `${file}: ${object.kind} ${object.metadata?.name}`;
      if (known === undefined) problems.push(`${where}: no model for ${object.apiVersion} ${object.kind}`);
      else {
        try {
          new known.model(object as never).validate();
        } catch (error) {
          problems.push(`${where}: ${(error as Error).message}`);
        }
      }
    }
  }
  return problems;
}

/**
 * Fields the schemas do not know: the schemas accept them, `kubectl apply` refuses them. Each object
 * is type-checked as an object literal of its kind's type (from kubernetes-models), where tsc
 * reports a field the type does not have.
 */
export async function unknownFieldProblems(manifests: Record<string, KubernetesObject[]>): Promise<string[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "consensus-manifests-"));
  try {
    symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
    const lines: string[] = [];
    for (const [file, objects] of Object.entries(manifests)) {
      for (const object of objects) {
        const known = MODELS[`${object.apiVersion}/${object.kind}`];
        if (known === undefined) continue; // schemaProblems names it
        lines.push(
          `// ${file}: ${object.kind} ${object.metadata?.name}`,
          `export const _${lines.length} = ${JSON.stringify(object)} satisfies import("${known.module}").I${object.kind};`,
        );
      }
    }
    writeFileSync(path.join(dir, "manifests.mts"), `${lines.join("\n")}\n`);
    const flags = ["--noEmit", "--strict", "--skipLibCheck", "--module", "nodenext", "--target", "es2022"];
    const output = await tsc(dir, [...flags, "manifests.mts"]);
    // Anything tsc prints is a problem: an error on a line of an object is named by the object.
    return output
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => {
        const at = line.match(/^manifests\.mts\((\d+),.*error TS\d+: (.*)$/);
        return at === null ? line : `${lines[Number(at[1]) - 2]?.slice(3)}: ${at[2]}`;
      });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const subset = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([key, value]) => labels?.[key] === value);

/** Expands `$(VAR)` as Kubernetes does in an env value: with the variables defined before it. */
function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
}

/** The environment of `container` in pod `pod` (the image's, then its own, `metadata.name` from the pod's name). */
function podEnv(container: IContainer, pod: string, image: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { ...image };
  for (const variable of container.env ?? []) {
    const field = variable.valueFrom?.fieldRef?.fieldPath;
    if (field === "metadata.name") env[variable.name] = pod;
    else if (variable.value !== undefined) env[variable.name] = expand(variable.value, env);
    else env[variable.name] = `<${field ?? "unknown"}>`;
  }
  return env;
}

/** How long a probe lets a replica fail before it acts, in seconds (Kubernetes' defaults: 10 s, 3 times). */
const patience = (probe: IProbe | undefined) => (probe?.periodSeconds ?? 10) * (probe?.failureThreshold ?? 3);

export function kubernetesProblems(deployment: Deployment): string[] {
  const problems: string[] = [];
  const objects = Object.values(deployment.manifests).flat();
  const of = <T>(kind: string) => objects.filter((o) => o.kind === kind) as T[];
  const [sets, services, budgets] = [
    of<IStatefulSet>("StatefulSet"),
    of<IService>("Service"),
    of<IPodDisruptionBudget>("PodDisruptionBudget"),
  ];
  if (sets.length !== 1 || budgets.length !== 1) {
    return [`${sets.length} StatefulSets and ${budgets.length} PodDisruptionBudgets, not one of each`];
  }
  const set = sets[0]!;
  const spec = set.spec!;
  const name = set.metadata?.name;
  const replicas = spec.replicas ?? 1;
  const labels = spec.template.metadata?.labels;
  const pod = spec.template.spec!;
  const container = pod.containers[0]!;
  const image = imageEnv(deployment.dockerfile);
  const env = podEnv(container, `${name}-0`, image);
  const port = Number(env.CONSENSUS_PORT);

  const headless = services.find((s) => s.metadata?.name === spec.serviceName);
  if (headless?.spec?.clusterIP !== "None") problems.push(`serviceName ${spec.serviceName} is no headless Service`);
  else if (headless.spec.publishNotReadyAddresses !== true) {
    problems.push(`the headless Service ${spec.serviceName} hides replicas that are not ready from their peers`);
  }
  if (
    !services.some(
      (s) => s !== headless && s.spec?.clusterIP !== "None" && (s.spec?.type ?? "ClusterIP") === "ClusterIP",
    )
  ) {
    problems.push("no ClusterIP Service for clients");
  }
  if (!subset(spec.selector.matchLabels, labels)) problems.push("the StatefulSet's selector does not match its pods");
  for (const service of services) {
    if (!subset(service.spec?.selector, labels)) {
      problems.push(`Service ${service.metadata?.name}'s selector does not match the pods`);
    }
    for (const servicePort of service.spec?.ports ?? []) {
      const target = servicePort.targetPort ?? servicePort.port;
      const named = container.ports?.find((p) => p.name === target)?.containerPort;
      if (servicePort.port !== port || (target !== port && named !== port)) {
        problems.push(`Service ${service.metadata?.name} port ${servicePort.port} → ${target} is not ${port}`);
      }
    }
  }
  const budget = budgets[0]!;
  if (!subset(budget.spec?.selector?.matchLabels, labels)) {
    problems.push("the PodDisruptionBudget's selector does not match the pods");
  }
  const majority = Math.floor(replicas / 2) + 1;
  if (budget.spec?.minAvailable !== majority) {
    problems.push(
      `PodDisruptionBudget minAvailable ${budget.spec?.minAvailable} is not a majority of ${replicas} (${majority})`,
    );
  }

  if (!container.ports?.some((p) => p.containerPort === port)) {
    problems.push(`the container does not declare port ${port}`);
  }
  const probes = {
    startupProbe: container.startupProbe,
    readinessProbe: container.readinessProbe,
    livenessProbe: container.livenessProbe,
  };
  for (const [probe, value] of Object.entries(probes)) {
    if (value?.grpc?.port !== port) problems.push(`${probe} is not a gRPC probe on port ${port}`);
  }
  if (patience(container.livenessProbe) <= patience(container.readinessProbe)) {
    problems.push("the liveness probe gives up no later than the readiness probe");
  }

  const peers = peerList(env.CONSENSUS_PEERS);
  const expected = Array.from({ length: replicas }, (_, i) => [
    `${name}-${i}`,
    `${name}-${i}.${spec.serviceName}:${port}`,
  ]);
  if (JSON.stringify(peers) !== JSON.stringify(expected)) {
    problems.push(`CONSENSUS_PEERS ${env.CONSENSUS_PEERS} is not ${expected.map((e) => e.join("=")).join(",")}`);
  }
  for (const [i, [replica, address]] of expected.entries()) {
    const own = podEnv(container, replica!, image);
    // Without CONSENSUS_NAME the name is the host name, which is the pod's.
    if ((own.CONSENSUS_NAME ?? replica) !== replica) problems.push(`pod ${i} is named ${own.CONSENSUS_NAME}`);
    if (own.CONSENSUS_ADVERTISE !== address) {
      problems.push(`${replica} advertises ${own.CONSENSUS_ADVERTISE}, not ${address}`);
    }
  }

  const claims = (spec.volumeClaimTemplates ?? []).map((claim) => claim.metadata?.name);
  const data = container.volumeMounts?.find((mount) => mount.mountPath === env.CONSENSUS_DATA);
  if (data === undefined || !claims.includes(data.name)) {
    problems.push(`CONSENSUS_DATA (${env.CONSENSUS_DATA}) is not a volume claimed for each replica (${claims.join()})`);
  }
  const grace = pod.terminationGracePeriodSeconds;
  if (grace === undefined || grace * 1000 <= deployment.drain) {
    problems.push(`terminationGracePeriodSeconds ${grace} does not cover the drain (${deployment.drain} ms)`);
  }
  if (container.image !== `${deployment.packageJson.name}:latest` || container.imagePullPolicy !== "IfNotPresent") {
    problems.push(`the image is ${container.image} (${container.imagePullPolicy}), not the project's, if not present`);
  }
  const security = pod.securityContext;
  if (security?.runAsNonRoot !== true || !security.runAsUser || security.fsGroup === undefined) {
    problems.push("the pod may run as root, or cannot write its volume (runAsNonRoot, runAsUser, fsGroup)");
  }
  if (container.securityContext?.readOnlyRootFilesystem !== true) problems.push("the root filesystem is writable");
  if (pod.enableServiceLinks !== false) problems.push("Services may set CONSENSUS_ variables (enableServiceLinks)");

  const listed = [...(deployment.kustomization.resources ?? [])].sort();
  const present = Object.keys(deployment.manifests).sort();
  if (listed.join() !== present.join()) {
    problems.push(`kustomization.yaml lists ${listed.join(", ")}, not the folder's ${present.join(", ")}`);
  }
  return problems;
}
