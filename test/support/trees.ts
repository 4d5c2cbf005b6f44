import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ChangeSet } from "../../src/core/changes.js";

/** Lays out the "before" tree of the change-set tests: `files` files in two folders. */
export function beforeTree(root: string, files: number): void {
  rmSync(root, { recursive: true, force: true });
  for (let i = 0; i < files; i++) {
    const file = path.join(root, i % 2 ? "odd" : "even", `${i}.txt`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `before ${i}\n`);
  }
}

/** Plans updates, deletions and creations (some in new folders) over the tree of `beforeTree`. */
export function plannedChanges(changes: ChangeSet, files: number): ChangeSet {
  for (let i = 0; i < files; i++) {
    const file = `${i % 2 ? "odd" : "even"}/${i}.txt`;
    if (i % 3 === 0) changes.delete(file);
    else changes.write(file, `after ${i}\n`.repeat(50));
    changes.write(`new/${i % 7}/${i}.txt`, `created ${i}\n`);
  }
  return changes;
}
