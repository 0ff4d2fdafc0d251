/**
 * The resource types a lab cluster serves: the built-in groups, plus whatever installed
 * CustomResourceDefinitions add. Discovery, routing, tables and validation read it.
 */
export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

export interface ResourceType {
  group: string;
  /** Versions served, the preferred (storage) one first. */
  versions: string[];
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** Has a /status subresource: the main resource ignores status writes and vice versa. */
  status: boolean;
  scale: boolean;
  /** metadata.generation is kept and bumped when anything but metadata/status changes. */
  generation: boolean;
  /** Set for custom resources: the CRD's schema per version and its printer columns. */
  custom?: { crdName: string; schemas: Record<string, unknown | undefined>; columns: Record<string, PrinterColumn[]> };
}

export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

type Row = [kind: string, plural: string, namespaced: boolean, shortNames: string, flags?: string];

// flags: s = status subresource, c = scale subresource, g = generation, a = in category "all".
const builtins: Array<[group: string, versions: string[], rows: Row[]]> = [
  ['', ['v1'], [
    ['Namespace', 'namespaces', false, 'ns', 's'],
    ['Node', 'nodes', false, 'no', 's'],
    ['Pod', 'pods', true, 'po', 'sa'],
    ['Service', 'services', true, 'svc', 'sa'],
    ['Endpoints', 'endpoints', true, 'ep'],
    ['ConfigMap', 'configmaps', true, 'cm'],
    ['Secret', 'secrets', true, ''],
    ['ServiceAccount', 'serviceaccounts', true, 'sa'],
    ['PersistentVolume', 'persistentvolumes', false, 'pv', 's'],
    ['PersistentVolumeClaim', 'persistentvolumeclaims', true, 'pvc', 's'],
    ['Event', 'events', true, 'ev'],
    ['LimitRange', 'limitranges', true, 'limits'],
    ['ResourceQuota', 'resourcequotas', true, 'quota', 's'],
    ['ReplicationController', 'replicationcontrollers', true, 'rc', 'scga'],
  ]],
  ['apps', ['v1'], [
    ['Deployment', 'deployments', true, 'deploy', 'scga'],
    ['ReplicaSet', 'replicasets', true, 'rs', 'scga'],
    ['StatefulSet', 'statefulsets', true, 'sts', 'scga'],
    ['DaemonSet', 'daemonsets', true, 'ds', 'sga'],
    ['ControllerRevision', 'controllerrevisions', true, ''],
  ]],
  ['batch', ['v1'], [
    ['Job', 'jobs', true, '', 'sga'],
    ['CronJob', 'cronjobs', true, 'cj', 'sga'],
  ]],
  ['networking.k8s.io', ['v1'], [
    ['Ingress', 'ingresses', true, 'ing', 's'],
    ['IngressClass', 'ingressclasses', false, ''],
    ['NetworkPolicy', 'networkpolicies', true, 'netpol', 'g'],
  ]],
  ['discovery.k8s.io', ['v1'], [['EndpointSlice', 'endpointslices', true, '']]],
  ['policy', ['v1'], [['PodDisruptionBudget', 'poddisruptionbudgets', true, 'pdb', 'sg']]],
  ['autoscaling', ['v2', 'v1'], [['HorizontalPodAutoscaler', 'horizontalpodautoscalers', true, 'hpa', 'sa']]],
  ['storage.k8s.io', ['v1'], [
    ['StorageClass', 'storageclasses', false, 'sc'],
    ['CSIDriver', 'csidrivers', false, ''],
  ]],
  ['rbac.authorization.k8s.io', ['v1'], [
    ['Role', 'roles', true, ''],
    ['RoleBinding', 'rolebindings', true, ''],
    ['ClusterRole', 'clusterroles', false, ''],
    ['ClusterRoleBinding', 'clusterrolebindings', false, ''],
  ]],
  ['coordination.k8s.io', ['v1'], [['Lease', 'leases', true, '']]],
  ['scheduling.k8s.io', ['v1'], [['PriorityClass', 'priorityclasses', false, 'pc']]],
  ['apiextensions.k8s.io', ['v1'], [['CustomResourceDefinition', 'customresourcedefinitions', false, 'crd,crds', 's']]],
];

export function builtinResourceTypes(): ResourceType[] {
  return builtins.flatMap(([group, versions, rows]) =>
    rows.map(([kind, plural, namespaced, shortNames, flags = '']) => ({
      group,
      versions,
      kind,
      listKind: `${kind}List`,
      plural,
      singular: kind.toLowerCase(),
      namespaced,
      shortNames: shortNames ? shortNames.split(',') : [],
      categories: flags.includes('a') ? ['all'] : [],
      status: flags.includes('s'),
      scale: flags.includes('c'),
      generation: flags.includes('g') || (flags.includes('s') && group !== ''),
    })),
  );
}

/** Looks resource types up by group/plural and by group/version/kind; CRDs add and remove entries. */
export class ResourceRegistry {
  private readonly byPlural = new Map<string, ResourceType>();

  constructor(types: ResourceType[] = builtinResourceTypes()) {
    for (const type of types) this.add(type);
  }

  add(type: ResourceType): void {
    this.byPlural.set(storageKey(type.group, type.plural), type);
  }

  remove(group: string, plural: string): void {
    this.byPlural.delete(storageKey(group, plural));
  }

  get(group: string, plural: string): ResourceType | undefined {
    return this.byPlural.get(storageKey(group, plural));
  }

  /** The type serving `version` of `group` under `plural`, if that version is served. */
  lookup(group: string, version: string, plural: string): ResourceType | undefined {
    const type = this.get(group, plural);
    return type && type.versions.includes(version) ? type : undefined;
  }

  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') as [string, string] : ['', apiVersion];
    for (const type of this.byPlural.values()) {
      if (type.group === group && type.kind === kind && type.versions.includes(version)) return type;
    }
    return undefined;
  }

  all(): ResourceType[] {
    return [...this.byPlural.values()];
  }

  /** Group → versions, in registration order, each group's preferred version first. */
  groups(): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    for (const type of this.byPlural.values()) {
      const versions = groups.get(type.group) ?? [];
      for (const version of type.versions) if (!versions.includes(version)) versions.push(version);
      groups.set(type.group, versions);
    }
    return groups;
  }
}

export function storageKey(group: string, plural: string): string {
  return `${group}/${plural}`;
}

export function apiVersionOf(group: string, version: string): string {
  return group ? `${group}/${version}` : version;
}
