#!/usr/bin/env node
import module from "node:module";
import { requireSupportedNode } from "../dist/cli/engines.js";

requireSupportedNode("consensus");
// Node 22.1 and later keep V8's compiled code of the CLI on disk, so later runs start sooner (NODE_DISABLE_COMPILE_CACHE=1 turns it off).
module.enableCompileCache?.();
// With --debug, stacks name the TypeScript sources (the bundle ships its source maps).
if (process.argv.includes("--debug")) process.setSourceMapsEnabled(true);
await import("../dist/cli/consensus.js");
