import { isIP } from 'node:net';
import type { KubeObject } from '../kube/object.js';
import { BRIDGE_LABEL, bridgeLabels, serviceFqdn, type BridgeObjectRef, type BridgePort, type BridgeRecord, type BridgeSpec, type ClusterSide, type ServiceBridge } from './bridge.js';
import type { BridgeClusters } from './cluster.js';

export const ISTIO_NETWORKING_API = 'networking.istio.io/v1';
const NETWORK_LABEL = 'topology.istio.io/network';

export interface IstioBridgeConfig {
  /** Istio network names of the clusters (meshNetworks / `topology.istio.io/network`); endpoints on another network go through its gateway. */
  networks?: Partial<Record<ClusterSide, string>>;
}

type Obj = Record<string, any>;

/**
 * Multi-cluster Istio without shared service discovery: on the callers' cluster a
 * ServiceEntry for the callee's `cluster.local` host, `MESH_INTERNAL`, whose one endpoint is
 * the serving cluster's east-west gateway (AUTO_PASSTHROUGH on 15443: the sidecar's mTLS SNI
 * names the service, the gateway forwards it). Callers keep their names; their sidecars route.
 * https://istio.io/latest/docs/reference/config/networking/service-entry/
 */
export class IstioBridge implements ServiceBridge {
  readonly type = 'istio' as const;

  constructor(private readonly clusters: BridgeClusters, private readonly config: IstioBridgeConfig = {}) {}

  async ensure(spec: BridgeSpec): Promise<BridgeRecord> {
    const cluster = this.clusters[spec.callerCluster];
    const entry = istioServiceEntry(spec, this.config.networks?.[spec.servingCluster]);
    const existing = await cluster.get({ apiVersion: entry.apiVersion, kind: entry.kind, namespace: spec.namespace, name: entry.metadata.name });
    if (JSON.stringify(existing?.spec) !== JSON.stringify(entry.spec) || existing?.metadata.labels?.[BRIDGE_LABEL] !== spec.service) await cluster.apply(entry);
    const warnings: string[] = [];
    const local = await cluster.get({ apiVersion: 'v1', kind: 'Service', namespace: spec.namespace, name: spec.service });
    if (!local) {
      warnings.push(`no Service ${spec.namespace}/${spec.service} on cluster "${cluster.context}": callers resolve ${serviceFqdn(spec)} only with Istio's DNS proxying (meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE: "true")`);
    } else if (Object.keys(((local.spec as Obj | undefined)?.selector ?? {}) as object).length > 0) {
      warnings.push(`Service ${spec.namespace}/${spec.service} on cluster "${cluster.context}" still selects local pods: Istio merges their endpoints with the gateway's, so calls reach both until its pods are gone`);
    }
    if (!this.config.networks?.[spec.servingCluster]) {
      warnings.push(`spec.bridges.istio.networks.${spec.servingCluster} is not set: the gateway endpoint is treated as on the callers' own network (fine with AUTO_PASSTHROUGH; set it for meshNetworks routing)`);
    }
    const objects: BridgeObjectRef[] = [{ cluster: spec.callerCluster, apiVersion: entry.apiVersion, kind: entry.kind, namespace: spec.namespace, name: entry.metadata.name, created: true }];
    return { provider: this.type, spec, objects, warnings };
  }

  async remove(record: BridgeRecord): Promise<void> {
    for (const object of record.objects.filter((entry) => entry.created)) {
      const cluster = this.clusters[object.cluster];
      const live = await cluster.get(object);
      if (live?.metadata.labels?.[BRIDGE_LABEL] === record.spec.service) await cluster.delete(object);
    }
  }

  async verify(record: BridgeRecord): Promise<string[]> {
    const { spec } = record;
    const cluster = this.clusters[spec.callerCluster];
    const problems: string[] = [];
    for (const object of record.objects) {
      const live = await cluster.get(object);
      if (!live) {
        problems.push(`ServiceEntry ${object.namespace}/${object.name} is missing on cluster "${cluster.context}"`);
        continue;
      }
      const endpoints = (((live.spec as Obj | undefined)?.endpoints ?? []) as Obj[]);
      const wanted = istioServiceEntry(spec, this.config.networks?.[spec.servingCluster]).spec as Obj;
      if (JSON.stringify(endpoints) !== JSON.stringify(wanted.endpoints)) problems.push(`ServiceEntry ${object.namespace}/${object.name} on cluster "${cluster.context}" points at ${endpoints.map((endpoint) => `${endpoint.address}:${Object.values(endpoint.ports ?? {}).join('/')}`).join(', ') || 'nothing'}, not the gateway ${spec.gateway.host}:${spec.gateway.port}`);
    }
    return problems;
  }
}

/** The ServiceEntry a bridge writes (exported for schema tests). */
export function istioServiceEntry(spec: BridgeSpec, network?: string): KubeObject {
  const ports = spec.ports.map((port, index) => ({ number: port.port, name: portName(port, index), protocol: istioProtocol(port) }));
  const host = serviceFqdn(spec);
  return {
    apiVersion: ISTIO_NETWORKING_API,
    kind: 'ServiceEntry',
    metadata: { name: `${spec.service}-ferry-bridge`, namespace: spec.namespace, labels: bridgeLabels(spec.service) },
    spec: {
      hosts: [host, ...(spec.headless?.hostnames ?? []).map((hostname) => `${hostname}.${host}`)],
      location: 'MESH_INTERNAL',
      // STATIC takes addresses; a load balancer with a DNS name (AWS) needs DNS resolution.
      resolution: isIP(spec.gateway.host) ? 'STATIC' : 'DNS',
      ports,
      endpoints: [{
        address: spec.gateway.host,
        ports: Object.fromEntries(ports.map((port) => [port.name, spec.gateway.port])),
        ...(network ? { network, labels: { [NETWORK_LABEL]: network } } : {}),
      }],
    },
  };
}

function portName(port: BridgePort, index: number): string {
  return port.name ?? `${istioProtocol(port).toLowerCase()}-${index === 0 ? port.port : `${port.port}-${index}`}`;
}

/** Istio's protocol selection: `appProtocol`, else the port name's prefix (`grpc-web`, `http2-x`), else TCP. */
function istioProtocol(port: BridgePort): string {
  const known: Record<string, string> = { http: 'HTTP', http2: 'HTTP2', https: 'HTTPS', grpc: 'GRPC', 'grpc-web': 'GRPC-WEB', tls: 'TLS', tcp: 'TCP', mongo: 'MONGO', redis: 'REDIS', mysql: 'MYSQL', 'kubernetes.io/h2c': 'HTTP2' };
  if (port.appProtocol && known[port.appProtocol.toLowerCase()]) return known[port.appProtocol.toLowerCase()]!;
  const prefix = port.name?.toLowerCase().split('-')[0];
  if (port.name?.toLowerCase().startsWith('grpc-web')) return 'GRPC-WEB';
  if (prefix && known[prefix]) return known[prefix]!;
  return port.protocol === 'UDP' ? 'UDP' : 'TCP';
}
