import type { KubeObject } from '../kube/object.js';

/**
 * The order objects are applied in, so that what each object needs exists before it:
 * namespaces, CRDs (then wait until Established), identities and RBAC, config, storage,
 * Services, workloads, autoscalers and budgets, routes. Unknown kinds (custom resources) go
 * after their CRDs, before routes.
 */
const TIERS: string[][] = [
  ['Namespace'],
  ['CustomResourceDefinition'],
  ['ServiceAccount', 'ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding', 'PriorityClass', 'StorageClass', 'IngressClass'],
  ['ConfigMap', 'Secret', 'LimitRange', 'ResourceQuota'],
  ['PersistentVolume', 'PersistentVolumeClaim'],
  ['Service', 'Endpoints'],
  ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod'],
  ['HorizontalPodAutoscaler', 'PodDisruptionBudget', 'NetworkPolicy'],
  // custom resources land here (tier 8)
  [],
  ['Ingress', 'Gateway', 'HTTPRoute', 'GRPCRoute', 'TCPRoute', 'TLSRoute', 'VirtualService', 'DestinationRule'],
];
const CUSTOM_TIER = 8;

export function applyTier(kind: string): number {
  const tier = TIERS.findIndex((kinds) => kinds.includes(kind));
  return tier === -1 ? CUSTOM_TIER : tier;
}

/** Objects grouped by tier, tiers in order; within a tier the input order is kept. */
export function orderForApply(objects: readonly KubeObject[]): KubeObject[][] {
  const tiers: KubeObject[][] = TIERS.map(() => []);
  for (const object of objects) tiers[applyTier(object.kind)]!.push(object);
  return tiers.filter((tier) => tier.length > 0);
}
