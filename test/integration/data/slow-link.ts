/**
 * A TCP link with a delay that can be changed while it carries traffic: replication through
 * it lags by the delay, as over a long-distance link. Bytes keep their order when the delay
 * drops (each chunk leaves no earlier than the one before it).
 */
import net from 'node:net';

export interface SlowLink {
  port: number;
  /** Delay added to bytes from upstream to the client (the publisher's stream), ms. */
  delayMs: number;
  close(): Promise<void>;
}

export async function startSlowLink(upstream: { host: string; port: number }, delayMs: number): Promise<SlowLink> {
  const sockets = new Set<net.Socket>();
  const link: SlowLink = { port: 0, delayMs, close: async () => undefined };
  const server = net.createServer((client) => {
    const server = net.connect(upstream.port, upstream.host);
    sockets.add(client).add(server);
    let lastRelease = 0;
    const end = () => {
      client.destroy();
      server.destroy();
      sockets.delete(client);
      sockets.delete(server);
    };
    client.on('error', end).on('close', end);
    server.on('error', end).on('close', end);
    client.pipe(server);
    server.on('data', (chunk: Buffer) => {
      const release = Math.max(Date.now() + link.delayMs, lastRelease);
      lastRelease = release;
      setTimeout(() => client.destroyed || client.write(chunk), release - Date.now());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  link.port = (server.address() as net.AddressInfo).port;
  link.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return link;
}
