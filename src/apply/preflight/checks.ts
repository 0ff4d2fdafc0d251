import type { KubeObject } from '../../kube/object.js';
import { describeObject } from '../../kube/object.js';
import { splitApiVersion } from '../../kube/builtin-kinds.js';
import { formatBytes, formatCpu, parseQuantity } from '../../kube/quantity.js';
import { podTemplate, allContainers } from '../../graph/pod-spec.js';
import { buildDependencyGraph } from '../../graph/build.js';
import { compareStrings } from '../../util/stable.js';
import { findRemovedApi } from './removed-apis.js';
import { secretsMadeBySealedSecrets } from '../../trust/sealed-secrets.js';
import type { PreflightRow } from './model.js';

/** What preflight knows about the target cluster, gathered once (see facts.ts). */
export interface TargetFacts {
  context: string;
  version: { major: number; minor: number; gitVersion: string };
  /** `group/Kind` → served versions. */
  served: Map<string, string[]>;
  storageClasses: Array<{ name: string; isDefault: boolean }>;
  ingressClasses: Array<{ name: string; isDefault: boolean }>;
  namespaces: Set<string>;
  /** `Kind/namespace/name` of Secrets and ConfigMaps already on the target (names only). */
  configObjects: Set<string>;
  capacity: { cpu: number; memory: number };
  requested: { cpu: number; memory: number };
}

export interface PlannedObjects {
  /** The objects as they will be applied (transforms done). */
  desired: KubeObject[];
  /** The same objects as the source has them (for addresses and status). */
  original: KubeObject[];
}

export function checkVersions(source: TargetFacts['version'] | undefined, target: TargetFacts['version']): PreflightRow[] {
  if (!source) return [{ severity: 'OK', check: 'version', subject: 'target', message: `target runs Kubernetes ${target.gitVersion} (source is exported YAML)` }];
  const skew = target.minor - source.minor;
  if (target.major !== source.major) {
    return [{ severity: 'BLOCK', check: 'version', subject: 'clusters', message: `major versions differ: source ${source.gitVersion}, target ${target.gitVersion}`, fix: 'migrate between clusters of the same major version' }];
  }
  if (skew < 0) {
    return [{ severity: 'WARN', check: 'version', subject: 'clusters', message: `target ${target.gitVersion} is ${-skew} minor version(s) older than source ${source.gitVersion}: newer fields and APIs may be refused`, fix: 'upgrade the target, or review the api rows below' }];
  }
  if (skew > 3) {
    return [{ severity: 'WARN', check: 'version', subject: 'clusters', message: `target ${target.gitVersion} is ${skew} minor versions newer than source ${source.gitVersion}: check deprecations in between`, fix: 'read the api rows below; removed APIs are flagged with their replacement' }];
  }
  return [{ severity: 'OK', check: 'version', subject: 'clusters', message: `source ${source.gitVersion}, target ${target.gitVersion} (skew ${skew})` }];
}

