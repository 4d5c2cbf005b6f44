// Commits the change set of test/changes.test.ts's kill test, to be killed mid-way.
// Usage: node commit-child.js <root> <files>
import { ChangeSet } from "../../src/core/changes.js";
import { plannedChanges } from "./trees.js";

const [root, files] = process.argv.slice(2);
const changes = plannedChanges(new ChangeSet(root), Number(files));
process.stdout.write("committing\n");
const started = performance.now();
await changes.commit();
process.stdout.write(`committed ${performance.now() - started}\n`);
