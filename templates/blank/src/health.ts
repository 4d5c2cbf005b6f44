// The standard gRPC health service (grpc.health.v1.Health) of a replica, from
// the grpc-node project's grpc-health-check: what a load balancer, a
// Kubernetes gRPC probe or `npm run probe` asks before sending it anything.
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation, service, type ServingStatus } from "grpc-health-check";

export type { ServingStatus };

/** The services whose status is reported: "" (the server as a whole) and the Consensus service. */
const SERVICES = ["", "pb.Consensus"] as const;

/** One status for every service in SERVICES, and the Watch calls to end when the server closes. */
export class Health {
  private readonly implementation: HealthImplementation;
  private readonly watches = new Set<grpc.ServerWritableStream<unknown, unknown>>();

  constructor(private current: ServingStatus) {
    this.implementation = new HealthImplementation(Object.fromEntries(SERVICES.map((name) => [name, current])));
  }

  set(status: ServingStatus): void {
    if (status === this.current) return;
    this.current = status;
    for (const name of SERVICES) this.implementation.setStatus(name, status);
  }

  /** Registers the service on `server`; its Watch calls are tracked so that endWatches can end them. */
  addTo(server: grpc.Server): void {
    this.implementation.addToServer({
      addService: (service, handlers) =>
        server.addService(service, {
          ...handlers,
          watch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
            this.watches.add(call);
            call.on("cancelled", () => this.watches.delete(call));
            (handlers.watch as grpc.handleServerStreamingCall<unknown, unknown>)(call);
          },
        }),
    });
  }

  /** Ends the Watch calls (with OK), which would otherwise hold a graceful shutdown until its timeout. */
  endWatches(): void {
    for (const call of this.watches) call.end();
    this.watches.clear();
  }
}

const HealthClient = grpc.makeClientConstructor(service as grpc.ServiceDefinition, "grpc.health.v1.Health");
type Reply = { status: ServingStatus };
type Check = (
  request: { service: string },
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, reply?: Reply) => void,
) => grpc.ClientUnaryCall;

/**
 * One Check of `service` (default "": the server as a whole) at `address`:
 * resolves with the status it answers, rejects with the call's error
 * (DEADLINE_EXCEEDED after `timeout` ms).
 */
export function checkHealth(
  address: string,
  credentials: grpc.ChannelCredentials,
  { service = "", timeout = 3000 }: { service?: string; timeout?: number } = {},
): Promise<ServingStatus> {
  const client = new HealthClient(address, credentials) as unknown as grpc.Client & { Check: Check };
  return new Promise<ServingStatus>((resolve, reject) =>
    client.Check({ service }, { deadline: Date.now() + timeout }, (error, reply) =>
      error ? reject(error) : resolve(reply!.status),
    ),
  ).finally(() => client.close());
}
