// Preloaded (node --import) into a process that commits a change set (src/core/changes.ts), so that
// a test signals it at a chosen point of its commit by progress, not by time: each synchronous call that
// changes the file system under KILL_ROOT is a step, written to fd 3 as `<n> <call> <path>` (the path
// relative to KILL_ROOT); with KILL_AT_STEP=n the process sends itself KILL_SIGNAL (SIGKILL unless
// set; SIGINT is Ctrl-C) right after step n. A timer cannot aim inside a commit: it takes about a
// millisecond, less than a busy machine's jitter.
// A signal the process handles reaches its listeners only once it is back in its event loop, not in
// the middle of synchronous code; `handled` on fd 3, after the steps made until then, says when.
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import path from "node:path";

const root = path.resolve(process.env.KILL_ROOT ?? ".");
const killAt = Number(process.env.KILL_AT_STEP ?? Infinity);
const signal = (process.env.KILL_SIGNAL ?? "SIGKILL") as NodeJS.Signals;
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
      if (steps === killAt) {
        // Only beside the command's own listener: alone, ours would keep the signal from ending the process.
        if (process.listenerCount(signal) > 0) process.once(signal, () => fs.writeSync(3, "handled\n"));
        process.kill(process.pid, signal);
      }
    }
    return result;
  };
}
// The named imports of node:fs (import { renameSync } from "node:fs") see the wrapped calls too.
syncBuiltinESMExports();
