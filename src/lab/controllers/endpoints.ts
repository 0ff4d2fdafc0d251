/**
 * Service → Endpoints and EndpointSlices from the pods its selector picks: ready pods
 * as addresses, others as notReadyAddresses. Lab pods all live on 127.0.0.1, told apart
 * by port, so the ports come from the runtime's host-port mapping when there is one;
 * pods with different port mappings get separate subsets and slices.
 * https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/
 */
import type { KubeObject } from '../../kube/object.js';
import type { StoreEvent } from '../api/store.js';
import { labelSelectorFromObject, matchesLabels } from '../api/selectors.js';
import { ControllerClient, isPodReady, ownerReference, shortHash } from './client.js';
import { splitKey, type Controller } from './manager.js';
import type { RunningPodLookup } from './pod.js';

type Obj = Record<string, any>;

export function endpointsController(client: ControllerClient, lookup?: RunningPodLookup): Controller {
  return {
    name: 'endpoints',
    keysFor(event: StoreEvent) {
      const { object } = event;
      if (event.resource === '/services') return [`${object.metadata.namespace}/${object.metadata.name}`];
      if (event.resource === '/pods') {
        return client.list('v1', 'Service', object.metadata.namespace)
          .filter((svc) => selects(svc, object) || (event.previous && selects(svc, event.previous)))
          .map((svc) => `${svc.metadata.namespace}/${svc.metadata.name}`);
      }
      return [];
    },
    initialKeys: () => client.list('v1', 'Service').map((svc) => `${svc.metadata.namespace}/${svc.metadata.name}`),
    reconcile(key) {
      const { namespace, name } = splitKey(key);
      const service = client.get('v1', 'Service', namespace, name);
      // A deleted Service's Endpoints go with it; a selector-less Service's Endpoints are its owner's (a user, a bridge), as upstream.
      if (!service) {
        const stale = client.get('v1', 'Endpoints', namespace, name);
        if (stale) client.delete(stale);
        return;
      }
      if (!(service.spec as Obj)?.selector || Object.keys((service.spec as Obj).selector).length === 0) return;
      const pods = client.list('v1', 'Pod', namespace).filter((pod) => selects(service, pod) && (pod.status as Obj | undefined)?.podIP && !pod.metadata.deletionTimestamp);
      const groups = new Map<string, { ports: Obj[]; ready: KubeObject[]; notReady: KubeObject[] }>();
      for (const pod of pods) {
        const ports = ((service.spec as Obj).ports ?? []).map((port: Obj) => ({
          ...(port.name ? { name: port.name } : {}),
          port: resolvePort(pod, port.targetPort ?? port.port, lookup),
          protocol: port.protocol ?? 'TCP',
          ...(port.appProtocol ? { appProtocol: port.appProtocol } : {}),
        })).filter((port: Obj) => port.port !== undefined);
        const id = JSON.stringify(ports);
        const group = groups.get(id) ?? { ports, ready: [], notReady: [] };
        groups.set(id, group);
        (isPodReady(pod) ? group.ready : group.notReady).push(pod);
      }
      const address = (pod: KubeObject) => ({ ip: (pod.status as Obj).podIP, nodeName: (pod.spec as Obj).nodeName, targetRef: { kind: 'Pod', namespace, name: pod.metadata.name, uid: pod.metadata.uid } });
      const subsets = [...groups.values()].map((group) => ({
        ...(group.ready.length ? { addresses: group.ready.map(address) } : {}),
        ...(group.notReady.length ? { notReadyAddresses: group.notReady.map(address) } : {}),
        ports: group.ports,
      }));
      const existing = client.get('v1', 'Endpoints', namespace, name);
      const labels = { ...(service.metadata.labels ?? {}) };
      if (!existing) client.create({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace, labels }, ...(subsets.length ? { subsets } : {}) });
      else if (JSON.stringify(existing.subsets ?? []) !== JSON.stringify(subsets)) {
        const copy = structuredClone(existing);
        if (subsets.length) copy.subsets = subsets;
        else delete copy.subsets;
        client.update(copy);
      }
      syncSlices(client, service, [...groups.values()]);
    },
  };
}

function syncSlices(client: ControllerClient, service: KubeObject, groups: Array<{ ports: Obj[]; ready: KubeObject[]; notReady: KubeObject[] }>): void {
  const namespace = service.metadata.namespace;
  const wanted = new Map<string, KubeObject>();
  for (const group of groups.length ? groups : [{ ports: [], ready: [], notReady: [] }]) {
    const name = `${service.metadata.name}-${shortHash(group.ports).slice(0, 5)}`;
    wanted.set(name, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name, namespace,
        labels: { ...(service.metadata.labels ?? {}), 'kubernetes.io/service-name': service.metadata.name, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
        ownerReferences: [ownerReference(service)],
      },
      addressType: 'IPv4',
      endpoints: [...group.ready, ...group.notReady].map((pod) => ({
        addresses: [(pod.status as Obj).podIP],
        conditions: { ready: isPodReady(pod), serving: isPodReady(pod), terminating: false },
        nodeName: (pod.spec as Obj).nodeName,
        targetRef: { kind: 'Pod', namespace, name: pod.metadata.name, uid: pod.metadata.uid },
      })),
      ports: group.ports,
    });
  }
  // Only its own slices, as upstream's controller: another manager's (a bridge's) stay beside them.
  const existing = client.list('discovery.k8s.io/v1', 'EndpointSlice', namespace).filter((slice) => slice.metadata.labels?.['kubernetes.io/service-name'] === service.metadata.name
    && slice.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] === 'endpointslice-controller.k8s.io');
  for (const slice of existing) if (!wanted.has(slice.metadata.name)) client.delete(slice);
  for (const [name, slice] of wanted) {
    const current = existing.find((s) => s.metadata.name === name);
    if (!current) client.create(slice);
    else if (JSON.stringify(current.endpoints) !== JSON.stringify(slice.endpoints) || JSON.stringify(current.ports) !== JSON.stringify(slice.ports)) {
      client.update({ ...structuredClone(current), endpoints: slice.endpoints, ports: slice.ports });
    }
  }
}

function selects(service: KubeObject, pod: KubeObject): boolean {
  const selector = (service.spec as Obj | undefined)?.selector as Record<string, string> | undefined;
  if (!selector || Object.keys(selector).length === 0) return false;
  return matchesLabels(labelSelectorFromObject({ matchLabels: selector }), pod.metadata.labels);
}

function resolvePort(pod: KubeObject, target: number | string, lookup?: RunningPodLookup): number | undefined {
  const running = lookup?.(pod.metadata.namespace!, pod.metadata.name);
  if (running) return running.hostPort(target);
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  for (const container of ((pod.spec as Obj).containers ?? []) as Obj[]) {
    for (const port of (container.ports ?? []) as Obj[]) if (port.name === target) return port.containerPort;
  }
  return undefined;
}
