/**
 * The built-in kinds Ferry understands without asking a server, per group/version, with
 * their scope. Used to reject misspelt kinds in exported YAML and to know which objects are
 * cluster-scoped. Custom resources are accepted when their group is not built in.
 */
export interface BuiltinKind {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

const table: Array<[string, string, Array<[string, string, boolean]>]> = [
  ['', 'v1', [
    ['Namespace', 'namespaces', false], ['Node', 'nodes', false], ['PersistentVolume', 'persistentvolumes', false],
    ['Pod', 'pods', true], ['Service', 'services', true], ['Endpoints', 'endpoints', true], ['ConfigMap', 'configmaps', true],
    ['Secret', 'secrets', true], ['ServiceAccount', 'serviceaccounts', true], ['PersistentVolumeClaim', 'persistentvolumeclaims', true],
    ['ReplicationController', 'replicationcontrollers', true], ['LimitRange', 'limitranges', true], ['ResourceQuota', 'resourcequotas', true],
    ['Event', 'events', true], ['PodTemplate', 'podtemplates', true],
  ]],
  ['apps', 'v1', [
    ['Deployment', 'deployments', true], ['StatefulSet', 'statefulsets', true], ['DaemonSet', 'daemonsets', true],
    ['ReplicaSet', 'replicasets', true], ['ControllerRevision', 'controllerrevisions', true],
  ]],
  ['batch', 'v1', [['Job', 'jobs', true], ['CronJob', 'cronjobs', true]]],
  ['networking.k8s.io', 'v1', [['Ingress', 'ingresses', true], ['IngressClass', 'ingressclasses', false], ['NetworkPolicy', 'networkpolicies', true]]],
  ['policy', 'v1', [['PodDisruptionBudget', 'poddisruptionbudgets', true]]],
  ['autoscaling', 'v1', [['HorizontalPodAutoscaler', 'horizontalpodautoscalers', true]]],
  ['autoscaling', 'v2', [['HorizontalPodAutoscaler', 'horizontalpodautoscalers', true]]],
  ['storage.k8s.io', 'v1', [['StorageClass', 'storageclasses', false], ['CSIDriver', 'csidrivers', false], ['VolumeAttachment', 'volumeattachments', false]]],
  ['rbac.authorization.k8s.io', 'v1', [
    ['Role', 'roles', true], ['RoleBinding', 'rolebindings', true], ['ClusterRole', 'clusterroles', false], ['ClusterRoleBinding', 'clusterrolebindings', false],
  ]],
  ['coordination.k8s.io', 'v1', [['Lease', 'leases', true]]],
  ['discovery.k8s.io', 'v1', [['EndpointSlice', 'endpointslices', true]]],
  ['apiextensions.k8s.io', 'v1', [['CustomResourceDefinition', 'customresourcedefinitions', false]]],
  ['scheduling.k8s.io', 'v1', [['PriorityClass', 'priorityclasses', false]]],
  ['admissionregistration.k8s.io', 'v1', [
    ['ValidatingWebhookConfiguration', 'validatingwebhookconfigurations', false], ['MutatingWebhookConfiguration', 'mutatingwebhookconfigurations', false],
  ]],
];

export const BUILTIN_KINDS: readonly BuiltinKind[] = table.flatMap(([group, version, kinds]) =>
  kinds.map(([kind, plural, namespaced]) => ({ group, version, kind, plural, namespaced })),
);

const builtinGroups = new Set(BUILTIN_KINDS.map((k) => k.group));
// Older group/versions that real clusters and charts still carry; accepted on read so
// preflight can flag them with their replacement instead of failing to load.
const legacyGroups = new Set(['extensions', 'policy', 'autoscaling', 'networking.k8s.io', 'batch', 'apps', 'storage.k8s.io', 'rbac.authorization.k8s.io', 'apiextensions.k8s.io', 'discovery.k8s.io', 'coordination.k8s.io', 'scheduling.k8s.io', 'admissionregistration.k8s.io']);

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export function findBuiltinKind(apiVersion: string, kind: string): BuiltinKind | undefined {
  const { group, version } = splitApiVersion(apiVersion);
  return BUILTIN_KINDS.find((k) => k.group === group && k.version === version && k.kind === kind)
    ?? BUILTIN_KINDS.find((k) => k.group === group && k.kind === kind);
}

/** True when the group is a built-in one, so an unknown kind in it is a mistake rather than a custom resource. */
export function isBuiltinGroup(apiVersion: string): boolean {
  const { group } = splitApiVersion(apiVersion);
  return builtinGroups.has(group) || legacyGroups.has(group);
}

/** Built-in kinds of the group, for "did you mean" fixes. */
export function kindsOfGroup(apiVersion: string): string[] {
  const { group } = splitApiVersion(apiVersion);
  return [...new Set(BUILTIN_KINDS.filter((k) => k.group === group).map((k) => k.kind))].sort();
}
