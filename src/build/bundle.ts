// A step of `npm run build`, after tsc: bundles the bins (and, apart, what
// drives ts-proto) with esbuild into cli/ of the build folder this module was
// compiled into, which src/build/swap.ts then puts in place of dist/.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, type BuildOptions } from "esbuild";

const out = path.resolve(fileURLToPath(import.meta.url), "../../..");
const common: BuildOptions = {
  absWorkingDir: path.resolve(out, ".."),
  bundle: true,
  platform: "node",
  target: "node20",
  // dprint-node's addon loaded without its libc probe (src/core/dprint-node.ts).
  alias: { "dprint-node": "./src/core/dprint-node.ts" },
  sourcemap: true,
  logLevel: "warning",
};

await Promise.all([
  build({
    ...common,
    entryPoints: ["src/cli/consensus.ts", "src/cli/create-consensus.ts", "src/cli/start.ts"],
    splitting: true,
    format: "esm",
    outdir: path.join(out, "cli"),
    chunkNames: "chunks/[name]-[hash]",
    // oxc-parser loads a native binding of its own platform at run time.
    external: ["oxc-parser"],
    // Bundled CommonJS dependencies call require(), which an ES module lacks.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  }),
  // CommonJS, so codegen.ts can load it with V8's code cache (src/core/ts-proto.ts).
  build({
    ...common,
    entryPoints: ["src/core/ts-proto.ts"],
    format: "cjs",
    outfile: path.join(out, "cli/ts-proto.cjs"),
    define: { "import.meta.url": "__import_meta_url" },
    banner: { js: "const __import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  }),
]);
