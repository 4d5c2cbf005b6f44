// host:port as the workbench writes and reads it: `[::1]:3264` for IPv6.

/** The address a peer or a client dials: `127.0.0.1:3264`, `[::1]:3264`. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Whether `text` is host:port (a bracketed IPv6 host, a port up to 65535). */
export function isHostPort(text: string): boolean {
  const port = /^(?:\[[^\]]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(text)?.[1];
  return port !== undefined && Number(port) <= 65535;
}
