// npm run bench:codegen [-- --runs N]
// Median wall time of `consensus protobuf` on the canonical proto set against
// `buf generate` running ts-proto as a local plugin on the same files, in the
// same run, in turns. Every run writes every file: the output folders are
// removed before each run. buf is timed twice: its native binary (the
// baseline of the ratio) and `node_modules/.bin/buf`, the Node wrapper that
// `npx buf` runs.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { CONSENSUS_BIN, REPO } from "../support/paths.js";
import { bufGenerate, environment, tempProject } from "../support/project.js";
import { median } from "../support/median.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "11" } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 5) throw new Error("--runs must be an integer ≥ 5");

const dir = tempProject();
const buf = bufGenerate(dir, "gen");

function time(file: string, args: string[], clean: string): number {
  rmSync(path.join(dir, clean), { recursive: true, force: true });
  const start = process.hrtime.bigint();
  // The plugin buf runs is a Node script: this Node's folder first on PATH, so both sides run on it.
  execFileSync(file, args, { cwd: dir, env: environment({}), stdio: ["ignore", "ignore", "inherit"] });
  return Number(process.hrtime.bigint() - start) / 1e6;
}
const ours = () => time(process.execPath, [CONSENSUS_BIN, "protobuf"], "src/pb");
const theirs = () => time(buf.file, buf.args, "gen");
const wrapper = () => time(path.join(REPO, "node_modules/.bin/buf"), buf.args, "gen");

ours();
theirs();
for (const file of readdirSync(path.join(dir, "gen"))) {
  if (readFileSync(path.join(dir, "gen", file), "utf8") !== readFileSync(path.join(dir, "src/pb", file), "utf8")) {
    throw new Error(`outputs differ: ${file}`);
  }
}

const a: number[] = [];
const b: number[] = [];
const c: number[] = [];
const turns = [() => a.push(ours()), () => b.push(theirs()), () => c.push(wrapper())];
wrapper();
for (let i = 0; i < runs; i++) {
  for (let j = 0; j < turns.length; j++) turns[(i + j) % turns.length]();
}
const protos = readdirSync(path.join(dir, "proto")).length;
const row = (label: string, xs: number[]) =>
  console.log(`${label.padEnd(36)} median ${median(xs).toFixed(1).padStart(6)} ms   min ${Math.min(...xs).toFixed(1)}`);
console.log(
  `Node.js ${process.versions.node}; canonical set: ${protos} protos, ${runs} runs each after a warm-up, in turns`,
);
row("consensus protobuf", a);
row("buf generate (native binary)", b);
row("buf generate (npx buf, Node wrapper)", c);
console.log(`ratio consensus / buf native          ${(median(a) / median(b)).toFixed(2)}   (target <= 0.80)`);
console.log(`ratio consensus / npx buf             ${(median(a) / median(c)).toFixed(2)}`);
rmSync(dir, { recursive: true, force: true });
