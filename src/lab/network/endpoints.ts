/**
 * Where a Service port is served: the ready addresses kube-proxy (and Istio) would program —
 * those of the Service's `Endpoints` object (written by the endpoints controller for selector
 * Services, by a user or a bridge for selector-less ones) and the ready endpoints of every
 * other EndpointSlice of the Service (`kubernetes.io/service-name`) that no endpoints
 * controller wrote, e.g. a bridge's slice pointing at another cluster's east-west gateway
 * beside the Service's own pods, as a multi-cluster mesh merges a Service's endpoints.
 * Controller-written slices repeat the Endpoints, so they are not read twice.
 */
import type { KubeObject } from '../../kube/object.js';
import type { ControllerClient } from '../controllers/client.js';

type Obj = Record<string, any>;

export interface ServicePort {
  name?: string;
  port: number;
  protocol: string;
  targetPort?: number | string;
}

export interface ServiceEndpoint {
  host: string;
  port: number;
  /** The pod behind the address, when the Endpoints name one (targetRef). */
  pod?: { namespace: string; name: string };
  /** The DNS hostname the address has (headless Services), when it has one. */
  hostname?: string;
}

/** Slices written from a Service's selector (the lab's controller, upstream's) or mirrored from its Endpoints: copies of the Endpoints. */
const CONTROLLER_SLICE_MANAGERS = new Set(['endpointslice-controller.k8s.io', 'endpointslicemirroring-controller.k8s.io']);

/**
 * Why a Service port cannot be reached: 502 (nothing by that name or port), 503 (no ready
 * endpoint) or 404 (a VirtualService for the name has no route for the request, as Envoy answers).
 */
export class ServiceUnreachable extends Error {
  constructor(readonly status: 404 | 502 | 503, message: string) {
    super(message);
    this.name = 'ServiceUnreachable';
  }
}

export function servicePorts(service: KubeObject): ServicePort[] {
  return (((service.spec as Obj | undefined)?.ports ?? []) as Obj[]).map((p) => ({
    ...(p.name ? { name: p.name as string } : {}),
    port: Number(p.port),
    protocol: (p.protocol as string | undefined) ?? 'TCP',
    ...(p.targetPort !== undefined ? { targetPort: p.targetPort as number | string } : {}),
  }));
}

/** The Service's port by number or name; throws a 502 naming what it serves when it has none. */
export function findServicePort(service: KubeObject, port: number | string): ServicePort {
  const ports = servicePorts(service);
  const found = ports.find((p) => p.port === Number(port) || (p.name !== undefined && p.name === port));
  if (found) return found;
  const id = `${service.metadata.namespace}/${service.metadata.name}`;
  throw new ServiceUnreachable(502, `Service ${id} has no port ${port} (it serves ${ports.map((p) => p.name ? `${p.port} (${p.name})` : String(p.port)).join(', ') || 'no ports'})`);
}

export function isHeadless(service: KubeObject): boolean {
  return (service.spec as Obj | undefined)?.clusterIP === 'None';
}

/** Ready addresses for one Service port: the Endpoints' in their order, then other slices', each address:port once. */
export function readyEndpoints(client: ControllerClient, service: KubeObject, port: ServicePort): ServiceEndpoint[] {
  const single = servicePorts(service).length === 1;
  // kube-proxy pairs Service and endpoint ports by name; a lone unnamed port pairs with the lone port.
  const pair = (ports: Obj[]): Obj | undefined => ports.find((p) => (p.name ?? '') === (port.name ?? '')) ?? (single && ports.length === 1 ? ports[0] : undefined);
  const result: ServiceEndpoint[] = [];
  const seen = new Set<string>();
  const add = (endpoint: ServiceEndpoint) => {
    const key = `${endpoint.host}:${endpoint.port}`;
    if (seen.has(key)) return;
    seen.add(key);
    result.push(endpoint);
  };
  for (const subset of endpointsOf(client, service)?.subsets ?? []) {
    const match = pair((subset.ports ?? []) as Obj[]);
    if (!match) continue;
    for (const address of (subset.addresses ?? []) as Obj[]) add({ host: address.ip, port: Number(match.port), ...podRef(address.targetRef), ...hostnameOf(address) });
  }
  for (const slice of otherSlices(client, service)) {
    const match = pair((slice.ports ?? []) as Obj[]);
    if (!match) continue;
    for (const endpoint of readySliceEndpoints(slice)) {
      for (const ip of (endpoint.addresses ?? []) as string[]) add({ host: ip, port: Number(match.port), ...podRef(endpoint.targetRef), ...hostnameOf(endpoint) });
    }
  }
  return result;
}

/** Every ready address:port of a Service (Endpoints and other slices), whatever the port's name. */
export function allReadyAddresses(client: ControllerClient, service: KubeObject): ServiceEndpoint[] {
  const fromEndpoints = (endpointsOf(client, service)?.subsets ?? []).flatMap((subset) => ((subset.addresses ?? []) as Obj[]).flatMap((address) => ((subset.ports ?? []) as Obj[]).map((port) => ({ host: address.ip as string, port: Number(port.port), ...hostnameOf(address) }))));
  const fromSlices = otherSlices(client, service).flatMap((slice) => readySliceEndpoints(slice).flatMap((endpoint) => ((endpoint.addresses ?? []) as string[]).flatMap((ip) => ((slice.ports ?? []) as Obj[]).map((port) => ({ host: ip, port: Number(port.port), ...hostnameOf(endpoint) })))));
  const seen = new Set<string>();
  return [...fromEndpoints, ...fromSlices].filter((endpoint) => {
    const key = `${endpoint.host}:${endpoint.port}:${endpoint.hostname ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Every ready pod behind a Service (for headless Services, whose callers dial pod ports). */
export function readyPods(client: ControllerClient, service: KubeObject): Array<{ namespace: string; name: string }> {
  const pods: Array<{ namespace: string; name: string }> = [];
  for (const subset of endpointsOf(client, service)?.subsets ?? []) {
    for (const address of (subset.addresses ?? []) as Obj[]) {
      const ref = podRef(address.targetRef).pod;
      if (ref && !pods.some((p) => p.name === ref.name && p.namespace === ref.namespace)) pods.push(ref);
    }
  }
  return pods;
}

function endpointsOf(client: ControllerClient, service: KubeObject): (KubeObject & { subsets?: Obj[] }) | undefined {
  return client.get('v1', 'Endpoints', service.metadata.namespace ?? 'default', service.metadata.name) as (KubeObject & { subsets?: Obj[] }) | undefined;
}

/** The Service's EndpointSlices that are not copies of its Endpoints (a bridge's, a user's), in name order. */
export function otherSlices(client: ControllerClient, service: KubeObject): Obj[] {
  return client.list('discovery.k8s.io/v1', 'EndpointSlice', service.metadata.namespace ?? 'default')
    .filter((slice) => slice.metadata.labels?.['kubernetes.io/service-name'] === service.metadata.name && !CONTROLLER_SLICE_MANAGERS.has(slice.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] ?? ''))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0)) as Obj[];
}

function readySliceEndpoints(slice: Obj): Obj[] {
  return ((slice.endpoints ?? []) as Obj[]).filter((endpoint) => endpoint.conditions?.ready !== false);
}

function hostnameOf(address: Obj): { hostname?: string } {
  return typeof address.hostname === 'string' && address.hostname ? { hostname: address.hostname } : {};
}

function podRef(ref: Obj | undefined): { pod?: { namespace: string; name: string } } {
  return ref?.kind === 'Pod' && ref.name ? { pod: { namespace: ref.namespace as string, name: ref.name as string } } : {};
}
