// npm run bench:codegen [-- --runs N]
// Median wall time of `consensus protobuf` on the canonical proto set against
// `buf generate` running ts-proto as a local plugin on the same files, in the
// same run, alternating. Both write every file on every run.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { CONSENSUS_BIN } from "../support/paths.js";
import { bufGenerate, tempProject } from "../support/project.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "11" } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 5) throw new Error("--runs must be an integer ≥ 5");

const dir = tempProject();
const buf = bufGenerate(dir, "gen");

function time(file: string, args: string[], clean: string): number {
  rmSync(path.join(dir, clean), { recursive: true, force: true });
  const start = process.hrtime.bigint();
  execFileSync(file, args, { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  return Number(process.hrtime.bigint() - start) / 1e6;
}
const ours = () => time(process.execPath, [CONSENSUS_BIN, "protobuf"], "src/pb");
const theirs = () => time(buf.file, buf.args, "gen");

ours();
theirs();
for (const file of readdirSync(path.join(dir, "gen"))) {
  if (readFileSync(path.join(dir, "gen", file), "utf8") !== readFileSync(path.join(dir, "src/pb", file), "utf8")) {
    throw new Error(`outputs differ: ${file}`);
  }
}

const a: number[] = [];
const b: number[] = [];
for (let i = 0; i < runs; i++) {
  if (i % 2 === 0) (a.push(ours()), b.push(theirs()));
  else (b.push(theirs()), a.push(ours()));
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const protos = readdirSync(path.join(dir, "proto")).length;
console.log(`canonical set: ${protos} protos, ${runs} runs each after a warm-up, alternating`);
console.log(`consensus protobuf        median ${median(a).toFixed(1)} ms  (min ${Math.min(...a).toFixed(1)})`);
console.log(`buf generate + ts-proto   median ${median(b).toFixed(1)} ms  (min ${Math.min(...b).toFixed(1)})`);
console.log(`ratio (ours / buf)        ${(median(a) / median(b)).toFixed(2)}  (target <= 0.80)`);
rmSync(dir, { recursive: true, force: true });
