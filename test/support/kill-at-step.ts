// Preloaded (node --import) into a process that commits a change set (src/core/changes.ts), so that
// a test kills it at a chosen point of its commit by progress, not by time: each synchronous call that
// changes the file system under KILL_ROOT is a step, written to fd 3 as `<n> <call> <path>` (the path
// relative to KILL_ROOT); with KILL_AT_STEP=n the process SIGKILLs itself right after step n.
// A timer cannot aim inside a commit: it takes about a millisecond, less than a busy machine's jitter.
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import path from "node:path";

const root = path.resolve(process.env.KILL_ROOT ?? ".");
const killAt = Number(process.env.KILL_AT_STEP ?? Infinity);
const CALLS = [
  "writeFileSync",
  "renameSync",
  "unlinkSync",
  "copyFileSync",
  "mkdirSync",
  "mkdtempSync",
  "rmSync",
  "rmdirSync",
  "chmodSync",
] as const;

let steps = 0;
for (const name of CALLS) {
  const original = fs[name] as (...args: unknown[]) => unknown;
  (fs as unknown as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
    const result = original.apply(this, args);
    const target = typeof args[0] === "string" ? path.resolve(args[0]) : "";
    if (target === root || target.startsWith(root + path.sep)) {
      fs.writeSync(3, `${++steps} ${name} ${path.relative(root, target)}\n`);
      if (steps === killAt) process.kill(process.pid, "SIGKILL");
    }
    return result;
  };
}
// The named imports of node:fs (import { renameSync } from "node:fs") see the wrapped calls too.
syncBuiltinESMExports();
