// Configuration: flags beat the environment, which beats the config file;
// every bad value is a one-line ConfigError.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ConfigError, loadConfig, wantsHelp } from "../src/config.js";

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
      peers: new Map(),
      metrics: undefined,
      run: undefined,
      data: undefined,
      fsync: "batch",
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
        "--peers",
        "r2=127.0.0.1:3265, r3=[::1]:3266",
        "--metrics",
        "m.jsonl",
        "--run",
        "flag-run",
        "--data",
        "data/r1",
        "--fsync",
        "never",
      ],
      {},
    );
    assert.deepEqual(config, {
      name: "r1",
      host: "::1",
      port: 0,
      peers: new Map([
        ["r2", "127.0.0.1:3265"],
        ["r3", "[::1]:3266"],
      ]),
      metrics: "m.jsonl",
      run: "flag-run",
      data: "data/r1",
      fsync: "never",
    });
  });

  test("flags beat the environment, which beats the file", () => {
    const env = { CONSENSUS_CONFIG: file, CONSENSUS_NAME: "env", CONSENSUS_PORT: "5000", CONSENSUS_PEERS: "" };
    assert.deepEqual(loadConfig(["--name", "flag", "--data", "flag-data"], env), {
      name: "flag",
      host: "0.0.0.0",
      port: 5000,
      peers: new Map([["r2", "10.0.0.2:3265"]]),
      metrics: "file.jsonl",
      run: "file-run",
      data: "flag-data",
      fsync: "always",
    });
    assert.equal(loadConfig([], { ...env, CONSENSUS_DATA: "env-data" }).data, "env-data");
    assert.equal(loadConfig([], { ...env, CONSENSUS_FSYNC: "never" }).fsync, "never");
    assert.equal(loadConfig([], env).name, "env");
    assert.equal(loadConfig(["--config", file], {}).name, "file");
    assert.equal(loadConfig(["--config", file], { CONSENSUS_PEERS: "r3=h:1" }).peers.get("r3"), "h:1");
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
    ["a peer without =", ["--peers", "r2:127.0.0.1:3265"], {}, /^--peers: peer "r2:127.0.0.1:3265" has no "="/],
    [
      "a peer without a port",
      ["--peers", "r2=127.0.0.1"],
      {},
      /^--peers: peer r2 address "127.0.0.1" is not host:port/,
    ],
    ["a peer listed twice", ["--peers", "r2=a:1,r2=b:2"], {}, /listed twice/],
    ["a peer named as this replica", ["--name", "r1", "--peers", "r1=a:1"], {}, /own name/],
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
