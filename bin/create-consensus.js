#!/usr/bin/env node
import "../dist/cli/create-consensus.js";
