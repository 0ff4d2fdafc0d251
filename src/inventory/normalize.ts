import type { KubeObject } from '../kube/object.js';
import { findBuiltinKind, isBuiltinGroup, kindsOfGroup } from '../kube/builtin-kinds.js';
import { FerryError } from '../util/errors.js';
import { compareStrings } from '../util/stable.js';
import { idOf } from '../graph/model.js';

/** Why an object read from a cluster or file is not part of what moves. */
export type SkipReason =
  | 'owned by a controller'
  | 'made by the cluster'
  | 'system namespace'
  | 'cluster infrastructure';

export interface SkippedObject {
  id: string;
  reason: SkipReason;
}

const ALWAYS_CONTROLLER_MADE = new Set(['Pod', 'ReplicaSet', 'EndpointSlice', 'Event', 'ControllerRevision', 'Lease']);
// ferry-system holds Ferry's own Leases, journal keys and anchors on a cluster: never migrated.
const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'ferry-system']);
/** Cluster-scoped kinds that describe the cluster itself; reported, never moved as objects. */
export const CLUSTER_INFRASTRUCTURE = new Set(['Node', 'StorageClass', 'IngressClass', 'CSIDriver', 'VolumeAttachment', 'APIService', 'PersistentVolume', 'ComponentStatus', 'RuntimeClass']);

/** Decides whether an object is something a user would move, and why not when it is not. */
export function skipReason(object: KubeObject, selectorlessServices: ReadonlySet<string>): SkipReason | undefined {
  const { kind, metadata } = object;
  const namespace = metadata.namespace;
  if (namespace && SYSTEM_NAMESPACES.has(namespace)) return 'system namespace';
  if (kind === 'Namespace' && (SYSTEM_NAMESPACES.has(metadata.name) || metadata.name === 'default')) return 'made by the cluster';
  if (CLUSTER_INFRASTRUCTURE.has(kind)) return 'cluster infrastructure';
  if (metadata.ownerReferences?.some((owner) => owner.controller)) return 'owned by a controller';
  if (ALWAYS_CONTROLLER_MADE.has(kind)) return 'owned by a controller';
  // Endpoints are made by the endpoints controller, except for Services without a selector.
  if (kind === 'Endpoints' && !selectorlessServices.has(`${namespace}/${metadata.name}`)) return 'owned by a controller';
  if (kind === 'Secret' && (object as { type?: string }).type === 'kubernetes.io/service-account-token') return 'made by the cluster';
  if (kind === 'ConfigMap' && metadata.name === 'kube-root-ca.crt') return 'made by the cluster';
  if (kind === 'ServiceAccount' && metadata.name === 'default') return 'made by the cluster';
  if (kind === 'Service' && namespace === 'default' && metadata.name === 'kubernetes') return 'made by the cluster';
  if ((kind === 'ClusterRole' || kind === 'ClusterRoleBinding') && (metadata.name.startsWith('system:') || metadata.labels?.['kubernetes.io/bootstrapping'] === 'rbac-defaults')) return 'made by the cluster';
  if (kind === 'PriorityClass' && metadata.name.startsWith('system-')) return 'made by the cluster';
  return undefined;
}

/**
 * Fills in defaults a cluster would (the namespace of namespaced objects) and rejects kinds
 * that do not exist in a built-in API group. `scopeOf` answers for custom resources.
 */
export function normalizeObject(
  object: KubeObject,
  options: { defaultNamespace: string; customScopes: ReadonlyMap<string, boolean>; where?: { file: string; line: number } },
): KubeObject {
  const builtin = findBuiltinKind(object.apiVersion, object.kind);
  if (!builtin && isBuiltinGroup(object.apiVersion) && !isLegacyKind(object)) {
    const known = kindsOfGroup(object.apiVersion);
    throw new FerryError('manifests', `unknown kind "${object.kind}" in ${object.apiVersion}`, {
      location: { ...(options.where ? { file: options.where.file, line: options.where.line } : {}), field: 'kind', object: `${object.kind} ${object.metadata.name}` },
      fix: known.length > 0 ? `use one of ${object.apiVersion}'s kinds: ${known.join(', ')}` : 'check apiVersion and kind',
    });
  }
  const namespaced = builtin?.namespaced ?? options.customScopes.get(`${object.apiVersion.split('/')[0]}/${object.kind}`) ?? true;
  if (!namespaced) {
    if (object.metadata.namespace === undefined) return object;
    const { namespace: _dropped, ...metadata } = object.metadata;
    return { ...object, metadata: metadata as KubeObject['metadata'] };
  }
  if (object.metadata.namespace) return object;
  return { ...object, metadata: { ...object.metadata, namespace: options.defaultNamespace } };
}

// Removed APIs that real clusters and charts still carry (extensions/v1beta1 Deployment,
// policy/v1beta1 PodSecurityPolicy...): loaded so preflight can name their replacement.
const LEGACY_KINDS = new Set(['Deployment', 'DaemonSet', 'ReplicaSet', 'Ingress', 'NetworkPolicy', 'PodSecurityPolicy', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'CronJob', 'StatefulSet', 'CustomResourceDefinition', 'IngressClass', 'EndpointSlice', 'PriorityClass', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding', 'StorageClass', 'CSIDriver', 'Lease', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'VolumeAttachment', 'CSINode', 'CSIStorageCapacity', 'RuntimeClass']);
function isLegacyKind(object: KubeObject): boolean {
  return /\/v\d+(alpha|beta)\d+$/.test(object.apiVersion) && LEGACY_KINDS.has(object.kind);
}

/** Custom resource scopes declared by CRDs in the same input: `group/Kind` → namespaced. */
export function customScopesFrom(objects: readonly KubeObject[]): Map<string, boolean> {
  const scopes = new Map<string, boolean>();
  for (const object of objects) {
    if (object.kind !== 'CustomResourceDefinition') continue;
    const spec = object.spec as { group?: string; names?: { kind?: string }; scope?: string } | undefined;
    if (spec?.group && spec.names?.kind) scopes.set(`${spec.group}/${spec.names.kind}`, spec.scope !== 'Cluster');
  }
  return scopes;
}

export function sortObjects(objects: KubeObject[]): KubeObject[] {
  return objects.sort((a, b) => compareStrings(idOf(a), idOf(b)) || compareStrings(a.apiVersion, b.apiVersion));
}
