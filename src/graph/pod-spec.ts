import type { KubeObject } from '../kube/object.js';

/** The kinds whose pods Ferry moves as a unit, and where their pod template lives. */
export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicaSet', 'ReplicationController', 'Pod']);

export interface PodSpecLike {
  containers?: ContainerLike[];
  initContainers?: ContainerLike[];
  volumes?: Array<Record<string, any>>;
  imagePullSecrets?: Array<{ name?: string }>;
  serviceAccountName?: string;
  serviceAccount?: string;
  [key: string]: unknown;
}

export interface ContainerLike {
  name?: string;
  image?: string;
  env?: Array<{ name?: string; value?: string; valueFrom?: Record<string, any> }>;
  envFrom?: Array<{ configMapRef?: { name?: string }; secretRef?: { name?: string } }>;
  [key: string]: unknown;
}

export function isWorkload(object: KubeObject): boolean {
  return WORKLOAD_KINDS.has(object.kind);
}

/** The pod template of a workload (CronJob nests it in its job template). */
export function podTemplate(object: KubeObject): { labels: Record<string, string>; spec: PodSpecLike } | undefined {
  const spec = object.spec as Record<string, any> | undefined;
  if (!spec) return undefined;
  if (object.kind === 'Pod') return { labels: object.metadata.labels ?? {}, spec: spec as PodSpecLike };
  const template = object.kind === 'CronJob' ? spec.jobTemplate?.spec?.template : spec.template;
  if (!template?.spec) return undefined;
  return { labels: template.metadata?.labels ?? {}, spec: template.spec as PodSpecLike };
}

export function allContainers(spec: PodSpecLike): ContainerLike[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
}

export interface PodReference {
  kind: 'ConfigMap' | 'Secret' | 'PersistentVolumeClaim' | 'ServiceAccount';
  name: string;
  via: string;
}

/** Every object a pod spec names: env/envFrom, volumes (incl. projected), pull secrets, service account. */
export function podReferences(spec: PodSpecLike): PodReference[] {
  const references: PodReference[] = [];
  const add = (kind: PodReference['kind'], name: unknown, via: string) => {
    if (typeof name === 'string' && name !== '') references.push({ kind, name, via });
  };
  for (const container of allContainers(spec)) {
    const where = `container ${container.name ?? '?'}`;
    for (const env of container.env ?? []) {
      add('ConfigMap', env.valueFrom?.configMapKeyRef?.name, `${where} env ${env.name}`);
      add('Secret', env.valueFrom?.secretKeyRef?.name, `${where} env ${env.name}`);
    }
    for (const from of container.envFrom ?? []) {
      add('ConfigMap', from.configMapRef?.name, `${where} envFrom`);
      add('Secret', from.secretRef?.name, `${where} envFrom`);
    }
  }
  for (const volume of spec.volumes ?? []) {
    const where = `volume ${volume.name ?? '?'}`;
    add('ConfigMap', volume.configMap?.name, where);
    add('Secret', volume.secret?.secretName, where);
    add('PersistentVolumeClaim', volume.persistentVolumeClaim?.claimName, where);
    for (const source of volume.projected?.sources ?? []) {
      add('ConfigMap', source.configMap?.name, where);
      add('Secret', source.secret?.name, where);
    }
  }
  for (const pull of spec.imagePullSecrets ?? []) add('Secret', pull.name, 'imagePullSecrets');
  add('ServiceAccount', spec.serviceAccountName ?? spec.serviceAccount, 'serviceAccountName');
  return references;
}

/** Plain env values (not valueFrom), where Services are named by DNS. */
export function envValues(spec: PodSpecLike): Array<{ container: string; name: string; value: string }> {
  return allContainers(spec).flatMap((container) =>
    (container.env ?? [])
      .filter((env) => typeof env.value === 'string')
      .map((env) => ({ container: container.name ?? '?', name: env.name ?? '?', value: env.value as string })),
  );
}

export function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** metav1.LabelSelector (matchLabels + matchExpressions) against labels. */
export function labelSelectorMatches(selector: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> } | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const { matchLabels = {}, matchExpressions = [] } = selector;
  if (Object.keys(matchLabels).length === 0 && matchExpressions.length === 0) return false;
  if (!Object.entries(matchLabels).every(([key, value]) => labels[key] === value)) return false;
  return matchExpressions.every(({ key, operator, values = [] }) => {
    const has = Object.hasOwn(labels, key);
    switch (operator) {
      case 'In': return has && values.includes(labels[key]!);
      case 'NotIn': return !has || !values.includes(labels[key]!);
      case 'Exists': return has;
      case 'DoesNotExist': return !has;
      default: return false;
    }
  });
}
