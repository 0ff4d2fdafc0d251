import type { KubeObject } from '../../kube/object.js';

type Lookup = (kind: 'ConfigMap' | 'Secret', namespace: string, name: string) => KubeObject | undefined | Promise<KubeObject | undefined>;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    configMapKeyRef?: { name: string; key: string };
    secretKeyRef?: { name: string; key: string };
  };
}

interface EnvFrom {
  prefix?: string;
  configMapRef?: { name: string };
  secretRef?: { name: string };
}

/** Only what a process needs from ours; never the test runner's or our own secrets. */
const INHERITED = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER'];

export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * The container's environment as the kubelet builds it: envFrom first, then env in order,
 * `$(VAR)` expanded against what is defined so far (https://kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/).
 * `base` (the Service variables the kubelet adds) comes first, so the manifest may refer to and override it.
 */
export async function containerEnv(pod: KubeObject, container: Record<string, unknown>, lookup: Lookup | undefined, base: Record<string, string> = {}): Promise<Record<string, string>> {
  const namespace = pod.metadata.namespace ?? 'default';
  const env: Record<string, string> = { ...base };
  const dataOf = async (kind: 'ConfigMap' | 'Secret', name: string): Promise<Record<string, string> | undefined> => {
    const object = await lookup?.(kind, namespace, name);
    if (!object) return undefined;
    const data = (object.data ?? {}) as Record<string, string>;
    if (kind === 'ConfigMap') return data;
    const decoded: Record<string, string> = {};
    for (const [key, value] of Object.entries(data)) decoded[key] = Buffer.from(value, 'base64').toString('utf8');
    return { ...decoded, ...((object.stringData ?? {}) as Record<string, string>) };
  };
  for (const source of (container.envFrom ?? []) as EnvFrom[]) {
    const data = source.configMapRef ? await dataOf('ConfigMap', source.configMapRef.name) : source.secretRef ? await dataOf('Secret', source.secretRef.name) : undefined;
    for (const [key, value] of Object.entries(data ?? {})) env[`${source.prefix ?? ''}${key}`] = value;
  }
  for (const variable of (container.env ?? []) as EnvVar[]) {
    if (variable.value !== undefined) {
      env[variable.name] = expand(variable.value, env);
      continue;
    }
    const from = variable.valueFrom;
    let value: string | undefined;
    if (from?.fieldRef) value = fieldValue(pod, from.fieldRef.fieldPath);
    else if (from?.configMapKeyRef) value = (await dataOf('ConfigMap', from.configMapKeyRef.name))?.[from.configMapKeyRef.key];
    else if (from?.secretKeyRef) value = (await dataOf('Secret', from.secretKeyRef.name))?.[from.secretKeyRef.key];
    if (value !== undefined) env[variable.name] = value;
  }
  return env;
}

function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && env[name] !== undefined ? env[name] : match;
  });
}

function fieldValue(pod: KubeObject, path: string): string | undefined {
  const meta = pod.metadata;
  const labelOrAnnotation = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (labelOrAnnotation) return (meta[labelOrAnnotation[1] as 'labels' | 'annotations'] ?? {})[labelOrAnnotation[2] as string];
  switch (path) {
    case 'metadata.name': return meta.name;
    case 'metadata.namespace': return meta.namespace ?? 'default';
    case 'metadata.uid': return meta.uid;
    case 'status.podIP': case 'status.hostIP': return '127.0.0.1';
    case 'spec.nodeName': return ((pod.spec ?? {}) as Record<string, unknown>).nodeName as string | undefined ?? 'lab';
    case 'spec.serviceAccountName': return ((pod.spec ?? {}) as Record<string, unknown>).serviceAccountName as string | undefined ?? 'default';
    default: return undefined;
  }
}
