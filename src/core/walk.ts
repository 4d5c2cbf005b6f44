import { readdirSync } from "node:fs";
import path from "node:path";

/**
 * Every file and folder under `dir`, as sorted POSIX paths relative to it,
 * folders with a trailing `/`. Symbolic links are neither listed nor followed.
 * The walk is ours because Node's recursive readdir with `withFileTypes` is not
 * the same on every line: at a link to a folder, readdirSync stops on Node 20
 * and descends on 22 and later; readdir (promises) descends on 26 only.
 */
export function walk(dir: string): string[] {
  const entries: string[] = [];
  const visit = (relative: string) => {
    for (const entry of readdirSync(path.join(dir, relative), { withFileTypes: true })) {
      const name = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        entries.push(`${name}/`);
        visit(name);
      } else if (entry.isFile()) entries.push(name);
    }
  };
  visit("");
  return entries.sort();
}
