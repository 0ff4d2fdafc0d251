/**
 * kube-proxy's ClusterIP rules, as listeners: each TCP port of each Service with a loopback
 * ClusterIP is listened on at clusterIP:port and every connection forwarded to a ready
 * endpoint (forward.ts), or, when it speaks HTTP/2, every request (h2.ts). Follows Service
 * changes from the store.
 *
 * Ports below 1024 need root (or CAP_NET_BIND_SERVICE): when binding is refused the port is
 * skipped with one warning per cluster, and the Service is still reached by name through
 * the service proxy. UDP ports are not served.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { KubeObject } from '../../kube/object.js';
import type { ObjectStore } from '../api/store.js';
import type { ControllerClient } from '../controllers/client.js';
import { log } from '../../util/log.js';
import { isLoopback } from './addresses.js';
import { servicePorts, ServiceUnreachable } from './endpoints.js';
import { connectToService, destinationOf, forwardToService, networkOf, pickEndpoints, recordConnection, splice } from './forward.js';
import { serveHttp2, sniffHttp2, UpstreamSessions } from './h2.js';
import { unknownPeer } from './telemetry.js';

type Obj = Record<string, any>;

interface Listener {
  server: Server;
  sockets: Set<Socket>;
  namespace: string;
  name: string;
  port: number;
}

export interface ClusterIpListeners {
  /** `ip:port` of every port listened on. */
  addresses(): string[];
  /** Resolves when the listeners for the Services seen so far are bound (or skipped). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export function listenOnClusterIps(cluster: string, store: ObjectStore, client: ControllerClient): ClusterIpListeners {
  const listeners = new Map<string, Listener>();
  const sessions = new UpstreamSessions();
  const refused = new Set<string>();
  let warnedLowPorts = false;
  let closed = false;
  let pending: Promise<void> = Promise.resolve();

  const wanted = (service: KubeObject): Map<string, { port: number }> => {
    const result = new Map<string, { port: number }>();
    const spec = (service.spec ?? {}) as Obj;
    if (spec.type === 'ExternalName') return result;
    const ips = ((spec.clusterIPs as string[] | undefined) ?? [spec.clusterIP as string | undefined]).filter((ip): ip is string => typeof ip === 'string' && isLoopback(ip));
    for (const ip of ips) {
      for (const port of servicePorts(service)) if (port.protocol === 'TCP') result.set(`${ip}:${port.port}`, { port: port.port });
    }
    return result;
  };

  const bind = (key: string, service: KubeObject, port: number): Promise<void> => {
    const [ip] = key.split(':') as [string];
    const namespace = service.metadata.namespace ?? 'default';
    const name = service.metadata.name;
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      const current = listeners.get(key);
      if (!current || closed) return socket.destroy();
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      // A ClusterIP's callers are the mesh's (any process on loopback): VirtualServices apply,
      // per request for HTTP/2 (terminated, as a sidecar does), else per connection.
      void serveConnection(socket, client, current.namespace, current.name, current.port, sessions);
    });
    const entry: Listener = { server, sockets, namespace, name, port };
    listeners.set(key, entry);
    return new Promise((resolve) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        if (listeners.get(key) === entry) listeners.delete(key);
        if (error.code === 'EACCES' && port < 1024) {
          if (!warnedLowPorts) log.warn({ cluster, address: key }, `lab cluster ${cluster}: cannot listen on ClusterIP ports below 1024 without root (first: ${key}, Service ${namespace}/${name}); these Services are still reached by name through the lab's service proxy`);
          warnedLowPorts = true;
        } else if (!refused.has(key)) {
          refused.add(key);
          log.warn({ cluster, address: key, code: error.code }, `lab cluster ${cluster}: cannot listen on ClusterIP ${key} of Service ${namespace}/${name}: ${error.message}`);
        }
        resolve();
      });
      server.listen(port, ip, () => resolve());
    });
  };

  const sync = (service: KubeObject | undefined, previous: KubeObject | undefined): void => {
    const next = service ? wanted(service) : new Map<string, { port: number }>();
    const before = previous ? wanted(previous) : new Map<string, { port: number }>();
    const work: Array<Promise<void>> = [];
    for (const key of before.keys()) {
      if (next.has(key)) continue;
      const entry = listeners.get(key);
      if (entry && entry.namespace === previous!.metadata.namespace && entry.name === previous!.metadata.name) {
        listeners.delete(key);
        entry.server.close();
      }
    }
    for (const [key, { port }] of next) {
      const entry = listeners.get(key);
      if (entry) {
        // Same address, maybe a renamed or replaced Service: the listener reads its target per connection.
        entry.namespace = service!.metadata.namespace ?? 'default';
        entry.name = service!.metadata.name;
        continue;
      }
      work.push(bind(key, service!, port));
    }
    pending = Promise.all([pending, ...work]).then(() => undefined);
  };

  const unsubscribe = store.subscribe((event) => {
    if (closed || event.resource !== '/services') return;
    if (event.type === 'DELETED') sync(undefined, event.object);
    else sync(event.object, event.previous);
  });
  for (const service of client.list('v1', 'Service')) sync(service, undefined);

  return {
    addresses: () => [...listeners.keys()],
    settled: () => pending,
    async close() {
      closed = true;
      unsubscribe();
      sessions.close();
      await pending;
      await Promise.all([...listeners.values()].map((entry) => new Promise<void>((resolve) => {
        entry.server.close(() => resolve());
        for (const socket of entry.sockets) socket.destroy();
      })));
      listeners.clear();
    },
  };
}

/**
 * One connection to a ClusterIP: HTTP/2 (its preface first) is served per request, each
 * stream routed by the mesh with its own method, path and headers; anything else is
 * forwarded as bytes to one endpoint (kube-proxy's way, the mesh routing it once).
 */
