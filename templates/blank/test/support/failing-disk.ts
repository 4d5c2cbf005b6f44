// Loaded into a replica's process with `node --import` by test/main.test.ts:
// every fdatasync fails with EIO, as a failing disk's do, and on SIGUSR2 the
// replica's disk appends a record, as a protocol's handler would (blank's
// replica writes nothing itself).
import { type FileHandle, open } from "node:fs/promises";
import { FileDisk } from "../../src/disk.js";

const probe = await open(process.execPath);
const handles = Object.getPrototypeOf(probe) as FileHandle;
await probe.close();
handles.datasync = () => Promise.reject(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));

// The Replica subscribes to its disk's failures as it is made: that is where the disk is found.
const onFailure = FileDisk.prototype.onFailure;
FileDisk.prototype.onFailure = function (this: FileDisk, listener: (error: Error) => void): void {
  onFailure.call(this, listener);
  process.on("SIGUSR2", () => void this.append("wal", Buffer.from("record")).catch(() => undefined));
};
