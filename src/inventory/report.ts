import type { KubeObject } from '../kube/object.js';
import { compareStrings, uniqueSorted } from '../util/stable.js';
import { buildDependencyGraph } from '../graph/build.js';
import { allContainers, podTemplate } from '../graph/pod-spec.js';
import { namespaceOf } from '../graph/units.js';
import type { Inventory } from './load.js';

export interface NamespaceReport {
  namespace: string;
  objects: Record<string, number>;
  images: string[];
  storage: Array<{ claim: string; storageClass: string; size: string; accessModes: string[] }>;
  exposure: Array<{ object: string; type: string; detail: string }>;
  externalDependencies: Array<{ from: string; target: string; kind: 'external-host' | 'missing-service' | 'missing-object'; detail: string }>;
}

export interface InventoryReport {
  source: Inventory['source'];
  totals: { objects: number; namespaces: number; skipped: number };
  namespaces: NamespaceReport[];
  cluster: {
    objects: Record<string, number>;
    storageClasses: Array<{ name: string; provisioner: string; default: boolean }>;
    persistentVolumes: Array<{ name: string; storageClass: string; size: string; claim: string }>;
  };
  skipped: Record<string, number>;
}

/** The per-namespace summary `ferry inventory` prints: what runs, what it stores, what reaches it from outside. */
export function summarizeInventory(inventory: Inventory): InventoryReport {
  const byNamespace = new Map<string, KubeObject[]>();
  const clusterScoped: KubeObject[] = [];
  for (const object of inventory.objects) {
    const namespace = object.metadata.namespace;
    if (!namespace) clusterScoped.push(object);
    else byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), object]);
  }
  const graph = buildDependencyGraph(inventory.objects);
  const namespaces = [...byNamespace.keys()].sort(compareStrings).map((namespace): NamespaceReport => {
    const objects = byNamespace.get(namespace)!;
    return {
      namespace,
      objects: countBy(objects.map((object) => object.kind)),
      images: uniqueSorted(objects.flatMap((object) => {
        const template = podTemplate(object);
        return template ? allContainers(template.spec).map((container) => container.image ?? '').filter(Boolean) : [];
      })),
      storage: objects.filter((object) => object.kind === 'PersistentVolumeClaim').map((claim) => {
        const spec = (claim.spec ?? {}) as Record<string, any>;
        return {
          claim: claim.metadata.name,
          storageClass: spec.storageClassName ?? '(default)',
          size: spec.resources?.requests?.storage ?? '?',
          accessModes: spec.accessModes ?? [],
        };
      }),
      exposure: objects.flatMap(exposureOf),
      externalDependencies: graph.dangling
        .filter((reference) => namespaceOf(reference.from) === namespace)
        .map((reference) => ({ from: reference.from, target: reference.target, kind: reference.kind, detail: reference.detail })),
    };
  });
  return {
    source: inventory.source,
    totals: { objects: inventory.objects.length, namespaces: namespaces.length, skipped: inventory.skipped.length },
    namespaces,
    cluster: {
      objects: countBy([...clusterScoped, ...inventory.clusterObjects].map((object) => object.kind)),
      storageClasses: inventory.clusterObjects.filter((object) => object.kind === 'StorageClass').map((storageClass) => ({
        name: storageClass.metadata.name,
        provisioner: String((storageClass as { provisioner?: string }).provisioner ?? ''),
        default: storageClass.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true',
      })),
      persistentVolumes: inventory.clusterObjects.filter((object) => object.kind === 'PersistentVolume').map((volume) => {
        const spec = (volume.spec ?? {}) as Record<string, any>;
        return {
          name: volume.metadata.name,
          storageClass: spec.storageClassName ?? '',
          size: spec.capacity?.storage ?? '?',
          claim: spec.claimRef ? `${spec.claimRef.namespace}/${spec.claimRef.name}` : '',
        };
      }),
    },
    skipped: countBy(inventory.skipped.map((entry) => entry.reason)),
  };
}

function exposureOf(object: KubeObject): NamespaceReport['exposure'] {
  const spec = (object.spec ?? {}) as Record<string, any>;
  const name = `${object.kind}/${object.metadata.name}`;
  if (object.kind === 'Service' && ['LoadBalancer', 'NodePort', 'ExternalName'].includes(spec.type)) {
    const detail = spec.type === 'ExternalName'
      ? `externalName ${spec.externalName}`
      : (spec.ports ?? []).map((port: any) => `${port.port}${port.nodePort ? `:${port.nodePort}` : ''}/${port.protocol ?? 'TCP'}`).join(', ');
    return [{ object: name, type: spec.type, detail }];
  }
  if (object.kind === 'Ingress') {
    const hosts = uniqueSorted((spec.rules ?? []).map((rule: any) => rule.host ?? '*'));
    return [{ object: name, type: 'Ingress', detail: `${spec.ingressClassName ?? 'default class'}: ${hosts.join(', ') || '*'}` }];
  }
  if (object.kind === 'HTTPRoute' || object.kind === 'Gateway') {
    return [{ object: name, type: object.kind, detail: (spec.hostnames ?? spec.listeners?.map((l: any) => l.hostname ?? '*') ?? ['*']).join(', ') }];
  }
  return [];
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of [...values].sort(compareStrings)) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