async function serveConnection(socket: Socket, client: ControllerClient, namespace: string, name: string, port: number, sessions: UpstreamSessions): Promise<void> {
  const context = networkOf(client);
  if (!context) return void forwardToService(socket, client, namespace, name, port, { mesh: {} });
  socket.on('error', () => socket.destroy());
  const sniffed = await sniffHttp2(socket, Buffer.alloc(0), () => connectToService(client, namespace, name, port, { mesh: {} }));
  if (socket.destroyed) return void ('upstream' in sniffed && sniffed.upstream.socket.destroy());
  // No ready endpoint (or none accepting): closed, as kube-proxy rejects it.
  if ('failure' in sniffed) return void socket.destroy();
  if (!sniffed.http2) return splice(socket, sniffed.upstream.socket, sniffed.head, recordConnection(client, undefined, sniffed.upstream));
  const fqdn = `${name}.${namespace}.svc.cluster.local`;
  serveHttp2(socket, sniffed.head, {
    route: (request) => {
      const target = pickEndpoints(client, namespace, name, port, { mesh: { request } });
      return { candidates: target.candidates, authority: `${target.fqdn}:${target.port.port}`, destination: (endpoint, peer) => destinationOf(client, target, endpoint, peer) };
    },
    // Counted as Istio counts a call with no healthy upstream: against the Service, workload unknown.
    failedDestination: (error) => (error instanceof ServiceUnreachable ? { ...unknownPeer(context.cluster), service: fqdn, serviceName: name, serviceNamespace: namespace } : undefined),
    // Every pod is 127.0.0.1: the caller is unknown, so only the destination side reports, or the source side when leaving through a gateway.
    source: unknownPeer(context.cluster),
    reporters: (endpoint) => (endpoint?.gateway ? ['source'] : ['destination']),
    telemetry: context.telemetry,
    label: `ClusterIP of Service ${namespace}/${name} (cluster ${context.cluster})`,
    authority: `${fqdn}:${port}`,
  }, sessions);
}
