// npm run bench:add-message [-- --runs N]
// Median wall time of `consensus add-message` (planning, envelope edit, the
// Dispatch case, regeneration of every stub, the all-or-nothing commit) against
// a bare `buf generate` of the same protos (native buf, ts-proto as a local
// plugin) in the same run, in turns: on a blank project, and on one whose
// envelope already holds 100 types; then `consensus remove-message` of a type
// on a blank project that has it, likewise. Each command runs on a fresh copy
// of the project; each buf run writes every stub of the protos the command
// leaves.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { addMessage } from "../../src/commands/add-message.js";
import { CONSENSUS_BIN, CREATE_BIN } from "../support/paths.js";
import { bufGenerate, environment } from "../support/project.js";
import { median } from "../support/median.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "11" } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 5) throw new Error("--runs must be an integer ≥ 5");

const scratch = mkdtempSync(path.join(os.tmpdir(), "consensus-bench-add-"));
const ADD = ["add-message", "Extra", "--request", "ballot:uint64,value:bytes", "--reply", "ok:bool"];

function time(file: string, args: string[], cwd: string): number {
  const start = process.hrtime.bigint();
  // The plugin buf runs is a Node script: this Node's folder first on PATH, so both sides run on it.
  execFileSync(file, args, { cwd, env: environment({}), stdio: ["ignore", "ignore", "inherit"] });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** A blank project with `types` message types added besides Beacon. */
async function project(name: string, types: number): Promise<string> {
  execFileSync(process.execPath, [CREATE_BIN, name, "--no-install", "--no-git"], { cwd: scratch, stdio: "ignore" });
  const dir = path.join(scratch, name);
  for (let i = 0; i < types; i++) {
    await addMessage({ cwd: dir, name: `type${i}`, request: "ballot:uint64,value:bytes", reply: "ok:bool" });
  }
  return dir;
}

/** Median times of `consensus <args>` and of buf generate on copies of `pristine`, in turns. */
function measure(pristine: string, args: string[]): { ours: number; buf: number } {
  const dir = `${pristine}-run`;
  const ours: number[] = [];
  const theirs: number[] = [];
  const add = () => {
    rmSync(dir, { recursive: true, force: true });
    cpSync(pristine, dir, { recursive: true });
    ours.push(time(process.execPath, [CONSENSUS_BIN, ...args], dir));
  };
  const generate = () => {
    // The same protos the command regenerated from: buf writes every stub into gen/.
    rmSync(path.join(dir, "gen"), { recursive: true, force: true });
    const buf = bufGenerate(dir, "gen");
    theirs.push(time(buf.file, buf.args, dir));
  };
  add();
  generate(); // warm-up
  ours.length = theirs.length = 0;
  for (let i = 0; i < runs; i++) {
    add();
    generate();
  }
  return { ours: median(ours), buf: median(theirs) };
}

const blank = measure(await project("blank", 0), ADD);
const large = measure(await project("large", 100), ADD);
const removal = measure(await project("one", 1), ["remove-message", "type0"]);
const row = (label: string, ms: number) => console.log(`${label.padEnd(52)} median ${ms.toFixed(0).padStart(5)} ms`);
console.log(`Node.js ${process.versions.node}; ${runs} runs each after a warm-up, in turns`);
row("blank project: consensus add-message", blank.ours);
row("blank project: buf generate (same protos)", blank.buf);
console.log(
  `ratio                                                ${(blank.ours / blank.buf).toFixed(2)}   (target <= 1.0)`,
);
row("100 types: consensus add-message", large.ours);
row("100 types: buf generate (same protos)", large.buf);
console.log(
  `ratio                                                ${(large.ours / large.buf).toFixed(2)}   (target <= 1.0)`,
);
console.log(
  `growth from 1 to 101 types: add-message ${(large.ours / blank.ours).toFixed(2)}x, buf generate ${(large.buf / blank.buf).toFixed(2)}x`,
);
row("one type: consensus remove-message", removal.ours);
row("one type: buf generate (the protos it leaves)", removal.buf);
console.log(
  `ratio                                                ${(removal.ours / removal.buf).toFixed(2)}   (target <= 1.0)`,
);
rmSync(scratch, { recursive: true, force: true });
