// A step of `npm run build`: puts the build folder this module was compiled
// into (dist-next/) in place of dist/. The build writes into a fresh folder and
// only this rename replaces the old one, so a project linked to this checkout
// (`file:` devDependency) keeps working bins while the tool rebuilds, and a
// failed build leaves the last good one.
import { copyFileSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const next = path.resolve(fileURLToPath(import.meta.url), "../../..");
const dist = path.join(next, "../dist");
const old = path.join(next, "../dist-old");
/** The bundle's chunks, named by their content. */
const CHUNKS = "cli/chunks";
/** In a build's chunks folder: the chunks it carries from the build before it, one name a line. */
const CARRIED = ".carried";

/**
 * Copies the old build's own chunks that the new one lacks into it: a bin that
 * started on the old build and loads a chunk after the swap still finds it.
 * They stay for one build only, so the folder does not grow.
 */
function carryChunks(from: string, to: string): void {
  const source = path.join(from, CHUNKS);
  const target = path.join(to, CHUNKS);
  if (!existsSync(source) || !existsSync(target)) return;
  const list = path.join(source, CARRIED);
  const carried = new Set(existsSync(list) ? readFileSync(list, "utf8").split("\n") : []);
  const names = readdirSync(source).filter(
    (name) => name !== CARRIED && !carried.has(name) && !existsSync(path.join(target, name)),
  );
  for (const name of names) copyFileSync(path.join(source, name), path.join(target, name));
  if (names.length > 0) writeFileSync(path.join(target, CARRIED), names.join("\n"));
}

rmSync(old, { recursive: true, force: true });
carryChunks(dist, next);
// Two renames: the moment between them is the only one without a dist/.
if (existsSync(dist)) renameSync(dist, old);
renameSync(next, dist);
rmSync(old, { recursive: true, force: true });
