// Usage: node declared-tests.js <test file>…: prints {"tests": n, "skipped": n}, the tests those
// compiled test files declare (support/test-shim.ts stands in for node:test), none of them run.
import { register } from "node:module";
import { pathToFileURL } from "node:url";

const SHIM = new URL("./test-shim.js", import.meta.url).href;
const hooks = `export async function resolve(specifier, context, next) {
  return specifier === "node:test" ? { url: ${JSON.stringify(SHIM)}, shortCircuit: true } : next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
const { declared } = (await import(SHIM)) as typeof import("./test-shim.js");
for (const file of process.argv.slice(2)) await import(pathToFileURL(file).href);
process.stdout.write(`${JSON.stringify(declared)}\n`);
process.exit(0); // what a test file's top level opened must not keep this process alive
