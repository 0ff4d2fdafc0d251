/**
 * kube-proxy's job for one connection: pick a ready endpoint of a Service port, round-robin,
 * and forward bytes. An endpoint that is an east-west gateway (gateways.ts) is reached by
 * CONNECT through it with the FQDN of the Service called, so a selector-less Service whose
 * Endpoints point at another cluster's gateway reaches that cluster's Service of that name.
 *
 * `forwardToService` is the entry point for any listener that hands us an accepted socket
 * (ClusterIPs here; LoadBalancer and NodePort addresses elsewhere); `connectToService` is for
 * callers that answer the client themselves first (the proxy's CONNECT).
 */
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ControllerClient } from '../controllers/client.js';
import type { PodRuntime } from '../runtime.js';
import type { KubeObject } from '../../kube/object.js';
import { allReadyAddresses, findServicePort, isHeadless, readyEndpoints, readyPods, ServiceUnreachable, type ServiceEndpoint, type ServicePort } from './endpoints.js';
import { gatewayAt, type GatewayEntry } from './gateways.js';
import { endpointLabels, meshRoute, subsetSelects, type MeshCall } from './mesh.js';
import { unknownPeer, workloadOf, type Destination, type NetworkTelemetry, type Peer } from './telemetry.js';

export { ServiceUnreachable } from './endpoints.js';

/** What a cluster's network adds to its ControllerClient: telemetry, pods for pod ports, round-robin state. */
export interface NetworkContext {
  cluster: string;
  telemetry: NetworkTelemetry;
  runtime(): PodRuntime | undefined;
}

const contexts = new WeakMap<ControllerClient, NetworkContext & { turns: Map<string, number>; weighted: Map<string, number[]> }>();
/** Weighted-route state for clients without a network (tests reading routes directly). */
const detachedWeighted = new Map<string, number[]>();

/** Makes forwards through `client` count in the cluster's telemetry and dial pod ports; returns a detach. */
export function attachNetwork(client: ControllerClient, context: NetworkContext): () => void {
  contexts.set(client, { ...context, turns: new Map(), weighted: new Map() });
  return () => contexts.delete(client);
}

export function networkOf(client: ControllerClient): NetworkContext | undefined {
  return contexts.get(client);
}

export interface ForwardOptions {
  /** Bytes already read from the client, sent first. */
  head?: Buffer;
  /** Who calls (telemetry); unknown when not said. */
  source?: Peer;
  /**
   * Only this cluster's pods: skip endpoints that are east-west gateways. A gateway sets it,
   * so that two bridges pointing at each other's gateways cannot loop.
   */
  localOnly?: boolean;
  /** The port is a pod's container port (a headless Service's callers dial pods). Default: when the Service is headless. */
  podPort?: boolean;
  /**
   * The call is a mesh caller's (the service proxy's, a ClusterIP's): mesh VirtualServices
   * and DestinationRules for the Service apply (mesh.ts). Not for calls arriving through a
   * gateway, a LoadBalancer or a NodePort, which no caller's sidecar routes.
   */
  mesh?: MeshCall;
}

/** One endpoint a call may go to, with what it is. */
export interface Candidate extends ServiceEndpoint {
  gateway?: GatewayEntry;
}

/** A Service port, its FQDN and its ready endpoints, rotated for round-robin. */
export interface ServiceTarget {
  service: KubeObject;
  port: ServicePort;
  /** `svc.ns.svc.cluster.local`. */
  fqdn: string;
  candidates: Candidate[];
  /** The VirtualService (and subset) that chose `service` and its endpoints, when one did. */
  mesh?: { virtualService: string; subset?: string };
}

export interface ServiceConnection {
  socket: Socket;
  target: ServiceTarget;
  endpoint: Candidate;
  destination: Destination;
}

/**
 * A Service port's ready endpoints, starting at the next in turn. Throws ServiceUnreachable:
 * 502 for no such Service or port, 503 for no ready endpoint.
 */
