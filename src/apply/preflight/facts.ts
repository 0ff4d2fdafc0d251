import type { KubeObject } from '../../kube/object.js';
import { KubeClient, type ApiResource } from '../../kube/client.js';
import { parseQuantity } from '../../kube/quantity.js';
import type { TargetFacts } from './checks.js';

/** Reads what preflight needs from a cluster: versions, served kinds, classes, namespaces, capacity. */
export async function gatherClusterFacts(client: KubeClient): Promise<TargetFacts> {
  const [version, resources] = await Promise.all([client.serverVersion(), client.discoverResourcesAllVersions()]);
  const served = new Map<string, string[]>();
  for (const resource of resources) {
    const key = `${resource.group}/${resource.kind}`;
    served.set(key, [...new Set([...(served.get(key) ?? []), resource.version])]);
  }
  const list = (group: string, version: string, kind: string, plural: string): Promise<KubeObject[]> =>
    served.get(`${group}/${kind}`)?.includes(version)
      ? client.listAll(resourceOf(group, version, kind, plural))
      : Promise.resolve([]);
  const [storageClasses, ingressClasses, namespaces, nodes, pods, secrets, configMaps] = await Promise.all([
    list('storage.k8s.io', 'v1', 'StorageClass', 'storageclasses'),
    list('networking.k8s.io', 'v1', 'IngressClass', 'ingressclasses'),
    list('', 'v1', 'Namespace', 'namespaces'),
    list('', 'v1', 'Node', 'nodes'),
    list('', 'v1', 'Pod', 'pods'),
    // Only names are kept: values are dropped as soon as the list is read.
    list('', 'v1', 'Secret', 'secrets').then((items) => items.map(({ apiVersion, kind, metadata }) => ({ apiVersion, kind, metadata }))),
    list('', 'v1', 'ConfigMap', 'configmaps').then((items) => items.map(({ apiVersion, kind, metadata }) => ({ apiVersion, kind, metadata }))),
  ]);
  const isDefault = (object: KubeObject, annotation: string) => object.metadata.annotations?.[annotation] === 'true';
  const capacity = { cpu: 0, memory: 0 };
  for (const node of nodes) {
    const allocatable = (node.status as any)?.allocatable ?? {};
    capacity.cpu += parseQuantity(allocatable.cpu) ?? 0;
    capacity.memory += parseQuantity(allocatable.memory) ?? 0;
  }
  const requested = { cpu: 0, memory: 0 };
  for (const pod of pods) {
    const phase = (pod.status as any)?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    for (const container of ((pod.spec as any)?.containers ?? []) as any[]) {
      requested.cpu += parseQuantity(container.resources?.requests?.cpu) ?? 0;
      requested.memory += parseQuantity(container.resources?.requests?.memory) ?? 0;
    }
  }
  return {
    context: client.contextName,
    version: { major: Number.parseInt(version.major, 10), minor: Number.parseInt(version.minor, 10), gitVersion: version.gitVersion },
    served,
    storageClasses: storageClasses.map((c) => ({ name: c.metadata.name, isDefault: isDefault(c, 'storageclass.kubernetes.io/is-default-class') })),
    ingressClasses: ingressClasses.map((c) => ({ name: c.metadata.name, isDefault: isDefault(c, 'ingressclass.kubernetes.io/is-default-class') })),
    namespaces: new Set(namespaces.map((n) => n.metadata.name)),
    configObjects: new Set([...secrets, ...configMaps].map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)),
    capacity,
    requested,
  };
}

function resourceOf(group: string, version: string, kind: string, plural: string): ApiResource {
  return { group, version, apiVersion: group ? `${group}/${version}` : version, kind, plural, namespaced: true, verbs: ['list'] };
}
