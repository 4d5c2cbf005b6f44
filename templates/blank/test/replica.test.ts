// Replica.dispatch without a network: the statuses of the contract, as
// StatusErrors, and the stop on a failed disk. (Propose is the State's:
// test/state.test.ts.)
// First: the replica must know a second type when its runtime loads.
import { ANOTHER, UNKNOWN } from "./support/types.js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryDisk } from "../src/disk.js";
import { type PeerRequest, Type } from "../src/pb/envelope.js";
import { Replica } from "../src/replica.js";
import { Code, StatusError } from "../src/status.js";

const replica = new Replica({ name: "r1" });
const request = (type: number, message: PeerRequest["message"]): PeerRequest => ({
  type: type as Type,
  sender: "r2",
  message,
});
const beacon = { $case: "beacon", value: { timestamp: "" } } as const;

/** Asserts that `request` is refused with `code` and a message matching `pattern`. */
async function refused(request: PeerRequest, code: Code, pattern: RegExp): Promise<void> {
  await assert.rejects(replica.dispatch(request), (error: StatusError) => {
    assert.ok(error instanceof StatusError);
    assert.equal(Code[error.code], Code[code]);
    assert.match(error.message, pattern);
    return true;
  });
}

test("a beacon is answered with the replica's name and clock", async () => {
  const before = Date.now();
  const reply = await replica.dispatch(request(Type.BEACON, beacon));
  assert.equal(reply.type, Type.BEACON);
  assert.equal(reply.sender, "r1");
  assert.equal(reply.success, true);
  assert.ok(reply.message?.$case === "beacon");
  const timestamp = reply.message.value.timestamp;
  assert.match(timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  const ms = Date.parse(timestamp);
  assert.ok(ms >= before - 5 && ms <= Date.now() + 5, `${timestamp} is now`);
});

test("a type this replica does not know is UNIMPLEMENTED", async () => {
  await refused(
    request(UNKNOWN, beacon),
    Code.UNIMPLEMENTED,
    new RegExp(`^type ${UNKNOWN} is not known to this replica$`),
  );
  await refused(request(Type.UNRECOGNIZED, beacon), Code.UNIMPLEMENTED, /^type -1 is not known/);
});

test("a request without a message is INVALID_ARGUMENT", async () => {
  await refused(request(Type.BEACON, undefined), Code.INVALID_ARGUMENT, /^BEACON request carries no message$/);
});

test("a message that does not match the type is INVALID_ARGUMENT, before any handler runs", async () => {
  await refused(request(ANOTHER, beacon), Code.INVALID_ARGUMENT, /^ANOTHER request carries a beacon message$/);
});

test("a failed disk stops the replica: onStop hears of it once, and every request is UNAVAILABLE", async () => {
  const disk = new MemoryDisk("r1");
  const stops: string[] = [];
  const stopping = new Replica({ name: "r1", disk, onStop: (error) => stops.push(error.message) });
  assert.ok((await stopping.dispatch(request(Type.BEACON, beacon))).success);
  disk.fill();
  await assert.rejects(disk.append("wal", Buffer.from("record")), /ENOSPC/);
  await assert.rejects(disk.append("wal", Buffer.from("record")), /ENOSPC/);
  assert.deepEqual(stops, [
    "its disk failed, so what it wrote may not be durable: memory:r1/wal: ENOSPC: no space left on device, write",
  ]);
  const stopped =
    /^r1 has stopped: its disk failed, so what it wrote may not be durable: memory:r1\/wal: ENOSPC: no space left on device, write$/;
  await assert.rejects(stopping.dispatch(request(Type.BEACON, beacon)), (error: StatusError) => {
    assert.equal(Code[error.code], Code[Code.UNAVAILABLE]);
    assert.match(error.message, stopped);
    return true;
  });
  await assert.rejects(stopping.propose({ identity: "c", name: "x", value: Buffer.alloc(0) }), (error: Error) =>
    stopped.test(error.message),
  );
});

test("stop() stops the replica with its reason: onStop hears of the first call only, and requests are UNAVAILABLE", async () => {
  const stops: string[] = [];
  const stopping = new Replica({ name: "r1", onStop: (error) => stops.push(error.message) });
  stopping.stop(new Error("its data is older than what it acknowledged"));
  stopping.stop(new Error("a second reason"));
  assert.deepEqual(stops, ["its data is older than what it acknowledged"]);
  await assert.rejects(stopping.dispatch(request(Type.BEACON, beacon)), (error: StatusError) => {
    assert.equal(Code[error.code], Code[Code.UNAVAILABLE]);
    assert.equal(error.message, "r1 has stopped: its data is older than what it acknowledged");
    return true;
  });
});