export function pickEndpoints(client: ControllerClient, namespace: string, name: string, port: number | string, options: ForwardOptions = {}): ServiceTarget {
  const context = contexts.get(client);
  const where = context ? ` in cluster ${context.cluster}` : '';
  let service = client.get('v1', 'Service', namespace, name);
  if (!service) throw new ServiceUnreachable(502, `no Service ${namespace}/${name}${where}`);
  let fqdn = `${name}.${namespace}.svc.cluster.local`;
  let servicePort: ServicePort;
  let mesh: ServiceTarget['mesh'];
  let unmatched = '';
  let candidates: Candidate[];
  if (options.podPort ?? isHeadless(service)) {
    const number = Number(port);
    servicePort = { port: number, protocol: 'TCP' };
    const runtime = context?.runtime();
    candidates = readyPods(client, service).flatMap((pod) => {
      const hostPort = runtime?.get(pod.namespace, pod.name)?.hostPort(number);
      return hostPort === undefined ? [] : [{ host: '127.0.0.1', port: hostPort, pod }];
    });
    // A headless bridge: its Endpoints are another cluster's gateway, asked for the same port there.
    for (const endpoint of allReadyAddresses(client, service)) {
      const gateway = gatewayAt(endpoint.host, endpoint.port);
      if (gateway && !candidates.some((c) => c.gateway === gateway)) candidates.push({ ...endpoint, gateway });
    }
  } else {
    servicePort = findServicePort(service, port);
    const routed = options.mesh && !options.localOnly ? meshRoute(client, service, servicePort, options.mesh, context?.weighted ?? detachedWeighted) : undefined;
    if (routed) {
      service = routed.service;
      servicePort = routed.port;
      fqdn = `${service.metadata.name}.${service.metadata.namespace ?? 'default'}.svc.cluster.local`;
      mesh = { virtualService: routed.virtualService, ...(routed.subset ? { subset: routed.subset.name } : {}) };
    }
    candidates = readyEndpoints(client, service, servicePort).map((endpoint) => {
      const gateway = gatewayAt(endpoint.host, endpoint.port);
      return gateway ? { ...endpoint, gateway } : endpoint;
    });
    const subset = routed?.subset;
    if (subset) {
      const all = candidates.length;
      candidates = candidates.filter((candidate) => subsetSelects(subset.labels, endpointLabels(client, candidate, context?.cluster ?? 'unknown')));
      const labels = Object.entries(subset.labels).map(([key, value]) => `${key}=${value}`).join(',') || 'none';
      unmatched = `VirtualService ${routed.virtualService} routes to subset ${subset.name} (DestinationRule ${subset.destinationRule}, labels ${labels}) of Service ${service.metadata.namespace}/${service.metadata.name}${where}: none of its ${all} ready endpoints for port ${servicePort.port} has those labels`;
    } else if (routed) {
      unmatched = `VirtualService ${routed.virtualService} routes to Service ${service.metadata.namespace}/${service.metadata.name}${where}, which has no ready endpoint for port ${servicePort.port}`;
    }
  }
  if (options.localOnly) candidates = candidates.filter((c) => !c.gateway);
  if (candidates.length === 0) {
    throw new ServiceUnreachable(503, unmatched || `Service ${namespace}/${name}${where} has no ready endpoint for port ${servicePort.port}${options.localOnly ? ' (calls arriving through the east-west gateway go to this cluster\'s pods only)' : ''}`);
  }
  const key = `${service.metadata.namespace}/${service.metadata.name}:${servicePort.port}${mesh?.subset ? `#${mesh.subset}` : ''}`;
  const turns = context?.turns;
  const turn = turns?.get(key) ?? 0;
  turns?.set(key, turn + 1);
  const start = turn % candidates.length;
  return { service, port: servicePort, fqdn, candidates: [...candidates.slice(start), ...candidates.slice(0, start)], ...(mesh ? { mesh } : {}) };
}

/** Who answers at an endpoint, for telemetry: its pod's workload, or what its gateway said. */
export function destinationOf(client: ControllerClient, target: ServiceTarget, endpoint: Candidate, gatewayPeer?: Peer): Destination {
  const context = contexts.get(client);
  const cluster = context?.cluster ?? 'unknown';
  const peer = endpoint.gateway
    ? gatewayPeer ?? unknownPeer(endpoint.gateway.cluster)
    : endpoint.pod ? workloadOf(client, endpoint.pod.namespace, endpoint.pod.name, cluster) : unknownPeer(cluster);
  return {
    ...peer,
    service: target.fqdn,
    serviceName: target.service.metadata.name,
    serviceNamespace: target.service.metadata.namespace ?? 'default',
  };
}

/** Opens a TCP connection to the Service port (trying up to 3 endpoints when one refuses). */
export async function connectToService(client: ControllerClient, namespace: string, name: string, port: number | string, options: ForwardOptions = {}): Promise<ServiceConnection> {
  const target = pickEndpoints(client, namespace, name, port, options);
  const opened = await dialFirst(target.candidates, `${target.fqdn}:${target.port.port}`, options.source ?? unknownPeer(contexts.get(client)?.cluster));
  return { socket: opened.socket, target, endpoint: opened.endpoint, destination: destinationOf(client, target, opened.endpoint, opened.peer) };
}

/**
 * Connects to the first of (up to 3) candidates that accepts: a pod directly, a gateway by
 * CONNECT `authority`. A gateway's 502 (no such name there) is final; refusals try the next.
 */
export async function dialFirst(candidates: Candidate[], authority: string, source: Peer | undefined): Promise<{ socket: Socket; endpoint: Candidate; peer?: Peer }> {
  let lastError: unknown;
  for (const endpoint of candidates.slice(0, 3)) {
    try {
      if (!endpoint.gateway) return { socket: await dial(endpoint.host, endpoint.port), endpoint };
      const tunnel = await tunnelThroughGateway(endpoint.gateway, authority, source);
      return { socket: tunnel.socket, endpoint, ...(tunnel.peer ? { peer: tunnel.peer } : {}) };
    } catch (error) {
      lastError = error;
      if (error instanceof ServiceUnreachable && error.status === 502) break;
    }
  }
  if (lastError instanceof ServiceUnreachable) throw lastError;
  throw new ServiceUnreachable(503, `no endpoint of ${authority} accepted a connection (${(lastError as Error | undefined)?.message ?? 'none to try'})`);
}

