// TLS between replicas and clients over real gRPC, with certificates made
// here by openssl: a mutual-TLS cluster works; a certificate from another CA,
// an expired one and plaintext are refused with a line saying why; bad files
// stop a replica at start.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import type { ProposeReply } from "../src/pb/client.js";
import { ConsensusClient } from "../src/pb/service.js";
import { GrpcPeers, type LinkEvent } from "../src/peers.js";
import { Replica } from "../src/replica.js";
import { ReplicaServer } from "../src/server.js";
import { explainFailure, loadTls, type Tls, TlsError } from "../src/tls.js";
import { deadline } from "./support/deadline.js";

const MAIN = fileURLToPath(new URL("../src/main.js", import.meta.url));
const run = promisify(execFile);
const openssl = await run("openssl", ["version"]).then(
  () => true,
  () => false,
);
const beacon = { $case: "beacon", value: { timestamp: "" } } as const;
// Replicas are dialled as localhost, a name their certificates carry: Node warns when TLS is given an IP address as
// the server name (RFC 6066), and a test's output stays free of warnings.

/** A CA, or a certificate it signed for localhost and 127.0.0.1 (valid for a day, or in 2020 only). */
class Certificates {
  constructor(readonly dir: string) {}

  async ca(name: string): Promise<{ cert: string; key: string }> {
    const [cert, key] = [this.file(`${name}.pem`), this.file(`${name}.key`)];
    await run("openssl", ["req", "-x509", ...this.newKey(key), "-out", cert, "-days", "1", "-subj", `/CN=${name}`]);
    return { cert, key };
  }

  async issue(
    name: string,
    ca: { cert: string; key: string },
    expired = false,
  ): Promise<{ cert: string; key: string }> {
    const [cert, key] = [this.file(`${name}.pem`), this.file(`${name}.key`)];
    const san = ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"];
    if (!expired) {
      const signer = ["-CA", ca.cert, "-CAkey", ca.key];
      await run("openssl", [
        "req",
        "-x509",
        ...this.newKey(key),
        ...signer,
        "-out",
        cert,
        "-days",
        "1",
        ...san,
        "-subj",
        `/CN=${name}`,
      ]);
      return { cert, key };
    }
    // openssl 3.0's req and x509 cannot date a certificate in the past; its `ca` command can.
    const csr = this.file(`${name}.csr`);
    await run("openssl", ["req", "-new", ...this.newKey(key), "-out", csr, ...san, "-subj", `/CN=${name}`]);
    const config = this.file("ca.cnf");
    await writeFile(
      config,
      `[ca]\ndefault_ca = ca\n[ca]\ndatabase = ${this.file("index.txt")}\nnew_certs_dir = ${this.dir}\n` +
        `serial = ${this.file("serial")}\ndefault_md = sha256\npolicy = policy\ncopy_extensions = copy\n` +
        `unique_subject = no\n[policy]\ncommonName = supplied\n`,
    );
    await writeFile(this.file("index.txt"), "");
    await writeFile(this.file("serial"), "01\n");
    const dates = ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"];
    await run("openssl", [
      "ca",
      "-batch",
      "-notext",
      "-config",
      config,
      "-cert",
      ca.cert,
      "-keyfile",
      ca.key,
      "-in",
      csr,
      "-out",
      cert,
      ...dates,
    ]);
    return { cert, key };
  }

  private newKey(key: string): string[] {
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key];
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }
}

