import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { KubeObject } from '../kube/object.js';
import { FerryError } from '../util/errors.js';
import { BRIDGE_LABEL, bridgeLabels, bridgeName, MANAGED_BY_LABEL, MANAGED_BY_VALUE, type BridgeObjectRef, type BridgeRecord, type BridgeSpec, type ServiceBridge } from './bridge.js';
import { pointerSegment, type BridgeClusters, type BridgeObjects, type JsonPatchOperation } from './cluster.js';

/** Marks our EndpointSlices so the cluster's EndpointSlice controller leaves them alone. */
export const SLICE_MANAGER = 'ferry.dev';
const SLICE_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Keeps the EndpointSlice mirroring controller from copying our Endpoints into a second slice. */
const SKIP_MIRROR_LABEL = 'endpointslice.kubernetes.io/skip-mirror';
/** On a Service whose selector a bridge took off: the selector, so `kubectl get` shows why and it can be restored. */
export const BRIDGED_SELECTOR_ANNOTATION = 'ferry.dev/bridged-selector';

type Obj = Record<string, any>;

interface GatewayIp {
  ip: string;
  family: 'IPv4' | 'IPv6';
}

/**
 * The default bridge: on the callers' cluster, a Service of the callee's name without a
 * selector, whose Endpoints and EndpointSlice point at the serving cluster's east-west
 * gateway. Callers keep every name they use (`svc`, `svc.ns`, `svc.ns.svc.cluster.local`);
 * kube-proxy (or the lab's service proxy) sends their connections to the gateway, which
 * forwards them by name to the callee on its own cluster.
 *
 * When the callers' cluster already has a real Service of that name (callers left on the
 * source after the callee moved, its source pods retired), the bridge takes its selector off,
 * keeping it in the record and in an annotation, and `remove` puts it back exactly.
 * https://kubernetes.io/docs/concepts/services-networking/service/#services-without-selectors
 */
export class EndpointsBridge implements ServiceBridge {
  readonly type = 'endpoints' as const;

  constructor(private readonly clusters: BridgeClusters) {}

