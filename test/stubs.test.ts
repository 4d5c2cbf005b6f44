import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { cpSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { NODE, REPO } from "./support/paths.js";
import { consensus, tempProject, tsc } from "./support/project.js";

const exec = promisify(execFile);

// The generated stubs, compiled under strict with a server and a client built
// on them, talking over a real socket on 127.0.0.1.
describe("the generated stubs", () => {
  const dir = tempProject();
  after(() => rmSync(dir, { recursive: true, force: true }));

  before(async () => {
    assert.equal((await consensus(["protobuf"], dir)).code, 0);
    cpSync(path.join(REPO, "test/fixtures/stubs"), path.join(dir, "src"), { recursive: true });
    symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
    writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }\n');
    writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noUnusedLocals: true,
          noUnusedParameters: true,
          noImplicitReturns: true,
          noFallthroughCasesInSwitch: true,
          noImplicitOverride: true,
          outDir: "dist",
        },
        include: ["src"],
      }),
    );
  });

  it("compile under strict with no diagnostics", async () => {
    assert.equal(await tsc(dir), "");
  });

  it("serve Propose and a Dispatch BEACON stream to a real client on 127.0.0.1", async () => {
    const server = spawn(NODE, [path.join(dir, "dist/server.js")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const port = await new Promise<string>((resolve, reject) => {
        server.stdout.on("data", (chunk: Buffer) => {
          const match = /listening (\d+)/.exec(String(chunk));
          if (match) resolve(match[1]);
        });
        server.on("exit", (code) => reject(new Error(`server exited with ${code}`)));
      });
      const { stdout } = await exec(NODE, [path.join(dir, "dist/client.js"), port], { timeout: 10_000 });
      const result = JSON.parse(stdout);
      assert.deepEqual(result.paths, ["/pb.Consensus/Propose", "/pb.Consensus/Dispatch"]);
      assert.deepEqual(result.propose, {
        success: false,
        redirect: "",
        error: "not implemented: put",
        seq: "0",
        leader: 0,
        name: "put",
        value: "x=1",
      });
      assert.deepEqual(
        result.replies,
        ["t1", "t2", "t3"].map((t) => ({
          type: "BEACON",
          sender: "r1",
          success: true,
          message: { $case: "beacon", value: { timestamp: `${t}/echo` } },
        })),
      );
    } finally {
      server.kill("SIGTERM");
    }
  });
});