/** What onLink reports, and a way to wait for a report. */
function linkEvents() {
  const events: (LinkEvent & { peer: string })[] = [];
  let wake: (() => void) | undefined;
  return {
    events,
    onLink: (peer: string, event: LinkEvent) => {
      events.push({ ...event, peer });
      wake?.();
    },
    async until(count: number): Promise<void> {
      while (events.length < count) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

/** The reason of the first report of a GrpcPeers (with `tls`, or plaintext) dialing `port`: waiting, never connected. */
async function refusal(port: number, tls: Tls | undefined): Promise<string> {
  const link = linkEvents();
  const set = new GrpcPeers("dialer", { peer: `localhost:${port}` }, { tls, onLink: link.onLink });
  try {
    await link.until(1);
    const [event] = link.events;
    assert.ok(event?.state === "waiting", JSON.stringify(link.events));
    return event.reason;
  } finally {
    await set.close();
  }
}

function propose(client: ConsensusClient): Promise<ProposeReply> {
  return new Promise((resolve, reject) =>
    client.propose(
      { identity: "c1", name: "put", value: Buffer.alloc(0) },
      new grpc.Metadata(),
      deadline(),
      (error, reply) => (error ? reject(error) : resolve(reply)),
    ),
  );
}

/** Runs main.js with `args` until it exits or prints its listening line. */
async function start(args: string[]) {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
  const exited = once(child, "close") as Promise<[number | null, NodeJS.Signals | null]>;
  const listening = new Promise<void>((resolve) =>
    child.stdout.on("data", (chunk: Buffer) => ((stdout += chunk), stdout.includes("\n") && resolve())),
  );
  const exit = await Promise.race([exited, listening.then(() => undefined)]);
  return { child, exit, stdout: () => stdout, stderr: () => stderr, exited };
}

const skip = openssl
  ? false
  : "openssl is not installed (apt-get install openssl): these tests make their certificates with it";

describe("TLS", { skip, timeout: 60_000 }, () => {
  let dir: string;
  let ca: { cert: string; key: string };
  let other: { cert: string; key: string };
  const certs = new Map<string, { cert: string; key: string }>();
  /** Mutual TLS of `name`, signed by `ca`. */
  const mtls = (name: string): Tls => loadTls({ ...certs.get(name)!, ca: ca.cert });

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "tls-"));
    const made = new Certificates(dir);
    ca = await made.ca("ca");
    other = await made.ca("other-ca");
    for (const name of ["r1", "r2", "r3", "client"]) certs.set(name, await made.issue(name, ca));
    certs.set("intruder", await made.issue("intruder", other));
    certs.set("old", await made.issue("old", ca, true));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("three replicas with mutual TLS exchange Dispatch messages and answer a TLS client's Propose", async () => {
    const names = ["r1", "r2", "r3"];
    const tls = new Map(names.map((name) => [name, mtls(name)]));
    const link = linkEvents();
    const peers = new Map(
      names.map((name) => [name, new GrpcPeers(name, {}, { tls: tls.get(name), onLink: link.onLink })]),
    );
    const replicas = names.map((name) => new Replica({ name, peers: peers.get(name) }));
    const servers = replicas.map((replica) => new ReplicaServer(replica));
    try {
      const ports = await Promise.all(
        servers.map((server, i) => server.listen({ credentials: tls.get(names[i]!)!.server })),
      );
      for (const [i, name] of names.entries()) {
        for (const [j, other] of names.entries()) if (i !== j) peers.get(name)!.add(other, `localhost:${ports[j]}`);
      }
      const all = await replicas[0]!.peers.quorum(beacon, { size: 3, timeout: 10_000 });
      assert.deepEqual([...all.keys()].sort(), ["r2", "r3"]);
      const outcomes = await replicas[2]!.peers.broadcast(beacon);
      assert.deepEqual(
        [...outcomes.values()].map((outcome) => outcome.status),
        ["fulfilled", "fulfilled"],
      );
      await link.until(6);
      assert.deepEqual(new Set(link.events.map(({ state }) => state)), new Set(["connected"]));

      const client = new ConsensusClient(
        `localhost:${ports[1]}`,
        loadTls({ ...certs.get("client")!, ca: ca.cert }).client,
      );
      try {
        const reply = await propose(client);
        assert.equal(reply.success, reply.error === "", reply.error);
      } finally {
        client.close();
      }
      // A client with no certificate gets nothing.
      const anonymous = new ConsensusClient(`localhost:${ports[1]}`, grpc.credentials.createSsl(readFileSync(ca.cert)));
      try {
        await assert.rejects(propose(anonymous), (error: grpc.ServiceError) => {
          assert.equal(error.code, grpc.status.UNAVAILABLE);
          assert.match(explainFailure(error.details, tls.get("r1")!.files), /refused this replica's certificate/);
          return true;
        });
      } finally {
        anonymous.close();
      }
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
      await Promise.all(servers.map((server) => server.close()));
    }
  });

  test("a peer whose certificate another CA signed is refused both ways, with why", async () => {
    const r1 = new ReplicaServer(new Replica({ name: "r1" }));
    const intruder = new ReplicaServer(new Replica({ name: "intruder" }));
    // The intruder trusts r1's CA, so that only r1's refusal of its certificate is left to fail.
    const intruderTls = loadTls({ ...certs.get("intruder")!, ca: ca.cert });
    try {
      const r1Port = await r1.listen({ credentials: mtls("r1").server });
      const intruderPort = await intruder.listen({
        credentials: loadTls({ ...certs.get("intruder")!, ca: other.cert }).server,
      });
      assert.equal(
        await refusal(intruderPort, mtls("r1")),
        `its certificate is not signed by --tls-ca ${ca.cert} (self-signed certificate in certificate chain)`,
      );
      assert.match(await refusal(r1Port, intruderTls), /refused this replica's certificate/);
    } finally {
      await r1.close();
      await intruder.close();
    }
  });

  test("a peer whose certificate has expired is refused, with why; a replica does not start with one", async () => {
    const old = certs.get("old")!;
    assert.throws(
      () => loadTls({ ...old, ca: ca.cert }),
      (error: Error) =>
        error instanceof TlsError && error.message === `--tls-cert ${old.cert} expired on 2020-01-02T00:00:00.000Z`,
    );
    assert.throws(
      () => loadTls({ ...certs.get("r1")!, ca: undefined }, new Date("2020-01-01")),
      /^TlsError: --tls-cert \S+ is not valid before \d{4}-/,
    );
    // A peer whose certificate expired while it ran.
    const server = new ReplicaServer(new Replica({ name: "old" }));
    const credentials = grpc.ServerCredentials.createSsl(null, [
      { cert_chain: readFileSync(old.cert), private_key: readFileSync(old.key) },
    ]);
    try {
      assert.equal(
        await refusal(await server.listen({ credentials }), mtls("r1")),
        "its certificate has expired (certificate has expired)",
      );
    } finally {
      await server.close();
    }
  });

  test("plaintext to a TLS replica, and TLS to a plaintext one, fail with why", async () => {
    const tlsServer = new ReplicaServer(new Replica({ name: "r1" }));
    const plainServer = new ReplicaServer(new Replica({ name: "r2" }));
    try {
      const tlsPort = await tlsServer.listen({ credentials: mtls("r1").server });
      const plainPort = await plainServer.listen();
      assert.match(await refusal(tlsPort, undefined), /it may speak TLS, and this replica does not/);
      const client = new ConsensusClient(`localhost:${tlsPort}`, grpc.credentials.createInsecure());
      try {
        await assert.rejects(propose(client), (error: grpc.ServiceError) => {
          assert.equal(error.code, grpc.status.UNAVAILABLE);
          assert.match(explainFailure(error.details, undefined), /it may speak TLS, and this replica does not/);
          return true;
        });
      } finally {
        client.close();
      }
      assert.equal(await refusal(plainPort, mtls("r2")), "it does not speak TLS (wrong version number)");
    } finally {
      await tlsServer.close();
      await plainServer.close(100); // a TLS client's attempt may hold a plaintext server's graceful close
    }
  });

  test("a replica with TLS says so in its listening line", async () => {
    const { child, exit, stdout, stderr, exited } = await start([
      "--name",
      "r1",
      "--port",
      "0",
      "--tls-cert",
      certs.get("r1")!.cert,
      "--tls-key",
      certs.get("r1")!.key,
      "--tls-ca",
      ca.cert,
    ]);
    assert.equal(exit, undefined, stderr());
    assert.match(stdout(), /^r1 listening on 127\.0\.0\.1:\d+ \(mutual tls\)\n$/);
    child.kill("SIGTERM");
    assert.deepEqual(await exited, [0, null]);
  });

  test("a replica does not start with an unreadable file, a key of another certificate or an expired certificate", async () => {
    const r1 = certs.get("r1")!;
    const r2 = certs.get("r2")!;
    const old = certs.get("old")!;
    const cases: [string[], string][] = [
      [
        ["--tls-cert", path.join(dir, "none.pem"), "--tls-key", r1.key],
        `error: --tls-cert ${path.join(dir, "none.pem")} cannot be read (ENOENT)`,
      ],
      [["--tls-cert", r1.cert, "--tls-key", r1.key, "--tls-ca", dir], `error: --tls-ca ${dir} cannot be read (EISDIR)`],
      [
        ["--tls-cert", r1.cert, "--tls-key", r2.key],
        `error: --tls-key ${r2.key} is not the key of the certificate in --tls-cert ${r1.cert}`,
      ],
      [["--tls-cert", r1.key, "--tls-key", r1.key], `error: --tls-cert ${r1.key} is not a PEM certificate`],
      [
        ["--tls-cert", old.cert, "--tls-key", old.key],
        `error: --tls-cert ${old.cert} expired on 2020-01-02T00:00:00.000Z`,
      ],
    ];
    for (const [args, line] of cases) {
      const { child, exit, stdout, stderr } = await start(["--name", "r1", "--port", "0", ...args]);
      if (exit === undefined) child.kill("SIGKILL"); // it started: the assertion below says so
      assert.deepEqual(exit, [1, null], stdout());
      assert.ok(stderr().startsWith(line) && stderr().endsWith("\n") && stderr().split("\n").length === 2, stderr());
    }
  });
});

test("a connection reset by a peer that was killed is put in words, as a dropped one", () => {
  assert.equal(
    explainFailure("read ECONNRESET", undefined),
    "the connection dropped (the peer reset it: its process ended abruptly) (read ECONNRESET)",
  );
});
