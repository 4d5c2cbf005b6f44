import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { REPO } from "./paths.js";

/**
 * The stubs of the canonical proto set (proto/), byte for byte, by file name. Each is kept in one
 * place: those of a blank project in src/workbench/pb/ (the workbench's, shipped), the others in
 * test/golden/canonical/. `npm run golden:update` writes both.
 */
export function goldenStubs(): Map<string, string> {
  const stubs = new Map<string, string>();
  for (const dir of ["src/workbench/pb", "test/golden/canonical"].map((dir) => path.join(REPO, dir))) {
    for (const file of readdirSync(dir)) {
      if (stubs.has(file)) throw new Error(`${file} is in src/workbench/pb/ and in test/golden/canonical/`);
      stubs.set(file, readFileSync(path.join(dir, file), "utf8"));
    }
  }
  return new Map([...stubs].sort(([a], [b]) => (a < b ? -1 : 1)));
}
