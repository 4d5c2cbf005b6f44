import { resolveCommand } from "package-manager-detector/commands";
import { getUserAgent } from "package-manager-detector/detect";
import { UserError } from "./errors.js";

export const PACKAGE_MANAGERS = ["npm", "pnpm", "yarn"] as const;
export type PackageManager = (typeof PACKAGE_MANAGERS)[number];

/** The manager that runs this command (`npm_config_user_agent`, set by npx, pnpm dlx, yarn create), else npm. */
export function detectPackageManager(): PackageManager {
  const agent = getUserAgent();
  return PACKAGE_MANAGERS.find((manager) => manager === agent) ?? "npm";
}

/** A command line in `manager`'s grammar: `npm run bench -- --x` or `pnpm run bench --x`; `npx consensus` or `pnpm exec consensus`. */
export function commandLine(
  manager: PackageManager,
  kind: "install" | "run" | "execute-local",
  args: string[] = [],
): string {
  const resolved = resolveCommand(manager, kind, args);
  if (!resolved) throw new Error(`${manager} has no ${kind} command`);
  return [resolved.command, ...resolved.args].join(" ");
}

/**
 * Installs the dependencies of the project at `root` with `manager`. On
 * failure, the error quotes the first lines it printed (stderr first).
 */
export async function installDependencies(root: string, manager: PackageManager, signal?: AbortSignal): Promise<void> {
  const { command, args } = resolveCommand(manager, "install", [])!;
  const line = [command, ...args].join(" ");
  const { x } = await import("tinyexec"); // only when installing: most runs of the CLI never spawn
  let result;
  try {
    // nodePath off: the manager is the one on the PATH, as the user would run it.
    result = await x(command, args, { nodeOptions: { cwd: root }, signal, throwOnError: false, nodePath: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    throw new UserError(`${line} failed: ${command} is not installed`);
  }
  if (signal?.aborted || result.exitCode === 0) return;
  // Its first two lines: enough for npm's "error code E404" and the line that explains it.
  const reason = `${result.stderr}\n${result.stdout}`
    .split("\n")
    .map((text) => text.trim())
    .filter((text) => text !== "")
    .slice(0, 2)
    .join(" / ");
  throw new UserError(`${line} failed (exit ${result.exitCode}${reason ? `: ${reason}` : ""})`);
}