/**
 * Forwards an accepted connection to a ready endpoint of namespace/name:port. Resolves true
 * once connected, false when there is none (the socket is then closed, as kube-proxy
 * rejects a connection to a Service without endpoints).
 */
export async function forwardToService(socket: Duplex, client: ControllerClient, namespace: string, name: string, port: number | string, options: ForwardOptions = {}): Promise<boolean> {
  let connection: ServiceConnection;
  socket.on('error', () => socket.destroy());
  try {
    connection = await connectToService(client, namespace, name, port, options);
  } catch {
    socket.destroy();
    return false;
  }
  if (socket.destroyed) {
    connection.socket.destroy();
    return false;
  }
  splice(socket, connection.socket, options.head, recordConnection(client, options.source, connection));
  return true;
}

/** Counts a connection as the sidecars would: the destination side for this cluster's pods, the source side when leaving through a gateway or from a known caller. */
export function recordConnection(client: ControllerClient, source: Peer | undefined, connection: { endpoint: Candidate; destination: Destination }): () => void {
  const context = contexts.get(client);
  if (!context) return () => undefined;
  const from = source ?? unknownPeer(context.cluster);
  const closers: Array<() => void> = [];
  if (source || connection.endpoint.gateway) closers.push(context.telemetry.connection('source', from, connection.destination));
  if (!connection.endpoint.gateway) closers.push(context.telemetry.connection('destination', from, connection.destination));
  return () => closers.forEach((close) => close());
}

/** Pipes two sockets both ways; either side's end or error closes both, then `closed` runs once. */
export function splice(client: Duplex, upstream: Duplex, head: Buffer | undefined, closed: () => void = () => undefined): void {
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    client.destroy();
    upstream.destroy();
    closed();
  };
  if (head && head.length > 0) upstream.write(head);
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', finish);
  upstream.on('error', finish);
  client.on('close', finish);
  upstream.on('close', finish);
}

export function dial(host: string, port: number, timeoutMs = 5000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connecting to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      // Whoever takes the socket adds its own handler; until then an error must not throw (it also emits 'close').
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Header a forwarder sends through a gateway naming its caller, `cluster/namespace/workload[/version]`. */
export const SOURCE_HEADER = 'x-ferry-source';
/** Header a gateway answers with naming who served, `cluster/namespace/workload[/version]`. */
export const DESTINATION_HEADER = 'x-ferry-destination';

export function formatPeer(peer: Peer): string {
  return `${peer.cluster}/${peer.namespace}/${peer.workload}${peer.version ? `/${peer.version}` : ''}`;
}

/** `cluster/namespace/workload[/version]` (label values hold no slash). */
export function parsePeer(value: string | string[] | undefined): Peer | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  const [cluster, namespace, workload, version] = (text ?? '').split('/');
  return cluster && namespace && workload ? { cluster, namespace, workload, ...(version ? { version } : {}) } : undefined;
}

/**
 * CONNECT authority through a gateway. Resolves with the tunnel once the gateway answers
 * 200; its other answers (502/503 with a body naming what is missing) become ServiceUnreachable.
 */
export async function tunnelThroughGateway(gateway: { host: string; port: number }, authority: string, source: Peer | undefined): Promise<{ socket: Socket; peer: Peer | undefined }> {
  const socket = await dial(gateway.host, gateway.port);
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${source ? `${SOURCE_HEADER}: ${formatPeer(source)}\r\n` : ''}\r\n`);
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`the east-west gateway at ${gateway.host}:${gateway.port} did not answer CONNECT ${authority}`)), 10_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buffered.length > 16_384) fail(new Error(`the east-west gateway at ${gateway.host}:${gateway.port} sent an oversized answer`));
        return;
      }
      const [statusLine = '', ...lines] = buffered.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(statusLine.split(' ')[1]);
      const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      const rest = buffered.subarray(end + 4);
      if (status === 200) {
        clearTimeout(timer);
        socket.removeListener('data', onData);
        socket.removeListener('error', fail);
        socket.removeListener('end', onEnd);
        if (rest.length > 0) socket.unshift(rest);
        resolve({ socket, peer: parsePeer(headers.get(DESTINATION_HEADER)) });
        return;
      }
      // The gateway closes after a refusal; its body says why.
      const length = Number(headers.get('content-length') ?? NaN);
      if (!Number.isNaN(length) && rest.length < length) return;
      const body = rest.toString('utf8').trim();
      fail(new ServiceUnreachable(status === 502 ? 502 : 503, `east-west gateway ${gateway.host}:${gateway.port} refused ${authority}: ${body || statusLine}`));
    };
    const onEnd = () => fail(new Error(`the east-west gateway at ${gateway.host}:${gateway.port} closed the connection before answering CONNECT ${authority}`));
    socket.on('data', onData);
    socket.once('error', fail);
    socket.once('end', onEnd);
  });
}
