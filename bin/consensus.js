#!/usr/bin/env node
// With --debug, stacks name the TypeScript sources (the bundle ships its source maps).
if (process.argv.includes("--debug")) process.setSourceMapsEnabled(true);
await import("../dist/cli/consensus.js");
