// The Dispatch load: streams to a replica that each keep `window` BEACON
// requests in flight (window 1 is lockstep), checking that every reply is a
// BEACON reply and comes in order. It speaks gRPC's framing over node:http2
// itself, encoding the request once and reading replies in place: a grpc-js
// client costs about as much per message as the replica it would measure.
import http2 from "node:http2";
import { status as Code } from "@grpc/grpc-js";
import { PeerReply, PeerRequest, Type } from "../pb/envelope.js";
import type { Measurement } from "../measurement.js";

export interface DispatchLoad {
  /** host:port of each replica; streams are spread over them in turn. */
  targets: string[];
  streams: number;
  /** Requests in flight on each stream. */
  window: number;
  /** Milliseconds a stream may wait for a reply before it counts as lost. */
  timeout: number;
}

const PATH = "/pb.Consensus/Dispatch";
/** gRPC's message header: a compression flag and a 4-byte length. */
const HEADER = 5;

/** Runs the load until `measurement` stops and every stream has drained; resolves when all are closed. */
export async function dispatchLoad(load: DispatchLoad, measurement: Measurement): Promise<void> {
  const request = PeerRequest.encode({
    type: Type.BEACON,
    sender: "bench",
    message: { $case: "beacon", value: { timestamp: "" } },
  }).finish();
  const frame = Buffer.alloc(HEADER + request.length);
  frame.writeUInt32BE(request.length, 1);
  frame.set(request, HEADER);
  const burst = Buffer.concat(Array.from({ length: load.window }, () => frame));

  const sessions = load.targets.map((target) => {
    const session = http2.connect(`http://${target}`);
    session.on("error", () => undefined); // each stream reports its own failure
    return session;
  });
  let open = load.streams;
  try {
    await Promise.all(
      Array.from({ length: load.streams }, (_, index) =>
        new LoadStream(index + 1, sessions[index % sessions.length]!, load, burst, measurement).closed.finally(() => {
          // Nothing left to measure once every stream has failed.
          if (--open === 0) measurement.stop();
        }),
      ),
    );
  } finally {
    for (const session of sessions) session.close();
  }
}

/** One Dispatch stream of the load: its window of requests in flight, its replies checked in order. */
class LoadStream {
  readonly closed: Promise<void>;
  private readonly request: http2.ClientHttp2Stream;
  /** performance.now() of each request in flight, by its number modulo the window. */
  private readonly sentAt: Float64Array;
  private sent = 0;
  private received = 0;
  private lastTimestamp = "";
  private pending: Buffer | undefined;
  private lastReplyAt = performance.now();
  /** When the load half-closed the stream, waiting for the replica's status. */
  private endedAt: number | undefined;
  private statusSeen = false;
  private failed = false;
  private readonly watchdog: NodeJS.Timeout;

  constructor(
    private readonly number: number,
    session: http2.ClientHttp2Session,
    private readonly load: DispatchLoad,
    /** `window` request frames back to back. */
    private readonly burst: Buffer,
    private readonly measurement: Measurement,
  ) {
    this.sentAt = new Float64Array(load.window);
    this.request = session.request({
      ":method": "POST",
      ":path": PATH,
      "content-type": "application/grpc",
      te: "trailers",
    });
    this.closed = new Promise((resolve) => this.request.on("close", resolve));
    this.request.on("response", (headers) => {
      const status = headers[":status"];
      if (status !== 200) this.fail(`HTTP status ${status}`);
      else if (headers["grpc-status"] !== undefined) this.status(headers);
    });
    this.request.on("trailers", (trailers) => this.status(trailers));
    this.request.on("data", (chunk: Buffer) => this.receive(chunk));
    this.request.on("error", (error) => this.fail(error.message));
    this.watchdog = setInterval(() => this.check(), Math.max(10, load.timeout / 4));
    this.request.on("close", () => {
      clearInterval(this.watchdog);
      // A reset, or a connection gone, closes a stream with no error and no status.
      if (!this.statusSeen)
        this.fail(`closed without a status after ${this.received} replies to ${this.sent} requests`);
    });
    measurement.whenStopped(() => this.maybeEnd());
    this.send(load.window);
  }

