#!/usr/bin/env node
import { start } from "../dist/cli/start.js";

start("consensus");
await import("../dist/cli/consensus.js");
