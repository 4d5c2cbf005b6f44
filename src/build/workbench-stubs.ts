// `npm run stubs:workbench`: writes src/workbench/pb/, the stubs the workbench
// speaks the wire contract with: those of a blank project, generated the way
// `create-consensus` generates them (test/workbench-stubs.test.ts keeps them so).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { workbenchStubs } from "../core/workbench-stubs.js";

const OUT = fileURLToPath(new URL("../../../src/workbench/pb/", import.meta.url));
const scratch = mkdtempSync(path.join(os.tmpdir(), "consensus-workbench-stubs-"));
try {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  for (const [file, content] of await workbenchStubs(scratch)) writeFileSync(path.join(OUT, file), content);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
