// Preloaded (node --import) into a command under test: writes one line to fd 3 once the command
// listens for SIGINT, so that a test's Ctrl-C reaches its handler rather than a process without one.
import { writeSync } from "node:fs";

process.on("newListener", function listening(event) {
  if (event !== "SIGINT") return;
  process.off("newListener", listening);
  // Node starts catching the signal in a newListener listener of its own, registered before this one.
  writeSync(3, "handled\n");
});
