import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { ChangeSet, recover, TRANSACTION_DIR } from "../src/core/changes.js";
import { snapshot } from "./support/project.js";
import { runToStep } from "./support/steps.js";
import { beforeTree } from "./support/trees.js";

const scratch = mkdtempSync(path.join(os.tmpdir(), "consensus-changes-"));
/** Commits a planned change set (support/trees.ts) in a process of its own, to be killed mid-way. */
const COMMIT_CHILD = path.join(import.meta.dirname, "support/commit-child.js");
/** Ten steps spread evenly from `from` to `to`, both included. */
const spread = (from: number, to: number) =>
  Array.from({ length: 10 }, (_, i) => Math.round(from + ((to - from) * i) / 9));
/** `from` … `to`. */
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
after(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;
const tree = (files: Record<string, string>) => {
  const root = path.join(scratch, `t${count++}`);
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), content);
  }
  mkdirSync(root, { recursive: true });
  return root;
};

describe("ChangeSet", () => {
  it("plans against the disk: creates, updates, deletes, and leaves out files that stay the same", async () => {
    const root = tree({ "a.txt": "a", "b.txt": "b", "c.txt": "c" });
    const changes = new ChangeSet(root)
      .write("a.txt", "a")
      .write("b.txt", "B")
      .delete("c.txt")
      .delete("gone.txt")
      .write("d/e/f.txt", "f");
    const planned = await changes.changes();
    assert.deepEqual(
      planned.map((c) => [c.path, c.kind, c.before?.toString(), c.after?.toString()]),
      [
        ["b.txt", "update", "b", "B"],
        ["c.txt", "delete", "c", undefined],
        ["d/e/f.txt", "create", undefined, "f"],
      ],
    );
    assert.deepEqual(
      snapshot(root),
      snapshot(tree({ "a.txt": "a", "b.txt": "b", "c.txt": "c" })),
      "planning writes nothing",
    );
    await changes.commit();
    assert.deepEqual(
      [...snapshot(root)].map(([file, bytes]) => [file, Buffer.from(bytes, "base64").toString()]),
      [
        ["a.txt", "a"],
        ["b.txt", "B"],
        ["d/", ""],
        ["d/e/", ""],
        ["d/e/f.txt", "f"],
      ],
    );
    assert.equal(existsSync(path.join(root, ".consensus")), false, "no journal is left behind");
  });

  it("rolls every file back when one step fails, and removes the folders it made", async () => {
    const root = tree({ "0.txt": "zero", "z.txt": "z" });
    // A dangling symlink: nothing to read at a/b.txt, but mkdir("a") fails mid-commit.
    symlinkSync(path.join(root, "nowhere"), path.join(root, "a"));
    const before = snapshot(root);
    const changes = new ChangeSet(root)
      .write("0.txt", "ZERO")
      .write("0new/x.txt", "x")
      .write("a/b.txt", "cannot be written")
      .delete("z.txt");
    await assert.rejects(changes.commit(), /ENOENT|EEXIST/);
    assert.deepEqual(snapshot(root), before);
    assert.equal(existsSync(path.join(root, "0new")), false);
    assert.equal(existsSync(path.join(root, ".consensus")), false);
  });

  it("refuses a file whose folder is a file on disk, before writing anything", async () => {
    const root = tree({ "0.txt": "zero", "a/b": "a file where a folder is needed" });
    const before = snapshot(root);
    const changes = new ChangeSet(root).write("0.txt", "ZERO").write("a/b/c.txt", "c");
    await assert.rejects(changes.commit(), { name: "UserError", message: "cannot write a/b/c.txt: a/b is a file" });
    assert.deepEqual(snapshot(root), before);
  });

  it("refuses to commit while another live process holds the journal", async () => {
    const root = tree({ "a.txt": "a" });
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 10000)"]);
    try {
      mkdirSync(path.join(root, TRANSACTION_DIR), { recursive: true });
      writeFileSync(path.join(root, TRANSACTION_DIR, "pid"), String(sleeper.pid));
      await assert.rejects(new ChangeSet(root).write("a.txt", "A").commit(), {
        name: "UserError",
        message: `another consensus command is changing this project; wait for it to finish (pid ${sleeper.pid})`,
      });
      assert.equal(readFileSync(path.join(root, "a.txt"), "utf8"), "a");
    } finally {
      sleeper.kill();
    }
  });

  it(
    "leaves the tree before or after the commit whatever step the process is killed at",
    { timeout: 120_000 },
    async (t) => {
      const files = 120;
      const root = path.join(scratch, "killed");
      const run = (killAt?: number) =>
        runToStep([process.execPath, COMMIT_CHILD, root, String(files)], { cwd: scratch, root, killAt, t });

      beforeTree(root, files);
      const before = JSON.stringify([...snapshot(root)]);
      const { steps } = await run();
      const afterCommit = JSON.stringify([...snapshot(root)]);
      assert.notEqual(afterCommit, before);
      // The commit point is the journal's rename into place; the commit is whole once the journal is gone.
      const commitPoint =
        steps.findIndex((step) => step.call === "renameSync" && step.path.endsWith("journal.tmp")) + 1;
      const whole = steps.findIndex((step) => step.call === "unlinkSync" && step.path.endsWith("journal.json")) + 1;
      assert.ok(0 < commitPoint && commitPoint < whole);

      // Ten steps spread over the staging, ten over the renames, and each after the journal is gone.
      for (const step of [
        ...spread(1, commitPoint - 1),
        ...spread(commitPoint, whole - 1),
        ...range(whole, steps.length),
      ]) {
        beforeTree(root, files);
        assert.equal((await run(step)).signal, "SIGKILL", `step ${step}: not killed`);
        const inCommit = commitPoint <= step && step < whole;
        assert.equal(
          await recover(root),
          inCommit,
          `killed after step ${step}: ${inCommit ? "nothing" : "a commit"} rolled back`,
        );
        const now = JSON.stringify([...snapshot(root)]);
        assert.ok(
          now === (step < whole ? before : afterCommit),
          `killed after step ${step}: not ${step < whole ? "before" : "after"} the commit`,
        );
      }
    },
  );
});

