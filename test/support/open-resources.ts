// Preloaded (node --import) into a command whose prompt exit a test checks (Child.exitWithin): on
// SIGUSR2 it prints one line naming what keeps its event loop alive. A signal listener holds no loop.
import { writeSync } from "node:fs";

process.on("SIGUSR2", () => writeSync(2, `open: ${process.getActiveResourcesInfo().join(", ") || "nothing"}\n`));
