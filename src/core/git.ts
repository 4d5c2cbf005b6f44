import { x } from "tinyexec";

/** What `initRepository` did: made the initial commit, or why it did not. */
export type GitOutcome =
  | { readonly kind: "committed" }
  | { readonly kind: "inside-work-tree" }
  | { readonly kind: "no-git" }
  | { readonly kind: "no-identity" }
  | { readonly kind: "failed"; readonly reason: string };

export const INITIAL_COMMIT = "Initial commit from create-consensus";

/**
 * `git init`, add everything and make the initial commit in `root`, unless it
 * already is inside a work tree. Git is a convenience here: a missing git, a
 * missing identity or a failing commit is an outcome to report, never an error.
 */
export async function initRepository(root: string): Promise<GitOutcome> {
  const git = gitIn(root);
  const inside = await insideWorkTree(git);
  if (inside === undefined) return { kind: "no-git" };
  if (inside) return { kind: "inside-work-tree" };
  for (const step of [
    ["init", "--quiet"],
    ["add", "--all"],
  ]) {
    const result = await git(...step);
    if (result.exitCode !== 0) return { kind: "failed", reason: firstLine(result.stderr) };
  }
  // A commit without a configured identity fails after git guesses one; ask first.
  if ((await git("var", "GIT_COMMITTER_IDENT")).exitCode !== 0) return { kind: "no-identity" };
  const commit = await git("commit", "--quiet", "--message", INITIAL_COMMIT);
  return commit.exitCode === 0 ? { kind: "committed" } : { kind: "failed", reason: firstLine(commit.stderr) };
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}

/** The protos of `dir` (a folder of the project at `root`) as they are at git revision `ref`: path relative to `dir` → text. */
export type ProtosAt =
  | { readonly kind: "read"; readonly protos: Map<string, string> }
  | { readonly kind: "no-work-tree" }
  | { readonly kind: "no-revision" }
  /** The revision holds no .proto in `dir`; `ignored`: git ignores `dir`, so no revision ever will. */
  | { readonly kind: "no-protos"; readonly ignored: boolean };

export async function protosAt(root: string, ref: string, dir: string): Promise<ProtosAt> {
  const git = gitIn(root);
  if (!(await insideWorkTree(git))) return { kind: "no-work-tree" };
  const commit = await git("rev-parse", "--verify", "--quiet", `${ref}^{commit}`);
  if (commit.exitCode !== 0) return { kind: "no-revision" };
  const id = commit.stdout.trim();
  // Read from the object store, never from the work tree: nothing is checked out.
  const listed = await git("ls-tree", "-r", "-z", "--name-only", id, "--", `${dir}/`);
  if (listed.exitCode !== 0) throw new Error(`git ls-tree failed: ${firstLine(listed.stderr)}`);
  const protos = new Map<string, string>();
  for (const file of listed.stdout.split("\0").filter((name) => name.endsWith(".proto"))) {
    const shown = await git("show", `${id}:./${file}`);
    if (shown.exitCode !== 0) throw new Error(`git show failed: ${firstLine(shown.stderr)}`);
    protos.set(file.slice(dir.length + 1), shown.stdout);
  }
  if (protos.size === 0)
    return { kind: "no-protos", ignored: (await git("check-ignore", "--quiet", dir)).exitCode === 0 };
  return { kind: "read", protos };
}

/** Runs git in `root` (looked up on PATH only, not beside node), never throwing for its exit code. */
function gitIn(root: string) {
  return (...args: string[]) => x("git", args, { nodeOptions: { cwd: root }, throwOnError: false, nodePath: false });
}

/** Whether git's folder is inside a work tree; undefined when there is no git. */
async function insideWorkTree(git: ReturnType<typeof gitIn>): Promise<boolean | undefined> {
  try {
    const inside = await git("rev-parse", "--is-inside-work-tree");
    return inside.exitCode === 0 && inside.stdout.trim() === "true";
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
