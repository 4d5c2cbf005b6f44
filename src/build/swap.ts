// A step of `npm run build`: puts the build folder this module was compiled
// into (dist-next/) in place of dist/. The build writes into a fresh folder and
// only this rename replaces the old one, so a project linked to this checkout
// (`file:` devDependency) keeps working bins while the tool rebuilds, and a
// failed build leaves the last good one.
import { existsSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const next = path.resolve(fileURLToPath(import.meta.url), "../../..");
const dist = path.join(next, "../dist");
const old = path.join(next, "../dist-old");
rmSync(old, { recursive: true, force: true });
// Two renames: the moment between them is the only one without a dist/.
if (existsSync(dist)) renameSync(dist, old);
renameSync(next, dist);
rmSync(old, { recursive: true, force: true });
