/**
 * A TCP link with a delay that can be changed while it carries traffic: replication through
 * it lags by the delay, as over a long-distance link. Bytes keep their order when the delay
 * drops: chunks leave one after another from a queue, never from timers of their own (two
 * timers due in the same millisecond can fire out of order, which reordered the replication
 * stream and made a transaction go missing on the subscriber in loaded runs).
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
    const queue: Array<{ chunk: Buffer; release: number }> = [];
    let sending = false;
    const pump = () => {
      const next = queue[0];
      if (!next || sending) return;
      sending = true;
      setTimeout(() => {
        queue.shift();
        sending = false;
        if (!client.destroyed) client.write(next.chunk);
        pump();
      }, Math.max(0, next.release - Date.now()));
    };
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
      queue.push({ chunk, release: Date.now() + link.delayMs });
      pump();
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
