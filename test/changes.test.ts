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
import { beforeTree } from "./support/trees.js";

const scratch = mkdtempSync(path.join(os.tmpdir(), "consensus-changes-"));
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

  it("leaves the tree before or after the commit when the process is killed at any point", async (t) => {
    const files = 120;
    const root = path.join(scratch, "killed");
    const journal = path.join(root, TRANSACTION_DIR, "journal.json");
    const child = path.join(import.meta.dirname, "support/commit-child.js");
    // Kills `delay` ms after the child starts its commit, or after its journal appears
    // (the commit point: from there on files are being renamed into place).
    const run = (kill?: { after: "start" | "journal"; delay: number }) =>
      new Promise<{ duration: number; applying: number }>((resolve) => {
        const proc = spawn(process.execPath, [child, root, String(files)]);
        let journalSeen = 0;
        const watch = () => {
          if (proc.exitCode !== null || proc.signalCode !== null) return;
          if (!journalSeen && existsSync(journal)) {
            journalSeen = performance.now();
            if (kill?.after === "journal") setTimeout(() => proc.kill("SIGKILL"), kill.delay);
          }
          setImmediate(watch);
        };
        proc.stdout.once("data", () => {
          if (kill?.after === "start") setTimeout(() => proc.kill("SIGKILL"), kill.delay);
          watch();
        });
        let out = "";
        proc.stdout.on("data", (chunk: Buffer) => (out += chunk));
        proc.on("exit", () => {
          const duration = Number(/committed ([\d.]+)/.exec(out)?.[1] ?? NaN);
          resolve({ duration, applying: journalSeen ? performance.now() - journalSeen : NaN });
        });
      });

    beforeTree(root, files);
    const before = JSON.stringify([...snapshot(root)]);
    const { duration, applying } = await run();
    const afterCommit = JSON.stringify([...snapshot(root)]);
    assert.notEqual(afterCommit, before);
    assert.ok(applying > 0, "the journal was seen during the full run");

    let recovered = 0;
    const kills = 10;
    for (const after of ["start", "journal"] as const) {
      for (let i = 0; i < kills; i++) {
        beforeTree(root, files);
        await run({ after, delay: ((after === "start" ? duration : applying) * i) / (kills - 1) });
        if (await recover(root)) recovered++;
        const now = JSON.stringify([...snapshot(root)]);
        assert.ok(now === before || now === afterCommit, `kill ${after}+${i}: neither before nor after the commit`);
      }
    }
    t.diagnostic(`${recovered} of ${2 * kills} kills landed after the commit point and were rolled back`);
    assert.ok(recovered > 0, `no kill landed after the commit point (it took ${applying.toFixed(1)} ms)`);
  });
});

describe("a change set whose root does not exist yet", () => {
  it("builds the root whole: killed at any point, it is absent or complete, and the next commit clears what was left", async (t) => {
    const files = 120;
    const parent = path.join(scratch, "fresh");
    const root = path.join(parent, "project");
    mkdirSync(parent);
    const child = path.join(import.meta.dirname, "support/commit-child.js");
    const run = (delay?: number) =>
      new Promise<number>((resolve) => {
        const proc = spawn(process.execPath, [child, root, String(files)]);
        proc.stdout.once("data", () => {
          if (delay !== undefined) setTimeout(() => proc.kill("SIGKILL"), delay);
        });
        let out = "";
        proc.stdout.on("data", (chunk: Buffer) => (out += chunk));
        proc.on("exit", () => resolve(Number(/committed ([\d.]+)/.exec(out)?.[1] ?? NaN)));
      });
    const staging = () => readdirSync(parent).filter((entry) => entry !== "project");

    const duration = await run();
    const complete = JSON.stringify([...snapshot(root)]);
    assert.equal(staging().length, 0);
    let absent = 0;
    const kills = 12;
    for (let i = 0; i < kills; i++) {
      rmSync(root, { recursive: true, force: true });
      await run((duration * i) / (kills - 1));
      if (!existsSync(root)) absent++;
      else assert.equal(JSON.stringify([...snapshot(root)]), complete, `kill ${i}: a partial root`);
    }
    t.diagnostic(`${absent} of ${kills} kills left no root, the others a complete one`);
    assert.ok(absent > 0, `no kill landed before the rename (the commit took ${duration.toFixed(1)} ms)`);

    rmSync(root, { recursive: true, force: true });
    // What a process killed before its rename leaves, for certain (the kills above may or may not have).
    const dead = await new Promise<number>((resolve) => {
      const proc = spawn(process.execPath, ["-e", ""]);
      proc.on("exit", () => resolve(proc.pid!));
    });
    mkdirSync(path.join(parent, `.project.${dead}.new-abc123/src`), { recursive: true });
    await new ChangeSet(root).write("a.txt", "a").commit();
    assert.deepEqual(staging(), [], "the next commit of that root removed them");
    assert.equal(readFileSync(path.join(root, "a.txt"), "utf8"), "a");
  });

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
