// Commits the change set of test/changes.test.ts's kill tests, to be killed mid-way (support/kill-at-step.ts).
// Usage: node commit-child.js <root> <files>
import { ChangeSet } from "../../src/core/changes.js";
import { plannedChanges } from "./trees.js";

const [root, files] = process.argv.slice(2);
await plannedChanges(new ChangeSet(root), Number(files)).commit();