  private send(count: number): void {
    const now = performance.now();
    for (let i = 0; i < count; i++) this.sentAt[(this.sent + i) % this.load.window] = now;
    this.sent += count;
    this.request.write(
      count === this.load.window ? this.burst : this.burst.subarray(0, (count * this.burst.length) / this.load.window),
    );
  }

  private receive(chunk: Buffer): void {
    const data = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    const now = performance.now();
    let offset = 0;
    let answered = 0;
    while (!this.failed && data.length - offset >= HEADER) {
      const length = data.readUInt32BE(offset + 1);
      if (data.length - offset < HEADER + length) break;
      this.reply(data.subarray(offset + HEADER, offset + HEADER + length), now);
      offset += HEADER + length;
      answered++;
    }
    this.pending = offset === data.length ? undefined : data.subarray(offset);
    if (answered === 0) return;
    this.lastReplyAt = now;
    if (this.failed) return;
    if (!this.measurement.stopped) this.send(answered);
    else this.maybeEnd();
  }

  private reply(bytes: Buffer, now: number): void {
    const number = ++this.received;
    if (number > this.sent) return this.fail(`reply ${number} answers no request`);
    let reply: PeerReply;
    try {
      reply = PeerReply.decode(bytes);
    } catch (error) {
      return this.fail(`reply ${number} does not decode: ${(error as Error).message}`);
    }
    if (reply.type !== Type.BEACON || reply.message?.$case !== "beacon") {
      return this.fail(`reply ${number} is a ${Type[reply.type] ?? `type ${reply.type}`} reply to a BEACON request`);
    }
    if (!reply.success) return this.fail(`reply ${number} says success=false`);
    // A replica answers in request order, so its clock only moves on from one reply to the next.
    const timestamp = reply.message.value.timestamp;
    if (timestamp < this.lastTimestamp) {
      return this.fail(
        `reply ${number} is out of order: stamped ${timestamp}, before reply ${number - 1} (${this.lastTimestamp})`,
      );
    }
    this.lastTimestamp = timestamp;
    this.measurement.answered("success", (now - this.sentAt[(number - 1) % this.load.window]!) * 1000);
  }

  /** Half-closes once the counted part is over and every request is answered. */
  private maybeEnd(): void {
    if (this.received >= this.sent && !this.request.writableEnded) {
      this.endedAt = performance.now();
      this.request.end();
    }
  }

  private status(metadata: http2.IncomingHttpHeaders): void {
    this.statusSeen = true;
    const code = Number(metadata["grpc-status"]);
    if (code !== Code.OK) {
      const message = percentDecoded(String(metadata["grpc-message"] ?? ""));
      this.fail(`ended with ${Code[code] ?? code}${message ? `: ${message}` : ""}`);
    } else if (this.received < this.sent) {
      this.fail(`ended after ${this.received} replies to ${this.sent} requests`);
    }
  }

  private check(): void {
    const now = performance.now();
    if (this.received < this.sent && now - this.lastReplyAt > this.load.timeout) {
      this.fail(`no reply for ${this.load.timeout} ms with ${this.sent - this.received} requests in flight`);
    } else if (this.endedAt !== undefined && now - this.endedAt > this.load.timeout) {
      this.fail(`no status for ${this.load.timeout} ms after the last reply`);
    }
  }

  /** Counts an error and closes this stream: after one lost or misplaced reply, the rest cannot be matched. */
  private fail(message: string): void {
    if (this.failed) return;
    this.failed = true;
    this.measurement.failed(`stream ${this.number}: ${message}`);
    if (!this.request.closed) this.request.close(http2.constants.NGHTTP2_CANCEL);
  }
}

/** gRPC percent-encodes grpc-message; a malformed one is shown as it came. */
function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
