#!/usr/bin/env node
import "../dist/cli/consensus.js";
