/**
 * Where a Service port is served: the ready addresses kube-proxy would program, read from
 * the Service's `Endpoints` object (written by the endpoints controller for selector
 * Services, by a user or a bridge for selector-less ones), or from its EndpointSlices when
 * there is no Endpoints object with addresses (a bridge may write only slices).
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
}

/** Why a Service port cannot be reached: 502 (nothing by that name or port) or 503 (no ready endpoint). */
export class ServiceUnreachable extends Error {
  constructor(readonly status: 502 | 503, message: string) {
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

/** Ready addresses for one Service port, in the Endpoints' order. */
export function readyEndpoints(client: ControllerClient, service: KubeObject, port: ServicePort): ServiceEndpoint[] {
  const namespace = service.metadata.namespace ?? 'default';
  const name = service.metadata.name;
  const single = servicePorts(service).length === 1;
  const result: ServiceEndpoint[] = [];
  const endpoints = client.get('v1', 'Endpoints', namespace, name) as (KubeObject & { subsets?: Obj[] }) | undefined;
  for (const subset of endpoints?.subsets ?? []) {
    const subsetPorts = (subset.ports ?? []) as Obj[];
    // kube-proxy pairs Service and endpoint ports by name; a lone unnamed port pairs with the lone port.
    const match = subsetPorts.find((p) => (p.name ?? '') === (port.name ?? '')) ?? (single && subsetPorts.length === 1 ? subsetPorts[0] : undefined);
    if (!match) continue;
    for (const address of (subset.addresses ?? []) as Obj[]) {
      result.push({ host: address.ip, port: Number(match.port), ...podRef(address.targetRef) });
    }
  }
  if (result.length > 0 || (endpoints?.subsets?.length ?? 0) > 0) return result;
  for (const slice of client.list('discovery.k8s.io/v1', 'EndpointSlice', namespace)) {
    if (slice.metadata.labels?.['kubernetes.io/service-name'] !== name) continue;
    const slicePorts = ((slice as Obj).ports ?? []) as Obj[];
    const match = slicePorts.find((p) => (p.name ?? '') === (port.name ?? '')) ?? (single && slicePorts.length === 1 ? slicePorts[0] : undefined);
    if (!match) continue;
    for (const endpoint of ((slice as Obj).endpoints ?? []) as Obj[]) {
      if (endpoint.conditions?.ready === false) continue;
      for (const ip of (endpoint.addresses ?? []) as string[]) result.push({ host: ip, port: Number(match.port), ...podRef(endpoint.targetRef) });
    }
  }
  return result;
}

/** Every ready address:port of a Service's Endpoints, whatever the port's name. */
export function allReadyAddresses(client: ControllerClient, service: KubeObject): ServiceEndpoint[] {
  const endpoints = client.get('v1', 'Endpoints', service.metadata.namespace, service.metadata.name) as (KubeObject & { subsets?: Obj[] }) | undefined;
  return (endpoints?.subsets ?? []).flatMap((subset) => ((subset.addresses ?? []) as Obj[]).flatMap((address) => ((subset.ports ?? []) as Obj[]).map((port) => ({ host: address.ip as string, port: Number(port.port) }))));
}

/** Every ready pod behind a Service (for headless Services, whose callers dial pod ports). */
export function readyPods(client: ControllerClient, service: KubeObject): Array<{ namespace: string; name: string }> {
  const endpoints = client.get('v1', 'Endpoints', service.metadata.namespace, service.metadata.name) as (KubeObject & { subsets?: Obj[] }) | undefined;
  const pods: Array<{ namespace: string; name: string }> = [];
  for (const subset of endpoints?.subsets ?? []) {
    for (const address of (subset.addresses ?? []) as Obj[]) {
      const ref = podRef(address.targetRef).pod;
      if (ref && !pods.some((p) => p.name === ref.name && p.namespace === ref.namespace)) pods.push(ref);
    }
  }
  return pods;
}

function podRef(ref: Obj | undefined): { pod?: { namespace: string; name: string } } {
  return ref?.kind === 'Pod' && ref.name ? { pod: { namespace: ref.namespace as string, name: ref.name as string } } : {};
}
