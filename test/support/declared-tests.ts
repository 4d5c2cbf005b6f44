// Usage: node declared-tests.js <test file>…: prints {"tests": n, "skipped": n}, the tests those
// compiled test files declare (support/test-shim.ts stands in for node:test), none of them run.
import * as nodeModule from "node:module";
import { pathToFileURL } from "node:url";

const SHIM = new URL("./test-shim.js", import.meta.url).href;

type Next = (specifier: string, context: unknown) => unknown;
/** The resolve hook that sends node:test to the shim (it reads SHIM, which the data: module below defines too). */
function resolve(specifier: string, context: unknown, next: Next): unknown {
  return specifier === "node:test" ? { url: SHIM, shortCircuit: true } : next(specifier, context);
}

// In this thread where the line has registerHooks (22.15, 23.5 and later: module.register is deprecated
// from 26, DEP0205); otherwise on the loader thread, as the same function's source.
const { registerHooks } = nodeModule as typeof nodeModule & {
  registerHooks?: (hooks: { resolve: typeof resolve }) => void;
};
if (registerHooks) registerHooks({ resolve });
else
  nodeModule.register(
    `data:text/javascript,${encodeURIComponent(`const SHIM = ${JSON.stringify(SHIM)};\nexport ${resolve}`)}`,
  );
const { declared } = (await import(SHIM)) as typeof import("./test-shim.js");
for (const file of process.argv.slice(2)) await import(pathToFileURL(file).href);
process.stdout.write(`${JSON.stringify(declared)}\n`);
process.exit(0); // what a test file's top level opened must not keep this process alive
