import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

/**
 * dprint-node's native formatter (the one ts-proto formats its output with), loaded as the package's
 * own index.js loads it, less detect-libc 1, which spawns `getconf` to tell glibc from musl: ~9 ms
 * of every command that generates stubs. The bundle puts this module in the package's place
 * (the alias in src/build/bundle.ts); on Linux the glibc build is tried first, then musl's.
 */
function load(): typeof import("dprint-node") {
  const dir = path.dirname(require.resolve("dprint-node/package.json"));
  const { platform, arch } = process;
  const targets =
    platform === "linux"
      ? (arch === "arm" ? ["gnueabihf"] : ["gnu", "musl"]).map((libc) => `${platform}-${arch}-${libc}`)
      : [platform === "win32" ? `${platform}-${arch}-msvc` : `${platform}-${arch}`];
  let failure: unknown;
  for (const target of targets) {
    try {
      return require(path.join(dir, `dprint-node.${target}.node`)) as typeof import("dprint-node");
    } catch (error) {
      failure = error;
    }
  }
  throw failure;
}

export default load();