describe("a change set whose root does not exist yet", () => {
  it(
    "builds the root whole: killed at any step, it is absent or complete, and the next commit clears what was left",
    { timeout: 120_000 },
    async (t) => {
      const files = 120;
      const parent = path.join(scratch, "fresh");
      const root = path.join(parent, "project");
      mkdirSync(parent);
      const run = (killAt?: number) =>
        runToStep([process.execPath, COMMIT_CHILD, root, String(files)], { cwd: scratch, root: parent, killAt, t });
      const staging = () => readdirSync(parent).filter((entry) => entry !== "project");
      // Each run from an empty parent: what a killed one left would add steps (its removal) to the next.
      const empty = () => {
        for (const entry of readdirSync(parent)) rmSync(path.join(parent, entry), { recursive: true, force: true });
      };

      const { steps } = await run();
      const complete = JSON.stringify([...snapshot(root)]);
      assert.equal(staging().length, 0);
      // The root appears whole in one step: the rename of the folder it was built in.
      const renamed = steps.findIndex((step) => step.call === "renameSync" && step.path.startsWith(".project.")) + 1;
      assert.ok(renamed > 1, steps.map((step) => `${step.call} ${step.path}`).join("\n"));
      for (const step of [...spread(1, renamed - 1), renamed, ...range(renamed + 1, steps.length)]) {
        empty();
        assert.equal((await run(step)).signal, "SIGKILL", `step ${step}: not killed`);
        if (step < renamed)
          assert.equal(existsSync(root), false, `killed after step ${step}: a root before the rename`);
        else assert.ok(JSON.stringify([...snapshot(root)]) === complete, `killed after step ${step}: a partial root`);
      }

      // What a process killed before its rename leaves, the next commit of that root removes.
      empty();
      await run(renamed - 1);
      assert.ok(staging().length > 0, "a process killed before its rename left nothing");
      await new ChangeSet(root).write("a.txt", "a").commit();
      assert.deepEqual(staging(), [], "the next commit of that root removed them");
      assert.equal(readFileSync(path.join(root, "a.txt"), "utf8"), "a");
    },
  );

  it("leaves nothing when a write fails", async () => {
    const parent = path.join(scratch, "failing");
    mkdirSync(parent);
    const root = path.join(parent, "project");
    // A file and a folder of the same name: the second write fails.
    const changes = new ChangeSet(root).write("a", "file").write("a/b.txt", "in a folder");
    await assert.rejects(changes.commit(), {
      code: "EISDIR",
      message: /^EISDIR: illegal operation on a directory, open '.*\/\.project\.\d+\.new-\w{6}\/a'$/,
    });
    assert.deepEqual(readdirSync(parent), []);
  });
});

describe("recover", () => {
  const deadPid = () =>
    new Promise<number>((resolve) => {
      const proc = spawn(process.execPath, ["-e", ""]);
      proc.on("exit", () => resolve(proc.pid!));
    });

  it("removes what a process killed before its commit point left, and changes nothing else", async () => {
    const root = tree({ "a.txt": "a" });
    const pid = String(await deadPid());
    // Killed between making its transaction folder and renaming it into place ...
    mkdirSync(path.join(root, `${TRANSACTION_DIR}-x1y2z3`), { recursive: true });
    writeFileSync(path.join(root, `${TRANSACTION_DIR}-x1y2z3`, "pid"), pid);
    // ... and one killed while staging, before its journal.
    mkdirSync(path.join(root, TRANSACTION_DIR));
    writeFileSync(path.join(root, TRANSACTION_DIR, "pid"), pid);
    writeFileSync(path.join(root, TRANSACTION_DIR, "0.new"), "A");
    assert.equal(await recover(root), false, "there was nothing to undo");
    assert.deepEqual([...snapshot(root).keys()], ["a.txt"]);
  });

  it("removes an empty .consensus folder left by a process killed while cleaning up", async () => {
    const root = tree({ "a.txt": "a" });
    mkdirSync(path.join(root, ".consensus"));
    assert.equal(await recover(root), false);
    assert.deepEqual([...snapshot(root).keys()], ["a.txt"]);
  });

  it("leaves alone the folder of a live process that has not reached its rename yet", async () => {
    const root = tree({ "a.txt": "a" });
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 10000)"]);
    try {
      const pending = path.join(root, `${TRANSACTION_DIR}-live01`);
      mkdirSync(pending, { recursive: true });
      writeFileSync(path.join(pending, "pid"), String(sleeper.pid));
      assert.equal(await recover(root), false);
      assert.equal(readFileSync(path.join(pending, "pid"), "utf8"), String(sleeper.pid));
    } finally {
      sleeper.kill();
    }
  });
});

describe("ChangeSet paths", () => {
  it("refuses a path outside its root", () => {
    const changes = new ChangeSet(scratch);
    assert.throws(() => changes.write("../x.txt", "x"), /change outside the tree: \.\.\/x\.txt/);
    assert.throws(() => changes.delete("/etc/passwd"), /change outside the tree: \/etc\/passwd/);
  });
});
