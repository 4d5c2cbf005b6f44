// Replies that a stream writes in one turn of the event loop leave in one
// socket write. grpc-js's stream writer hands a reply to HTTP/2 only after the
// previous one has been written to the socket, so each reply of a pipelining
// peer cost a write(2) (and a wake-up) of its own; this interceptor
// acknowledges a reply as soon as HTTP/2 has it, and HTTP/2 sends what it was
// given in one turn together. Order and framing are unchanged: each reply is
// still one gRPC message, handed over in the order written.
import { ServerInterceptingCall, type ServerInterceptor } from "@grpc/grpc-js";

/** Replies handed to HTTP/2 but not yet on the socket, past which the writer waits as before. */
const IN_FLIGHT = 128;

class CoalescingCall extends ServerInterceptingCall {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  override sendMessage(message: unknown, written: () => void): void {
    this.inFlight++;
    super.sendMessage(message, () => {
      this.inFlight--;
      if (this.waiting.length > 0 && this.inFlight < IN_FLIGHT) this.waiting.shift()!();
    });
    if (this.inFlight < IN_FLIGHT) written();
    else this.waiting.push(written);
  }
}

/**
 * The interceptor, for methods that stream replies (Dispatch). Other calls get
 * no layer: grpc-js's type asks for its class, but the server only uses the
 * interface the next call already has, so a unary call is returned as it is.
 */
export const coalesceReplies: ServerInterceptor = (method, call) =>
  method.responseStream ? new CoalescingCall(call) : (call as ServerInterceptingCall);
