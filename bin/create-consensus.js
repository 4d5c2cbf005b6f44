#!/usr/bin/env node
import { start } from "../dist/cli/start.js";

start("create-consensus");
await import("../dist/cli/create-consensus.js");
