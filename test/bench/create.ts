// npm run bench:create [-- --runs N --install-runs M]
// Median wall time of `create-consensus x --yes --no-install --no-git` against
// `create-vite x --no-interactive --template vanilla-ts` (both from this
// repository's node_modules, both a fresh Node process), in turns, in the same
// run; then the full flow, `create-consensus x --yes --no-git`, with the real
// npm install of the generated project.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { CREATE_BIN, REPO } from "../support/paths.js";
import { median } from "../support/median.js";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "21" }, "install-runs": { type: "string", default: "3" } },
});
const runs = Number(values.runs);
const installRuns = Number(values["install-runs"]);
if (!Number.isInteger(runs) || runs < 5) throw new Error("--runs must be an integer ≥ 5");
if (!Number.isInteger(installRuns) || installRuns < 1) throw new Error("--install-runs must be an integer ≥ 1");

const dir = mkdtempSync(path.join(os.tmpdir(), "consensus-bench-create-"));
const CREATE_VITE = path.join(REPO, "node_modules/create-vite/index.js");

function time(script: string, args: string[]): number {
  rmSync(path.join(dir, "x"), { recursive: true, force: true });
  const start = process.hrtime.bigint();
  execFileSync(process.execPath, [script, "x", ...args], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  return Number(process.hrtime.bigint() - start) / 1e6;
}
const ours = () => time(CREATE_BIN, ["--yes", "--no-install", "--no-git"]);
const vite = () => time(CREATE_VITE, ["--no-interactive", "--template", "vanilla-ts"]);

const a: number[] = [];
const b: number[] = [];
ours();
vite();
for (let i = 0; i < runs; i++) {
  if (i % 2 === 0) (a.push(ours()), b.push(vite()));
  else (b.push(vite()), a.push(ours()));
}
const row = (label: string, xs: number[]) =>
  console.log(`${label.padEnd(58)} median ${median(xs).toFixed(0).padStart(6)} ms   min ${Math.min(...xs).toFixed(0)}`);
console.log(`${runs} runs each after a warm-up, in turns`);
row("create-consensus x --yes --no-install --no-git", a);
row("create-vite x --no-interactive --template vanilla-ts", b);
console.log(
  `ratio create-consensus / create-vite                        ${(median(a) / median(b)).toFixed(2)}   (target <= 1.5)`,
);

const full = Array.from({ length: installRuns }, () => time(CREATE_BIN, ["--yes", "--no-git"]));
row(`create-consensus x --yes --no-git (npm install), ${installRuns} runs`, full);
rmSync(dir, { recursive: true, force: true });
