// The deployment files of every template's project (Dockerfile, compose.yaml,
// deploy/kubernetes/), scaffolded by the real create-consensus and checked
// offline: no Docker engine or cluster runs here. Each check is also shown to
// fail on a file broken the way a hand edit breaks it.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { listTemplates } from "../src/core/scaffold.js";
import {
  composeProblems,
  type Deployment,
  dockerfileProblems,
  kubernetesProblems,
  parseDockerfile,
  readDeployment,
  readmeSetup,
  schemaProblems,
  unknownFieldProblems,
} from "./support/deploy.js";
import { CREATE_BIN } from "./support/paths.js";
import { runBin } from "./support/project.js";

const scratch = mkdtempSync(path.join(os.tmpdir(), "consensus-deploy-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const templates = [...(await listTemplates()).keys()];
const projects = new Map<string, string>();
before(async () => {
  for (const template of templates) {
    const dir = path.join(scratch, template, "my-kv");
    const created = await runBin(
      CREATE_BIN,
      [dir, "--template", template, "--yes", "--no-install", "--no-git"],
      scratch,
    );
    assert.equal(created.code, 0, created.stderr);
    projects.set(template, dir);
  }
});

for (const template of templates) {
  describe(`the deployment files of the ${template} template's project`, () => {
    const deployment = () => readDeployment(projects.get(template)!);

    it("are Kubernetes objects the API takes: valid against its schemas, no field it does not know", async () => {
      const { manifests } = deployment();
      assert.deepEqual(Object.keys(manifests), ["pod-disruption-budget.yaml", "services.yaml", "statefulset.yaml"]);
      assert.deepEqual(schemaProblems(manifests), []);
      assert.deepEqual(await unknownFieldProblems(manifests), []);
    });

    it("agree on Kubernetes: names, selectors, port, peers, majority, volume, grace, image, kustomization", () => {
      assert.deepEqual(kubernetesProblems(deployment()), []);
    });

    it("agree in compose.yaml: one image, names, advertised addresses, peers, volumes, ports, probe, grace", () => {
      assert.deepEqual(Object.keys(deployment().compose.services), ["r1", "r2", "r3"]);
      assert.deepEqual(composeProblems(deployment()), []);
    });

    it("build the image as the README sets up, run it as the start script does, on a Node.js of engines", () => {
      assert.deepEqual(dockerfileProblems(deployment()), []);
    });
  });
}

describe("the deployment checks", () => {
  const original = () => readDeployment(projects.get("blank")!);
  /** The blank project's deployment with `change` made to a copy (no object shared with another, as YAML aliases are). */
  const broken = (change: (d: Deployment) => void): Deployment => {
    const copy = JSON.parse(JSON.stringify(original())) as Deployment;
    change(copy);
    return copy;
  };
  /** Parsed YAML, reached into by path: what the tests break is not always what the types allow. */
  type Manifest = Record<string, any>;
  const object = (d: Deployment, file: string, index = 0) => d.manifests[file]![index] as Manifest;
  const set = (d: Deployment) => object(d, "statefulset.yaml");
  const container = (d: Deployment) => set(d).spec.template.spec.containers[0];
  const env = (d: Deployment, name: string) => container(d).env.find((v: { name: string }) => v.name === name);

  it("read a Dockerfile's continuation lines as one instruction, without the comments among them", () => {
    const text = 'FROM node:24-slim\n# why\nENV A=1 \\\n    # inside\n    B=2\nCMD ["node", "x.js"]\n';
    assert.deepEqual(parseDockerfile(text), [
      { keyword: "FROM", args: "node:24-slim" },
      { keyword: "ENV", args: "A=1  B=2" },
      { keyword: "CMD", args: '["node", "x.js"]' },
    ]);
  });

  it("take the set-up from the README's Run a replica", () => {
    assert.deepEqual(readmeSetup(original().readme), ["npm install", "npm run build"]);
  });

  it("refuse an object of the wrong shape: a port that is a string", () => {
    const d = broken((d) => (container(d).ports[0].containerPort = "3264"));
    assert.deepEqual(schemaProblems(d.manifests), [
      "statefulset.yaml: StatefulSet r: data/spec/template/spec/containers/0/ports/0/containerPort must be integer",
    ]);
  });

  it("refuse a field the API does not know: a misspelled probe", async () => {
    const d = broken((d) => {
      container(d).readinesProbe = container(d).readinessProbe;
      delete container(d).readinessProbe;
    });
    assert.deepEqual(schemaProblems(d.manifests), [], "the schemas take unknown fields: hence the type check");
    const problems = await unknownFieldProblems(d.manifests);
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(
      problems[0]!,
      /^statefulset\.yaml: StatefulSet r: .*'"readinesProbe"' does not exist in type 'IContainer'/,
    );
  });

  const kubernetes: [string, (d: Deployment) => void, RegExp][] = [
    ["a serviceName with no headless Service", (d) => (set(d).spec.serviceName = "x"), /serviceName x is no headless/],
    [
      "a headless Service that hides replicas not ready",
      (d) => (object(d, "services.yaml").spec.publishNotReadyAddresses = false),
      /hides replicas that are not ready/,
    ],
    ["no client Service", (d) => d.manifests["services.yaml"]!.pop(), /no ClusterIP Service for clients/],
    [
      "a StatefulSet selector that misses its pods",
      (d) => (set(d).spec.selector.matchLabels = { app: "x" }),
      /StatefulSet's selector does not match/,
    ],
    [
      "a Service selector that misses the pods",
      (d) => (object(d, "services.yaml", 1).spec.selector = { app: "x" }),
      /Service r-client's selector/,
    ],
    ["a Service on another port", (d) => (object(d, "services.yaml").spec.ports[0].port = 3265), /Service r port 3265/],
    [
      "a Service to another target",
      (d) => (object(d, "services.yaml", 1).spec.ports[0].targetPort = "metrics"),
      /Service r-client port 3264 → metrics/,
    ],
    [
      "a PodDisruptionBudget selector that misses the pods",
      (d) => (object(d, "pod-disruption-budget.yaml").spec.selector.matchLabels = { app: "x" }),
      /PodDisruptionBudget's selector/,
    ],
    ["5 replicas, 3 peers", (d) => (set(d).spec.replicas = 5), /CONSENSUS_PEERS .* is not r-0=.*,r-4=r-4\.r:3264/],
    ["5 replicas, a budget for 3", (d) => (set(d).spec.replicas = 5), /minAvailable 2 is not a majority of 5 \(3\)/],
    [
      "a peer of another name",
      (d) => (env(d, "CONSENSUS_PEERS").value = "r-0=r-0.r:3264,r-1=r-1.r:3264,r2=r-2.r:3264"),
      /CONSENSUS_PEERS/,
    ],
    ["a container on another port", (d) => (container(d).ports[0].containerPort = 3265), /not declare port 3264/],
    ["a probe on another port", (d) => (container(d).readinessProbe.grpc.port = 3265), /readinessProbe is not a gRPC/],
    ["no startup probe", (d) => delete container(d).startupProbe, /startupProbe is not a gRPC/],
    [
      "a liveness probe stricter than readiness",
      (d) => (container(d).livenessProbe.failureThreshold = 1),
      /liveness probe gives up no later/,
    ],
    [
      "an address peers cannot dial",
      (d) => (env(d, "CONSENSUS_ADVERTISE").value = "$(CONSENSUS_NAME):3264"),
      /r-0 advertises r-0:3264, not r-0\.r:3264/,
    ],
    [
      "one name for every pod",
      (d) => Object.assign(env(d, "CONSENSUS_NAME"), { value: "r", valueFrom: undefined }),
      /pod 1 is named r/,
    ],
    [
      "a data folder off the claimed volume",
      (d) => (container(d).volumeMounts[0].name = "scratch"),
      /CONSENSUS_DATA \(\/data\) is not a volume claimed/,
    ],
    [
      "a grace period shorter than the drain",
      (d) => (set(d).spec.template.spec.terminationGracePeriodSeconds = 5),
      /terminationGracePeriodSeconds 5 does not cover the drain \(5000 ms\)/,
    ],
    ["another image", (d) => (container(d).image = "my-kv:1"), /the image is my-kv:1/],
    [
      "a pod that may run as root",
      (d) => delete set(d).spec.template.spec.securityContext.runAsNonRoot,
      /may run as root/,
    ],
    [
      "a writable root filesystem",
      (d) => (container(d).securityContext.readOnlyRootFilesystem = false),
      /root filesystem is writable/,
    ],
    [
      "the Services' variables in the environment",
      (d) => delete set(d).spec.template.spec.enableServiceLinks,
      /Services may set CONSENSUS_ variables/,
    ],
    [
      "a file the kustomization leaves out",
      (d) => d.kustomization.resources!.pop(),
      /kustomization\.yaml lists services\.yaml, statefulset\.yaml, not the folder's pod-disruption-budget/,
    ],
  ];
  for (const [what, change, problem] of kubernetes) {
    it(`catch in Kubernetes: ${what}`, () => {
      const problems = kubernetesProblems(broken(change));
      assert.ok(
        problems.some((p) => problem.test(p)),
        `expected ${problem}, got ${JSON.stringify(problems)}`,
      );
    });
  }

  const service = (d: Deployment, name: string) => d.compose.services[name]!;
  const compose: [string, (d: Deployment) => void, RegExp][] = [
    ["a service from another image", (d) => (service(d, "r2").image = "other"), /r2 is not built as the others/],
    ["a service named otherwise", (d) => (service(d, "r2").environment!.CONSENSUS_NAME = "r9"), /r2 is named r9/],
    [
      "an address of another port",
      (d) => (service(d, "r2").environment!.CONSENSUS_ADVERTISE = "r2:3265"),
      /r2 advertises r2:3265, not r2:3264/,
    ],
    [
      "a peers list without a service",
      (d) => (service(d, "r3").environment!.CONSENSUS_PEERS = "r1=r1:3264,r2=r2:3264"),
      /r3's peers are r1=r1:3264,r2=r2:3264/,
    ],
    ["a shared volume", (d) => (service(d, "r2").volumes = ["r1-data:/data"]), /r2 shares the volume r1-data/],
    ["an undeclared volume", (d) => (service(d, "r2").volumes = ["r9-data:/data"]), /r2 has no named volume/],
    ["no volume", (d) => delete service(d, "r1").volumes, /r1 has no named volume of its own at \/data/],
    [
      "a port published twice",
      (d) => (service(d, "r3").ports = ["127.0.0.1:3264:3264"]),
      /r3 publishes 127\.0\.0\.1:3264 again/,
    ],
    ["another port published", (d) => (service(d, "r1").ports = ["3264:3265"]), /r1 does not publish its port 3264/],
    [
      "a health check without the probe",
      (d) => (service(d, "r2").healthcheck = { test: ["CMD", "true"] }),
      /r2's health check is \["CMD","true"\]/,
    ],
    [
      "a grace period shorter than the drain",
      (d) => (service(d, "r1").stop_grace_period = "5s"),
      /r1's stop_grace_period \(5s\) does not cover the drain/,
    ],
  ];
  for (const [what, change, problem] of compose) {
    it(`catch in compose.yaml: ${what}`, () => {
      const problems = composeProblems(broken(change));
      assert.ok(
        problems.some((p) => problem.test(p)),
        `expected ${problem}, got ${JSON.stringify(problems)}`,
      );
    });
  }

  const docker: [string, [string | RegExp, string], RegExp][] = [
    ["one stage", [/FROM node:24-slim AS build[\s\S]*?FROM node:24-slim\n/, "FROM node:24-slim\n"], /1 stages, not 2/],
    ["another build command", ["RUN npm run build", "RUN npx tsc"], /the build stage runs .* not the README's set-up/],
    ["an install that ignores the lockfile", ["RUN npm ci\n", "RUN npm install\n"], /not the README's set-up/],
    ["the development dependencies at run time", ["npm ci --omit=dev", "npm ci"], /does not run npm ci --omit=dev/],
    ["no compiled code", ["COPY --from=build /app/dist/src", "COPY dist/src"], /copies no dist\/ from the build stage/],
    ["a Node.js outside engines", [/node:24-slim/g, "node:18-slim"], /Node\.js 18 is not within engines/],
    ["two Node.js lines", ["node:24-slim AS build", "node:26-slim AS build"], /from different images/],
    ["root", ["USER node", "USER root"], /runs as root/],
    ["another port exposed", ["EXPOSE 3264", "EXPOSE 3265"], /EXPOSE 3265 is not CONSENSUS_PORT \(3264\)/],
    ["a replica on loopback", ["CONSENSUS_HOST=0.0.0.0", "CONSENSUS_HOST=127.0.0.1"], /CONSENSUS_HOST is 127\.0\.0\.1/],
    ["data outside the volume", ["VOLUME /data", "VOLUME /var/data"], /CONSENSUS_DATA \(\/data\) is not a VOLUME/],
    [
      "another command",
      ['"dist/src/main.js"', '"dist/src/probe.js"'],
      /not the start script \(node dist\/src\/main\.js\)/,
    ],
  ];
  for (const [what, [from, to], problem] of docker) {
    it(`catch in the Dockerfile: ${what}`, () => {
      const dockerfile = readFileSync(path.join(projects.get("blank")!, "Dockerfile"), "utf8");
      const text = dockerfile.replace(from, to);
      assert.notEqual(text, dockerfile, `the test's edit ${from} changes nothing`);
      const problems = dockerfileProblems({ ...original(), dockerfile: parseDockerfile(text) });
      assert.ok(
        problems.some((p) => problem.test(p)),
        `expected ${problem}, got ${JSON.stringify(problems)}`,
      );
    });
  }
});
