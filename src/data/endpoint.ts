import net from 'node:net';

/**
 * A database endpoint Ferry can re-point: a TCP forwarder on loopback that applications
 * connect to instead of the database itself, playing the part PgBouncer, ProxySQL or a
 * Kubernetes Service play in production. `switchTo` sends new connections to another
 * backend and closes the ones still open, so clients reconnect to the new side; the cutover
 * has frozen writes before, so nothing acknowledged is in flight. Written here because it
 * is 60 lines of `net` and no package does exactly this switch.
 */
export interface DatabaseEndpoint {
  host: string;
  port: number;
  backend(): { host: string; port: number };
  /** Sends new connections to `backend` and closes the open ones; returns how many it closed. */
  switchTo(backend: { host: string; port: number }): number;
  connections(): number;
  close(): Promise<void>;
}

export async function startDatabaseEndpoint(backend: { host: string; port: number }, options: { port?: number; host?: string } = {}): Promise<DatabaseEndpoint> {
  let current = backend;
  const open = new Set<{ client: net.Socket; server: net.Socket }>();
  const listener = net.createServer((client) => {
    const server = net.connect(current.port, current.host);
    const pair = { client, server };
    open.add(pair);
    const close = () => {
      open.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('error', close).on('close', close);
    server.on('error', close).on('close', close);
    client.pipe(server);
    server.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = listener.address() as net.AddressInfo;
  return {
    host: address.address,
    port: address.port,
    backend: () => current,
    switchTo(next) {
      current = next;
      const closed = open.size;
      for (const pair of [...open]) {
        pair.client.destroy();
        pair.server.destroy();
      }
      open.clear();
      return closed;
    },
    connections: () => open.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const pair of open) {
          pair.client.destroy();
          pair.server.destroy();
        }
        listener.close(() => resolve());
      }),
  };
}
