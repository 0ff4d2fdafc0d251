/**
 * Loopback addresses for a lab cluster's Services. Linux answers every address of 127/8 on
 * `lo`, so each cluster gets its own /16, 127.<n>.0.0 (n from 16 up), and its Services'
 * ClusterIPs are 127.<n>.x.y: a Service port can then be listened on at its ClusterIP, as
 * kube-proxy makes it answer, and two clusters never collide.
 *
 * Which /16 is free is decided by the cluster's east-west gateway itself: it listens at
 * 127.<n>.255.254:15443, and the first n whose gateway address is free is the cluster's. A
 * listening socket is an exclusive claim across processes (tests run in parallel; a
 * `ferry lab up` daemon may run beside them) and is released when its process dies, so no
 * lock file can go stale.
 */
import type { Server } from 'node:net';

/** Istio's east-west gateway port (`tls`, 15443), served at the same number here. */
export const EAST_WEST_PORT = 15443;
const FIRST_OCTET = 16;
const LAST_OCTET = 254;

export interface ClusterRange {
  /** The second octet of the cluster's /16; undefined when loopback aliases are unavailable. */
  octet: number | undefined;
  gatewayHost: string;
  gatewayPort: number;
}

/** True for an address of 127/8. */
export function isLoopback(ip: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}

export function isGatewayAddress(ip: string): boolean {
  return /^127\.\d{1,3}\.255\.254$/.test(ip);
}

/**
 * Listens `server` at the first free 127.<n>.255.254:15443. Where loopback aliases do not
 * exist (macOS answers only 127.0.0.1), the gateway takes 127.0.0.1 and a port from the OS,
 * and the cluster keeps the API server's 10.96.x.y ClusterIPs (no ClusterIP listeners).
 */
export async function claimClusterRange(server: Server): Promise<ClusterRange> {
  for (let octet = FIRST_OCTET; octet <= LAST_OCTET; octet++) {
    const host = `127.${octet}.255.254`;
    const error = await tryListen(server, host, EAST_WEST_PORT);
    if (!error) return { octet, gatewayHost: host, gatewayPort: EAST_WEST_PORT };
    if (error.code === 'EADDRNOTAVAIL') break;
    if (error.code !== 'EADDRINUSE') throw error;
  }
  const error = await tryListen(server, '127.0.0.1', 0);
  if (error) throw error;
  const address = server.address();
  return { octet: undefined, gatewayHost: '127.0.0.1', gatewayPort: typeof address === 'object' && address ? address.port : 0 };
}

/** Listens, resolving with the error instead of throwing it (a taken address is an answer, not a failure). */
export function tryListen(server: Server, host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.removeListener('listening', onListening);
      resolve(error);
    };
    const onListening = () => {
      server.removeListener('error', onError);
      resolve(undefined);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * ClusterIPs 127.<octet>.x.y in order, skipping .0.0 and the gateway's 255.x. `taken`
 * says whether an address is already some Service's (a user may set spec.clusterIP).
 */
export function clusterIpAllocator(octet: number, taken: (ip: string) => boolean): () => string {
  let next = 1;
  return () => {
    for (let tries = 0; tries < 255 * 256; tries++) {
      const n = next;
      next = next >= 255 * 256 - 1 ? 1 : next + 1;
      const ip = `127.${octet}.${(n >> 8) & 255}.${n & 255}`;
      if ((n & 255) !== 0 && !taken(ip)) return ip;
    }
    throw new Error(`no free ClusterIP left in 127.${octet}.0.0/16`);
  }
}
