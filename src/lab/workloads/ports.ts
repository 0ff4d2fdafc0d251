import { createServer } from 'node:net';

/**
 * A free TCP port on `host`, found by letting the OS pick one (listen on port 0) and
 * releasing it. Another process may take it before our child binds it; ports handed out
 * by this process are remembered so two pods of one lab never get the same one.
 */
const handedOut = new Set<number>();

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.once('error', reject);
      server.listen(0, host, () => {
        const address = server.address();
        const found = typeof address === 'object' && address ? address.port : 0;
        server.close(() => resolve(found));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found on ${host}`);
}

/** Lets a port be handed out again once the pod that held it has stopped. */
export function releasePort(port: number): void {
  handedOut.delete(port);
}