  async ensure(spec: BridgeSpec): Promise<BridgeRecord> {
    const cluster = this.clusters[spec.callerCluster];
    const ips = await gatewayIps(spec.gateway.host);
    const serviceRef = { apiVersion: 'v1', kind: 'Service', namespace: spec.namespace, name: spec.service };
    const existing = await cluster.get(serviceRef);
    const taken = existing ? await this.takeOver(cluster, spec, existing) : undefined;
    const warnings: string[] = [];
    if (!isIP(spec.gateway.host)) {
      warnings.push(`the gateway ${spec.gateway.host} is a DNS name: Endpoints hold addresses, so it was resolved to ${ips.map((entry) => entry.ip).join(', ')} now; \`ferry\` reports it when that changes (verify)`);
    }
    if (!taken) {
      const service: KubeObject = {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: spec.service, namespace: spec.namespace, labels: bridgeLabels(spec.service) },
        spec: { ...(spec.headless ? { clusterIP: 'None' } : {}), ports: spec.ports.map((port) => ({ ...port })) },
      };
      await cluster.apply(service);
    }
    const objects: BridgeObjectRef[] = [{ cluster: spec.callerCluster, ...serviceRef, created: !taken }];
    // The slices first: kube-proxy reads slices; Endpoints are for older readers (and the lab's proxy).
    for (const slice of endpointSlices(spec, ips)) {
      await cluster.apply(slice);
      objects.push({ cluster: spec.callerCluster, apiVersion: slice.apiVersion, kind: slice.kind, namespace: spec.namespace, name: slice.metadata.name, created: true });
    }
    await cluster.apply(endpointsObject(spec, ips));
    objects.push({ cluster: spec.callerCluster, apiVersion: 'v1', kind: 'Endpoints', namespace: spec.namespace, name: spec.service, created: !taken });
    return {
      provider: this.type,
      spec,
      objects,
      ...(taken ? { restore: { service: { cluster: spec.callerCluster, namespace: spec.namespace, name: spec.service, selector: taken } } } : {}),
      warnings,
    };
  }

  /**
   * A Service of the callee's name is already on the callers' cluster. Ours (selector-less,
   * labelled): nothing to take. With a selector: take it off and return it. Without one and
   * not ours: a selector taken earlier (annotation), or someone else's endpoints — refused.
   */
  private async takeOver(cluster: BridgeObjects, spec: BridgeSpec, service: KubeObject): Promise<Record<string, string> | undefined> {
    const selector = ((service.spec as Obj | undefined)?.selector ?? {}) as Record<string, string>;
    const annotated = service.metadata.annotations?.[BRIDGED_SELECTOR_ANNOTATION];
    const ref = { apiVersion: 'v1', kind: 'Service', namespace: spec.namespace, name: spec.service };
    if ((service.spec as Obj | undefined)?.type === 'ExternalName') {
      throw new FerryError('bridge', `${bridgeName(spec)} on cluster "${cluster.context}" is of type ExternalName: a bridge cannot give it endpoints`, {
        location: { object: `Service ${spec.namespace}/${spec.service}` },
        fix: 'point the ExternalName at the serving cluster yourself, or make it a ClusterIP Service',
      });
    }
    if (Object.keys(selector).length === 0) {
      if (annotated !== undefined) return parseSelector(annotated, spec);
      if (service.metadata.labels?.[BRIDGE_LABEL] === spec.service) return undefined;
      throw new FerryError('bridge', `${bridgeName(spec)} on cluster "${cluster.context}" has no selector and Ferry did not create it: its endpoints are someone else's`, {
        location: { object: `Service ${spec.namespace}/${spec.service}` },
        fix: 'delete it or give it a selector before the wave runs, or choose another spec.bridges.provider',
      });
    }
    await cluster.patch(ref, [
      { op: 'test', path: '/spec/selector', value: selector },
      { op: 'remove', path: '/spec/selector' },
      ...(service.metadata.annotations ? [] : [{ op: 'add' as const, path: '/metadata/annotations', value: {} }]),
      { op: 'add', path: `/metadata/annotations/${pointerSegment(BRIDGED_SELECTOR_ANNOTATION)}`, value: JSON.stringify(selector) },
    ]);
    // The EndpointSlice controller ignores a Service without a selector, so its slices would keep
    // the retired pods' addresses beside ours; it writes them anew when the selector is back.
    const controllerSlices = await cluster.list({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespace: spec.namespace }, `${SERVICE_NAME_LABEL}=${spec.service},${SLICE_MANAGED_BY}!=${SLICE_MANAGER}`);
    for (const slice of controllerSlices) await cluster.delete({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespace: spec.namespace, name: slice.metadata.name });
    return selector;
  }

  async remove(record: BridgeRecord): Promise<void> {
    const { spec } = record;
    const cluster = this.clusters[spec.callerCluster];
    const serviceRef = { apiVersion: 'v1', kind: 'Service', namespace: spec.namespace, name: spec.service };
    const endpointsRef = { apiVersion: 'v1', kind: 'Endpoints', namespace: spec.namespace, name: spec.service };
    const service = await cluster.get(serviceRef);
    if (record.restore) {
      // Selector first: its controller then writes the local pods' endpoints before ours go.
      if (service) await restoreSelector(cluster, service, record.restore.service.selector);
      await this.deleteSlices(cluster, record);
      await stripLabels(cluster, endpointsRef);
      // A Service first created as a bridge, then given its selector by the callee's slice and taken over again.
      await stripLabels(cluster, serviceRef);
      return;
    }
    await this.deleteSlices(cluster, record);
    const stillOurs = service !== undefined && service.metadata.labels?.[BRIDGE_LABEL] === spec.service && Object.keys(((service.spec as Obj | undefined)?.selector ?? {}) as object).length === 0;
    if (stillOurs) {
      const endpoints = await cluster.get(endpointsRef);
      if (endpoints?.metadata.labels?.[BRIDGE_LABEL] === spec.service) await cluster.delete(endpointsRef);
      await cluster.delete(serviceRef);
    } else if (service) {
      // The callee arrived and its slice gave the Service a selector: the Service is its now.
      await stripLabels(cluster, serviceRef);
      await stripLabels(cluster, endpointsRef);
    }
  }

  private async deleteSlices(cluster: BridgeObjects, record: BridgeRecord): Promise<void> {
    for (const object of record.objects.filter((entry) => entry.kind === 'EndpointSlice' && entry.created)) {
      const slice = await cluster.get(object);
      if (slice?.metadata.labels?.[SLICE_MANAGED_BY] === SLICE_MANAGER && slice.metadata.labels[BRIDGE_LABEL] === record.spec.service) await cluster.delete(object);
    }
  }

  async verify(record: BridgeRecord): Promise<string[]> {
    const { spec } = record;
    const cluster = this.clusters[spec.callerCluster];
    const where = `on cluster "${cluster.context}"`;
    const problems: string[] = [];
    const ips = await gatewayIps(spec.gateway.host).catch((error: Error) => {
      problems.push(error.message);
      return [] as GatewayIp[];
    });
    const wantedIps = ips.map((entry) => entry.ip).sort();
    const service = await cluster.get({ apiVersion: 'v1', kind: 'Service', namespace: spec.namespace, name: spec.service });
    if (!service) return [...problems, `${bridgeName(spec)} is missing ${where}`];
    const serviceSpec = (service.spec ?? {}) as Obj;
    if (Object.keys(serviceSpec.selector ?? {}).length > 0) problems.push(`${bridgeName(spec)} ${where} has a selector (${JSON.stringify(serviceSpec.selector)}): its own pods' endpoints replace the bridge`);
    const servicePorts = new Set(((serviceSpec.ports ?? []) as Obj[]).map((port) => `${port.name ?? ''}/${port.port}`));
    for (const port of spec.ports) if (!servicePorts.has(`${port.name ?? ''}/${port.port}`)) problems.push(`${bridgeName(spec)} ${where} lacks port ${port.name ?? ''} ${port.port}`);
    const endpoints = await cluster.get({ apiVersion: 'v1', kind: 'Endpoints', namespace: spec.namespace, name: spec.service });
    const subsets = ((endpoints?.subsets ?? []) as Obj[]);
    const endpointIps = [...new Set(subsets.flatMap((subset) => ((subset.addresses ?? []) as Obj[]).map((address) => address.ip as string)))].sort();
    const endpointPorts = new Set(subsets.flatMap((subset) => ((subset.ports ?? []) as Obj[]).map((port) => port.port as number)));
    if (!endpoints) problems.push(`Endpoints ${spec.namespace}/${spec.service} is missing ${where}`);
    else if (JSON.stringify(endpointIps) !== JSON.stringify(wantedIps) || endpointPorts.size !== 1 || !endpointPorts.has(spec.gateway.port)) {
      problems.push(`Endpoints ${spec.namespace}/${spec.service} ${where} point at ${endpointIps.join(', ') || 'nothing'} port ${[...endpointPorts].join(', ') || '-'}, not the gateway ${wantedIps.join(', ')} port ${spec.gateway.port}`);
    }
    for (const object of record.objects.filter((entry) => entry.kind === 'EndpointSlice')) {
      const slice = await cluster.get(object);
      if (!slice) {
        problems.push(`EndpointSlice ${object.namespace}/${object.name} is missing ${where}`);
        continue;
      }
      const sliceIps = ((slice.endpoints ?? []) as Obj[]).filter((endpoint) => endpoint.conditions?.ready !== false).flatMap((endpoint) => (endpoint.addresses ?? []) as string[]);
      if (!sliceIps.every((ip) => wantedIps.includes(ip)) || sliceIps.length === 0) problems.push(`EndpointSlice ${object.namespace}/${object.name} ${where} points at ${sliceIps.join(', ') || 'nothing'}, not the gateway ${wantedIps.join(', ')}`);
      if (slice.metadata.labels?.[SERVICE_NAME_LABEL] !== spec.service) problems.push(`EndpointSlice ${object.namespace}/${object.name} ${where} is not labelled ${SERVICE_NAME_LABEL}=${spec.service}`);
    }
    return problems;
  }
}

