import { isIP } from 'node:net';
import type { KubeObject } from '../kube/object.js';
import { FerryError } from '../util/errors.js';
import type { BridgeProviderType, ClusterSide, GatewayAddress } from './bridge.js';
import type { BridgeObjects } from './cluster.js';

/** Where Ferry looks for a cluster's east-west gateway when the plan names none (the lab publishes the first). */
export const DEFAULT_GATEWAY_SERVICE = 'ferry-system/east-west-gateway';
/** Istio's multi-network east-west gateway (samples/multicluster/gen-eastwest-gateway.sh). */
export const ISTIO_GATEWAY_SERVICE = 'istio-system/istio-eastwestgateway';

export interface GatewayLookup {
  /** `spec.bridges.gateways.<side>`: an address given in the plan, used as is. */
  explicit?: string;
  /** `spec.bridges.gatewayService`: the LoadBalancer Service to read instead of the defaults. */
  service?: string;
  provider?: BridgeProviderType;
  side: ClusterSide;
}

type Obj = Record<string, any>;

/**
 * The address other clusters reach `side`'s Services at: the plan's explicit `host:port`, or
 * the LoadBalancer address of its east-west gateway Service and that Service's port named
 * `tls` (Istio's 15443 SNI passthrough) or its only port.
 */
export async function findGateway(cluster: BridgeObjects, lookup: GatewayLookup): Promise<GatewayAddress> {
  if (lookup.explicit !== undefined) return parseHostPort(lookup.explicit, `spec.bridges.gateways.${lookup.side}`);
  const candidates = lookup.service !== undefined ? [lookup.service]
    : lookup.provider === 'istio' ? [ISTIO_GATEWAY_SERVICE, DEFAULT_GATEWAY_SERVICE]
    : [DEFAULT_GATEWAY_SERVICE, ISTIO_GATEWAY_SERVICE];
  for (const candidate of candidates) {
    const [namespace, name] = splitServiceName(candidate);
    const service = await cluster.get({ apiVersion: 'v1', kind: 'Service', namespace, name });
    if (service) return gatewayOf(service, cluster.context, lookup.side);
  }
  throw new FerryError('bridge', `the ${lookup.side} cluster ("${cluster.context}") has no east-west gateway: no Service ${candidates.join(' or ')}`, {
    location: { field: lookup.service !== undefined ? 'spec.bridges.gatewayService' : `spec.bridges.gateways.${lookup.side}` },
    fix: `install an east-west gateway on the ${lookup.side} cluster (a LoadBalancer Service the other cluster can reach, e.g. Istio's istio-eastwestgateway), name it with spec.bridges.gatewayService: namespace/name, or give its address as spec.bridges.gateways.${lookup.side}: host:port`,
  });
}

function gatewayOf(service: KubeObject, context: string, side: ClusterSide): GatewayAddress {
  const what = `Service ${service.metadata.namespace}/${service.metadata.name}`;
  const spec = (service.spec ?? {}) as Obj;
  const ingress = (((service.status as Obj | undefined)?.loadBalancer?.ingress ?? []) as Obj[])[0];
  const host = (ingress?.ip ?? ingress?.hostname) as string | undefined;
  if (!host) {
    throw new FerryError('bridge', `the east-west gateway ${what} on the ${side} cluster ("${context}") has no address: ${spec.type === 'LoadBalancer' ? 'its load balancer is <pending> (status.loadBalancer.ingress is empty)' : `it is of type ${spec.type ?? 'ClusterIP'}, which other clusters cannot reach`}`, {
      location: { object: what },
      fix: spec.type === 'LoadBalancer'
        ? `give the cluster a load-balancer controller (cloud provider, MetalLB, cloud-provider-kind) and wait for an address, or set spec.bridges.gateways.${side}: host:port to an address that reaches the gateway`
        : `make ${what} type LoadBalancer, or set spec.bridges.gateways.${side}: host:port`,
    });
  }
  const ports = (spec.ports ?? []) as Obj[];
  const port = ports.find((candidate) => candidate.name === 'tls') ?? (ports.length === 1 ? ports[0] : undefined);
  if (!port) {
    throw new FerryError('bridge', `the east-west gateway ${what} on the ${side} cluster ("${context}") has ${ports.length === 0 ? 'no ports' : `ports ${ports.map((p) => p.name ?? p.port).join(', ')} and none named "tls"`}`, {
      location: { object: what },
      fix: `name the gateway's passthrough port "tls", or set spec.bridges.gateways.${side}: ${host}:<port>`,
    });
  }
  return { host, port: Number(port.port) };
}

/** `host:port` (IPv6 in brackets), refused with the field named when malformed. */
export function parseHostPort(value: string, field: string): GatewayAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[3]) : NaN;
  const host = match ? (match[1] ?? match[2])! : '';
  if (!match || !(port >= 1 && port <= 65535) || (match[1] !== undefined && isIP(host) !== 6)) {
    throw new FerryError('config', `${field}: "${value}" is not host:port`, { location: { field }, fix: 'write the gateway address as host:port, e.g. 203.0.113.7:15443 or [2001:db8::7]:15443' });
  }
  return { host, port };
}

export function splitServiceName(value: string): [string, string] {
  const parts = value.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new FerryError('config', `spec.bridges.gatewayService: "${value}" is not namespace/name`, { location: { field: 'spec.bridges.gatewayService' }, fix: `e.g. ${ISTIO_GATEWAY_SERVICE}` });
  }
  return [parts[0], parts[1]];
}