/** Every kind the plan applies must be served by the target, or come with its CRD in the plan. */
export function checkApis(planned: PlannedObjects, target: TargetFacts): PreflightRow[] {
  const crdsInPlan = new Set(
    planned.desired.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => `${(o.spec as any)?.group}/${(o.spec as any)?.names?.kind}`),
  );
  const rows: PreflightRow[] = [];
  const seen = new Set<string>();
  for (const object of planned.desired) {
    const key = `${object.apiVersion}|${object.kind}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const { group, version } = splitApiVersion(object.apiVersion);
    const versions = target.served.get(`${group}/${object.kind}`);
    const subject = `${object.apiVersion} ${object.kind}`;
    const removed = findRemovedApi(object.apiVersion, object.kind);
    if (versions?.includes(version)) rows.push({ severity: 'OK', check: 'api', subject, message: 'served by the target' });
    else if (removed) rows.push({ severity: 'BLOCK', check: 'api', subject, message: `${object.apiVersion} ${object.kind} was removed in Kubernetes ${removed.removedIn}`, fix: `convert to ${removed.replacement}` });
    else if (versions) rows.push({ severity: 'BLOCK', check: 'api', subject, message: `the target serves ${object.kind} only as ${versions.map((v) => (group ? `${group}/${v}` : v)).join(', ')}`, fix: `convert the objects to ${group ? `${group}/` : ''}${versions[0]}` });
    else if (crdsInPlan.has(`${group}/${object.kind}`)) rows.push({ severity: 'OK', check: 'api', subject, message: 'its CustomResourceDefinition is in the plan and is applied first' });
    else rows.push({ severity: 'BLOCK', check: 'api', subject, message: `the target does not serve ${object.kind} (${group || 'core'}): its CustomResourceDefinition is missing`, fix: `install the CRD for ${group}/${object.kind} on the target, or add it to spec.prerequisites` });
  }
  return rows;
}

export function checkStorageClasses(planned: PlannedObjects, target: TargetFacts): PreflightRow[] {
  const rows: PreflightRow[] = [];
  const known = new Set(target.storageClasses.map((c) => c.name));
  const hasDefault = target.storageClasses.some((c) => c.isDefault);
  for (const object of planned.desired) {
    const claims: Array<{ subject: string; storageClassName?: string }> = [];
    if (object.kind === 'PersistentVolumeClaim') claims.push({ subject: describeObject(object), storageClassName: (object.spec as any)?.storageClassName });
    if (object.kind === 'StatefulSet') {
      for (const template of ((object.spec as any)?.volumeClaimTemplates ?? []) as any[]) {
        claims.push({ subject: `${describeObject(object)} claim ${template.metadata?.name}`, storageClassName: template.spec?.storageClassName });
      }
    }
    for (const claim of claims) {
      const name = claim.storageClassName;
      if (name === undefined || name === null) {
        rows.push(hasDefault
          ? { severity: 'OK', check: 'storage-class', subject: claim.subject, message: 'uses the target default storage class' }
          : { severity: 'WARN', check: 'storage-class', subject: claim.subject, message: 'names no storage class and the target has no default: the claim will stay Pending', fix: 'set a default StorageClass on the target, or map one with the map-storage-class transform' });
      } else if (name === '' || known.has(name)) {
        rows.push({ severity: 'OK', check: 'storage-class', subject: claim.subject, message: name === '' ? 'binds a pre-provisioned volume' : `storage class "${name}" exists on the target` });
      } else {
        rows.push({ severity: 'BLOCK', check: 'storage-class', subject: claim.subject, message: `storage class "${name}" does not exist on the target`, fix: `map it in spec.transforms: { name: map-storage-class, with: { ${name}: ${target.storageClasses[0]?.name ?? '<target class>'} } } (target has: ${[...known].join(', ') || 'none'})` });
      }
    }
  }
  return rows;
}

export function checkIngressClasses(planned: PlannedObjects, target: TargetFacts): PreflightRow[] {
  const known = new Set(target.ingressClasses.map((c) => c.name));
  return planned.desired
    .filter((object) => object.kind === 'Ingress')
    .map((object): PreflightRow => {
      const name = (object.spec as any)?.ingressClassName ?? object.metadata.annotations?.['kubernetes.io/ingress.class'];
      const subject = describeObject(object);
      if (name === undefined) {
        return target.ingressClasses.some((c) => c.isDefault)
          ? { severity: 'OK', check: 'ingress-class', subject, message: 'uses the target default ingress class' }
          : { severity: 'WARN', check: 'ingress-class', subject, message: 'names no ingress class and the target has no default one: no controller may serve it', fix: 'set spec.ingressClassName, or mark an IngressClass default on the target' };
      }
      if (known.has(name)) return { severity: 'OK', check: 'ingress-class', subject, message: `ingress class "${name}" exists on the target` };
      return { severity: 'BLOCK', check: 'ingress-class', subject, message: `ingress class "${name}" does not exist on the target`, fix: `map it with the map-ingress-class transform (target has: ${[...known].join(', ') || 'none'})` };
    });
}

export function checkNamespaces(planned: PlannedObjects, target: TargetFacts): PreflightRow[] {
  const inPlan = new Set(planned.desired.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));
  const needed = [...new Set(planned.desired.map((o) => o.metadata.namespace).filter((ns): ns is string => Boolean(ns)))].sort(compareStrings);
  return needed.map((namespace): PreflightRow => {
    if (target.namespaces.has(namespace)) return { severity: 'OK', check: 'namespace', subject: `Namespace ${namespace}`, message: 'exists on the target' };
    if (inPlan.has(namespace)) return { severity: 'OK', check: 'namespace', subject: `Namespace ${namespace}`, message: 'is in the plan and is applied first' };
    return { severity: 'WARN', check: 'namespace', subject: `Namespace ${namespace}`, message: 'does not exist on the target; apply will create it without the labels and quotas it may have on the source', fix: 'add the Namespace object to spec.prerequisites to carry its labels' };
  });
}

/** Sum of pod requests (× replicas) of the planned workloads against what the target has free. */
export function checkCapacity(planned: PlannedObjects, target: TargetFacts): PreflightRow[] {
  let cpu = 0;
  let memory = 0;
  for (const [index, object] of planned.desired.entries()) {
    const template = podTemplate(object);
    if (!template || object.kind === 'CronJob' || object.kind === 'Job') continue;
    // An autoscaled workload is applied without replicas (its HPA owns them): count what runs on the source.
    const original = planned.original[index];
    const replicas = object.kind === 'DaemonSet' ? 1 : Number((object.spec as any)?.replicas ?? (original?.spec as any)?.replicas ?? 1);
    for (const container of allContainers(template.spec).filter((c) => !(template.spec.initContainers ?? []).includes(c))) {
      const requests = (container as any).resources?.requests ?? {};
      cpu += (parseQuantity(requests.cpu) ?? 0) * replicas;
      memory += (parseQuantity(requests.memory) ?? 0) * replicas;
    }
  }
  const free = { cpu: target.capacity.cpu - target.requested.cpu, memory: target.capacity.memory - target.requested.memory };
  const rows: PreflightRow[] = [];
  for (const [resource, need, available, format] of [['cpu', cpu, free.cpu, formatCpu], ['memory', memory, free.memory, formatBytes]] as const) {
    const subject = `requests.${resource}`;
    const text = `plan requests ${format(need)}, target has ${format(Math.max(0, available))} free of ${format(resource === 'cpu' ? target.capacity.cpu : target.capacity.memory)} allocatable`;
    if (need > available) rows.push({ severity: 'BLOCK', check: 'capacity', subject, message: text, fix: 'add nodes to the target, or lower replicas with the set-replicas transform' });
    else if (need > 0.8 * available) rows.push({ severity: 'WARN', check: 'capacity', subject, message: `${text}: under 20 % headroom left`, fix: 'add nodes before the ramp; autoscalers need room' });
    else rows.push({ severity: 'OK', check: 'capacity', subject, message: text });
  }
  return rows;
}

/** Secrets and ConfigMaps the planned workloads use but the plan does not carry. */
export function checkReferences(planned: PlannedObjects, target: TargetFacts): PreflightRow[] {
  const graph = buildDependencyGraph(planned.desired);
  const sealed = secretsMadeBySealedSecrets(planned.desired);
  const rows: PreflightRow[] = [];
  for (const dangling of graph.dangling) {
    if (dangling.kind !== 'missing-object') continue;
    const kind = dangling.target.split('/')[0];
    if (kind !== 'Secret' && kind !== 'ConfigMap' && kind !== 'PersistentVolumeClaim' && kind !== 'ServiceAccount') continue;
    const subject = dangling.target;
    if (sealed.has(subject)) {
      rows.push({ severity: 'OK', check: 'reference', subject, message: `used by ${dangling.from} (${dangling.detail}); the target's sealed-secrets controller makes it from the SealedSecret in the plan` });
      continue;
    }
    if (target.configObjects.has(dangling.target)) {
      rows.push({ severity: 'OK', check: 'reference', subject, message: `used by ${dangling.from} (${dangling.detail}); not in the plan but already on the target` });
    } else {
      rows.push({ severity: 'BLOCK', check: 'reference', subject, message: `used by ${dangling.from} (${dangling.detail}) but neither in the plan nor on the target`, fix: `add ${subject} to a slice's resources, or create it on the target` });
    }
  }
  return rows;
}

/** LoadBalancer and NodePort Services get new addresses on the target: whoever dials them must be told. */
export function checkExposure(planned: PlannedObjects): PreflightRow[] {
  return planned.original
    .filter((object) => object.kind === 'Service' && ['LoadBalancer', 'NodePort'].includes((object.spec as any)?.type))
    .map((object): PreflightRow => {
      const spec = object.spec as any;
      const ingress = ((object.status as any)?.loadBalancer?.ingress ?? []).map((i: any) => i.ip ?? i.hostname).filter(Boolean);
      const ports = (spec.ports ?? []).map((p: any) => p.nodePort).filter(Boolean);
      const now = [ingress.length ? `address ${ingress.join(', ')}` : '', ports.length ? `node ports ${ports.join(', ')}` : ''].filter(Boolean).join(', ') || 'its current address';
      return { severity: 'WARN', check: 'exposure', subject: describeObject(object), message: `${spec.type} Service: ${now} will change on the target`, fix: 'move clients with a traffic provider (DNS, router) rather than by address; pin node ports with ferry.dev/pin-node-ports: "true"' };
    });
}