async function gatewayIps(host: string): Promise<GatewayIp[]> {
  const family = isIP(host);
  if (family !== 0) return [{ ip: host, family: family === 4 ? 'IPv4' : 'IPv6' }];
  try {
    const found = await lookup(host, { all: true });
    const unique = [...new Map(found.map((entry) => [entry.address, entry])).values()];
    return unique.map((entry): GatewayIp => ({ ip: entry.address, family: entry.family === 6 ? 'IPv6' : 'IPv4' })).sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  } catch (error) {
    throw new FerryError('bridge', `the east-west gateway's name ${host} does not resolve: ${(error as Error).message}`, {
      fix: 'check the gateway Service\'s load balancer, or set spec.bridges.gateways.<side>: ip:port',
      cause: error,
    });
  }
}

function endpointPorts(spec: BridgeSpec): Obj[] {
  // Every Service port goes to the one gateway port; the gateway tells them apart by the name
  // and port the caller asked for (SNI with Istio, the CONNECT target in the lab).
  return spec.ports.map((port) => ({ ...(port.name ? { name: port.name } : {}), port: spec.gateway.port, protocol: port.protocol, ...(port.appProtocol ? { appProtocol: port.appProtocol } : {}) }));
}

function endpointSlices(spec: BridgeSpec, ips: GatewayIp[]): KubeObject[] {
  const families = (['IPv4', 'IPv6'] as const).filter((family) => ips.some((entry) => entry.family === family));
  return families.map((family, index) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${spec.service}-ferry-bridge${index === 0 ? '' : `-${family.toLowerCase()}`}`,
      namespace: spec.namespace,
      labels: { ...bridgeLabels(spec.service), [SERVICE_NAME_LABEL]: spec.service, [SLICE_MANAGED_BY]: SLICE_MANAGER },
    },
    addressType: family,
    endpoints: ips.filter((entry) => entry.family === family).flatMap((entry) =>
      (spec.headless?.hostnames ?? [undefined]).map((hostname) => ({ addresses: [entry.ip], conditions: { ready: true, serving: true, terminating: false }, ...(hostname ? { hostname } : {}) }))),
    ports: endpointPorts(spec),
  }));
}

function endpointsObject(spec: BridgeSpec, ips: GatewayIp[]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: spec.service, namespace: spec.namespace, labels: { ...bridgeLabels(spec.service), [SKIP_MIRROR_LABEL]: 'true' } },
    subsets: [{
      addresses: ips.flatMap((entry) => (spec.headless?.hostnames ?? [undefined]).map((hostname) => ({ ip: entry.ip, ...(hostname ? { hostname } : {}) }))),
      ports: endpointPorts(spec),
    }],
  };
}

async function restoreSelector(cluster: BridgeObjects, service: KubeObject, selector: Record<string, string>): Promise<void> {
  const operations: JsonPatchOperation[] = [];
  const current = ((service.spec as Obj | undefined)?.selector ?? {}) as Record<string, string>;
  if (JSON.stringify(current) !== JSON.stringify(selector)) operations.push({ op: 'add', path: '/spec/selector', value: selector });
  if (service.metadata.annotations?.[BRIDGED_SELECTOR_ANNOTATION] !== undefined) {
    operations.push({ op: 'remove', path: `/metadata/annotations/${pointerSegment(BRIDGED_SELECTOR_ANNOTATION)}` });
  }
  if (operations.length > 0) await cluster.patch({ apiVersion: 'v1', kind: 'Service', namespace: service.metadata.namespace!, name: service.metadata.name }, operations);
}

/** Takes the bridge's labels off an object that is not the bridge's to delete (only labels it set, with its values). */
async function stripLabels(cluster: BridgeObjects, ref: { apiVersion: string; kind: string; namespace: string; name: string }): Promise<void> {
  const object = await cluster.get(ref);
  const labels = object?.metadata.labels ?? {};
  if (labels[BRIDGE_LABEL] !== ref.name) return;
  const ours = [BRIDGE_LABEL, ...(labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE ? [MANAGED_BY_LABEL] : []), ...(labels[SKIP_MIRROR_LABEL] === 'true' ? [SKIP_MIRROR_LABEL] : [])];
  await cluster.patch(ref, ours.map((key) => ({ op: 'remove' as const, path: `/metadata/labels/${pointerSegment(key)}` })));
}

function parseSelector(text: string, spec: BridgeSpec): Record<string, string> {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((entry) => typeof entry === 'string')) return value as Record<string, string>;
  } catch {
    // refused below
  }
  throw new FerryError('bridge', `${bridgeName(spec)}: annotation ${BRIDGED_SELECTOR_ANNOTATION} is not a selector (${text.slice(0, 200)})`, {
    location: { object: `Service ${spec.namespace}/${spec.service}` },
    fix: `put the Service's selector back by hand and delete the annotation ${BRIDGED_SELECTOR_ANNOTATION}`,
  });
}
