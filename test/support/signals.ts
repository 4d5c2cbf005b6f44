import type { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { spawnChild } from "./child.js";
import { NODE } from "./paths.js";
import { environment } from "./project.js";

const PRELOAD = pathToFileURL(new URL("./sigint-handled.js", import.meta.url).pathname).href;

/**
 * Runs `bin` with `args` in `cwd` and sends it Ctrl-C (SIGINT) the moment it listens for the
 * signal, so that the command handles it; resolves with how it exited and all it printed.
 */
export function interruptOnceHandled(
  bin: string,
  args: string[],
  cwd: string,
): Promise<{ code: number | null; signal: string | null; output: string }> {
  const { process: child } = spawnChild([NODE, "--import", PRELOAD, bin, ...args], {
    cwd,
    env: environment({ NO_COLOR: "1" }),
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  (child.stdio[3] as Readable).once("data", () => child.kill("SIGINT"));
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, output })));
}
