import { spawnChild } from "./child.js";
import { NODE } from "./paths.js";
import { environment, type Run } from "./project.js";

/** A bin of this package running on a pseudo-terminal, driven key by key as a person would. */
export interface Terminal {
  /** Resolves once the screen output so far matches `pattern`; rejects after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
  /** Types `keys` (use "\r" for Enter, "\x03" for Ctrl-C, "\x1b" for Esc). */
  type(keys: string): void;
  /** The exit code and everything written to the terminal. */
  exit: Promise<Run>;
}

/** Keys as a terminal sends them. */
export const KEY = { enter: "\r", down: "\x1b[B", ctrlC: "\x03", esc: "\x1b" } as const;

/**
 * Runs `bin args` on a pseudo-terminal made by script(1) (util-linux), 100
 * columns wide, in `cwd`. Arguments are single-quoted for script's shell.
 */
export function terminal(bin: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Terminal {
  const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
  const command = `stty cols 100 rows 40; exec ${[NODE, bin, ...args].map(quote).join(" ")}`;
  const { process: child } = spawnChild(["script", "-qec", command, "/dev/null"], {
    cwd,
    // A person at a terminal, whatever the test itself runs under (CI, a dumb terminal, none).
    env: environment({ NO_COLOR: "1", CI: undefined, TERM: "xterm-256color", ...env }),
  });
  let screen = "";
  const waiting = new Set<() => void>();
  child.stdout!.on("data", (chunk: Buffer) => {
    screen += chunk.toString("utf8");
    for (const check of waiting) check();
  });
  const exit = new Promise<Run>((resolve) =>
    child.on("close", (code: number | null) => {
      for (const check of waiting) check();
      resolve({ code: code ?? 1, stdout: screen, stderr: "" });
    }),
  );
  return {
    waitFor: (pattern, ms = 10_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(check);
          // A program left waiting for a key would keep the test run alive.
          child.kill("SIGKILL");
          reject(new Error(`the terminal never showed ${pattern}; it shows:\n${screen}`));
        }, ms);
        const check = () => {
          if (!pattern.test(screen)) return;
          clearTimeout(timer);
          waiting.delete(check);
          resolve();
        };
        waiting.add(check);
        check();
      }),
    type: (keys) => child.stdin!.write(keys),
    exit,
  };
}
