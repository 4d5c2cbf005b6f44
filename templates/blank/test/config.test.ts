// Configuration: flags beat the environment, which beats the config file;
// every bad value is a one-line ConfigError.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { advertised, ConfigError, loadConfig, wantsHelp } from "../src/config.js";
import { SNAPSHOT_EVERY } from "../src/disk.js";

describe("loadConfig", () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "config-"));
    file = path.join(dir, "replica.json");
    await writeFile(
      file,
      JSON.stringify({
        name: "file",
        host: "0.0.0.0",
        port: 4000,
        peers: { r2: "10.0.0.2:3265" },
        metrics: "file.jsonl",
        run: "file-run",
        data: "file-data",
        fsync: "always",
      }),
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("defaults", () => {
    assert.deepEqual(loadConfig([], {}), {
      name: hostname(),
      host: "127.0.0.1",
      port: 3264,
      advertise: undefined,
      peers: new Map(),
      tls: undefined,
      metrics: undefined,
      run: undefined,
      trace: undefined,
      data: undefined,
      fsync: "batch",
      snapshotEvery: SNAPSHOT_EVERY,
    });
  });

  test("flags", () => {
    const config = loadConfig(
      [
        "--name",
        "r1",
        "--host",
        "::1",
        "--port",
        "0",
        "--advertise",
        "r1.example:3264",
        "--peers",
        "r1=r1.example:3264,r2=127.0.0.1:3265, r3=[::1]:3266",
        "--tls-cert",
        "r1.pem",
        "--tls-key",
        "r1.key",
        "--tls-ca",
        "ca.pem",
        "--metrics",
        "m.jsonl",
        "--run",
        "flag-run",
        "--trace",
        "t.jsonl",
        "--data",
        "data/r1",
        "--fsync",
        "never",
        "--snapshot-every",
        "4096",
      ],
      {},
    );
    assert.deepEqual(config, {
      name: "r1",
      host: "::1",
      port: 0,
      advertise: "r1.example:3264",
      peers: new Map([
        ["r2", "127.0.0.1:3265"],
        ["r3", "[::1]:3266"],
      ]),
      tls: { cert: "r1.pem", key: "r1.key", ca: "ca.pem" },
      metrics: "m.jsonl",
      run: "flag-run",
      trace: "t.jsonl",
      data: "data/r1",
      fsync: "never",
      snapshotEvery: 4096,
    });
  });

  test("flags beat the environment, which beats the file", async () => {
    const env = { CONSENSUS_CONFIG: file, CONSENSUS_NAME: "env", CONSENSUS_PORT: "5000", CONSENSUS_PEERS: "" };
    assert.deepEqual(loadConfig(["--name", "flag", "--data", "flag-data"], env), {
      name: "flag",
      host: "0.0.0.0",
      port: 5000,
      advertise: undefined,
      peers: new Map([["r2", "10.0.0.2:3265"]]),
      tls: undefined,
      metrics: "file.jsonl",
      run: "file-run",
      trace: undefined,
      data: "flag-data",
      fsync: "always",
      snapshotEvery: SNAPSHOT_EVERY,
    });
    assert.equal(loadConfig([], { ...env, CONSENSUS_DATA: "env-data" }).data, "env-data");
    assert.equal(loadConfig([], { ...env, CONSENSUS_TRACE: "env.jsonl" }).trace, "env.jsonl");
    assert.equal(loadConfig([], { ...env, CONSENSUS_FSYNC: "never" }).fsync, "never");
    assert.equal(loadConfig([], { ...env, CONSENSUS_SNAPSHOT_EVERY: "65536" }).snapshotEvery, 65536);
    assert.equal(loadConfig([], env).name, "env");
    assert.equal(loadConfig(["--config", file], {}).name, "file");
    assert.equal(loadConfig(["--config", file], { CONSENSUS_PEERS: "r3=h:1" }).peers.get("r3"), "h:1");
    const tlsEnv = { CONSENSUS_TLS_CERT: "c.pem", CONSENSUS_TLS_KEY: "k.pem", CONSENSUS_ADVERTISE: "r.example:1" };
    const fromEnv = loadConfig([], tlsEnv);
    assert.deepEqual([fromEnv.tls, fromEnv.advertise], [{ cert: "c.pem", key: "k.pem", ca: undefined }, "r.example:1"]);
    await writeFile(file.replace(".json", "-tls.json"), JSON.stringify({ "tls-cert": "f.pem", "tls-key": "f.key" }));
    assert.equal(loadConfig(["--config", file.replace(".json", "-tls.json")], {}).tls?.cert, "f.pem");
  });

  test("one peers list for every replica: this replica's own entry is dropped when it is where it is advertised", () => {
    const list = "r1=127.0.0.1:3264,r2=127.0.0.1:3265";
    assert.deepEqual([...loadConfig(["--name", "r1", "--peers", list], {}).peers.keys()], ["r2"]);
    const shared = "r-0=r-0.r:3264,r-1=r-1.r:3264";
    const config = loadConfig(["--name", "r-0", "--advertise", "R-0.r:3264", "--peers", shared], {});
    assert.deepEqual([...config.peers], [["r-1", "r-1.r:3264"]]);
  });

  test("advertised: --advertise, else host:port, else the host name when listening on every address", () => {
    assert.equal(advertised(loadConfig(["--port", "4000"], {})), "127.0.0.1:4000");
    assert.equal(advertised(loadConfig(["--host", "0.0.0.0"], {})), `${hostname()}:3264`);
    assert.equal(advertised(loadConfig(["--host", "::"], {})), `${hostname()}:3264`);
    assert.equal(advertised(loadConfig(["--host", "::1", "--port", "0"], {}), 4100), "[::1]:4100");
    assert.equal(advertised(loadConfig(["--advertise", "r-0.r:3264", "--host", "0.0.0.0"], {})), "r-0.r:3264");
  });

  const refusals: [string, string[], Record<string, string>, RegExp][] = [
    ["a port that is not a number", ["--port", "http"], {}, /^--port: "http" is not a port/],
    ["a port out of range", ["--port", "65536"], {}, /^--port: "65536" is not a port/],
    ["a bad port in the environment", [], { CONSENSUS_PORT: "-1" }, /^CONSENSUS_PORT: "-1" is not a port/],
    [
      "an fsync that is not a mode",
      ["--fsync", "sometimes"],
      {},
      /^--fsync: fsync must be one of always, batch, never, not "sometimes"$/,
    ],
    [
      "a snapshot interval of no bytes",
      ["--snapshot-every", "0"],
      {},
      /^--snapshot-every: "0" is not a number of bytes/,
    ],
    ["a peer without =", ["--peers", "r2:127.0.0.1:3265"], {}, /^--peers: peer "r2:127.0.0.1:3265" has no "="/],
    [
      "a peer without a port",
      ["--peers", "r2=127.0.0.1"],
      {},
      /^--peers: peer r2 address "127.0.0.1" is not host:port/,
    ],
    ["a peer listed twice", ["--peers", "r2=a:1,r2=b:2"], {}, /listed twice/],
    [
      "a peer entry for this replica at another address than it is advertised at",
      ["--name", "r1", "--port", "3264", "--peers", "r1=a:1"],
      {},
      /^--peers: peer r1 is this replica, at a:1, but it is advertised as 127\.0\.0\.1:3264 \(see --advertise\)$/,
    ],
    [
      "an own entry that is not the --advertise address",
      ["--name", "r-0", "--advertise", "r-0.r:3264"],
      { CONSENSUS_PEERS: "r-0=r-0:3264" },
      /^CONSENSUS_PEERS: peer r-0 is this replica, at r-0:3264, but it is advertised as r-0\.r:3264/,
    ],
    ["an --advertise without a port", ["--advertise", "r-0.r"], {}, /^--advertise: "r-0\.r" is not host:port$/],
    ["an --advertise with port 0", ["--advertise", "r:0"], {}, /^--advertise: "r:0" is not host:port$/],
    ["--tls-cert without --tls-key", ["--tls-cert", "c.pem"], {}, /^--tls-cert needs --tls-key/],
    ["--tls-key without --tls-cert", [], { CONSENSUS_TLS_KEY: "k.pem" }, /^CONSENSUS_TLS_KEY needs --tls-cert/],
    ["--tls-ca without a certificate and key", ["--tls-ca", "ca.pem"], {}, /^--tls-ca needs --tls-cert and --tls-key/],
    [
      "an empty --tls-ca",
      ["--tls-cert", "c", "--tls-key", "k", "--tls-ca", ""],
      {},
      /^--tls-ca: tls-ca must be a non-empty/,
    ],
    ["an unknown flag", ["--prot", "1"], {}, /^unknown option --prot \(see --help\)$/],
    ["a flag without its value", ["--port"], {}, /^option --port needs a value/],
    ["a stray argument", ["r1"], {}, /^unexpected argument r1/],
    ["an unreadable config file", ["--config", "/nonexistent/replica.json"], {}, /cannot be read \(ENOENT\)$/],
  ];
  for (const [what, argv, env, message] of refusals) {
    test(`refuses ${what}`, () => {
      assert.throws(
        () => loadConfig(argv, env),
        (error: Error) => error instanceof ConfigError && message.test(error.message) && !error.message.includes("\n"),
      );
    });
  }

  test("refuses a config file that is not valid JSON, not an object, or has an unknown key", async () => {
    const cases: [string, RegExp][] = [
      ["{ name: r1 }", /is not valid JSON/],
      ["[1]", /is not a JSON object/],
      ['{ "prot": 1 }', /unknown key "prot"/],
      ['{ "port": "x" }', /: port: "x" is not a port/],
      ['{ "name": 7 }', /: name: name must be a non-empty string, not 7$/],
    ];
    for (const [text, message] of cases) {
      const bad = path.join(dir, "bad.json");
      await writeFile(bad, text);
      assert.throws(
        () => loadConfig(["--config", bad], {}),
        (error: Error) => error instanceof ConfigError && message.test(error.message),
      );
    }
  });

  test("--help and -h ask for the usage", () => {
    assert.equal(wantsHelp(["--port", "1", "-h"]), true);
    assert.equal(wantsHelp(["--port", "1"]), false);
  });
});
