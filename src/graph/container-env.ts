import type { KubeObject } from '../kube/object.js';
import { expandKubeletVars } from '../util/kubelet-env.js';
import { nodeId, type NodeId } from './model.js';
import type { ContainerLike, PodSpecLike } from './pod-spec.js';
import { isCredentialKey, isHostKey } from './service-refs.js';

/**
 * What `$(VAR)` becomes when VAR is a credential (`$(DB_PASSWORD)`) or a Secret value under
 * no address key: its text is never looked at, so no piece of it can be taken for a host.
 */
const MASK = '********';

/**
 * The text a container is configured with, as the kubelet would hand it over (envFrom first,
 * then env in order, `$(VAR)` expanded against what is defined so far and the Service
 * variables; `command`/`args` expanded against the whole environment), each piece with where
 * it came from, so an address found in it can name its evidence.
 */
export interface ConfiguredValue {
  /** The expanded text. */
  text: string;
  channel: 'env' | 'command';
  /** The env var's name (for envFrom, prefix + key), or `command[i]`/`args[i]`. */
  name: string;
  container: string;
  /** The object holding the text: the workload itself, or the ConfigMap/Secret it loads. */
  object: NodeId;
  /** `spec.template.spec.containers[app].env[URL]`, `ConfigMap shop/settings data.CALLS via envFrom (containers[app])`. */
  field: string;
  /** True when any of the text came from a Secret: such text is read for hosts only. */
  secret: boolean;
  /** The config objects whose values `$(VAR)` put into the text, as `field`s. */
  expandedFrom: string[];
  /** For `command`/`args`: the container's whole expanded command line, where a flag and its value may be two items. */
  commandLine?: string;
}

/** What a value-bearing object holds (Secrets decoded). */
export type ConfigData = (kind: 'ConfigMap' | 'Secret', namespace: string, name: string) => Record<string, string> | undefined;

/** An env var as defined so far; it is also the value handed out (so shared ConfigMaps' entries are built once). */
interface Variable extends ConfiguredValue {
  /** Set for values no manifest wrote an address into (fieldRef): not scanned. */
  unscanned?: boolean;
}

/** Per graph build: the variables an envFrom source gives a container, by source, prefix and container. */
export type EnvFromCache = Map<string, Variable[]>;

/** Where a workload kind keeps its pod spec, for field paths. */
export function podSpecPath(kind: string): string {
  if (kind === 'Pod') return 'spec';
  if (kind === 'CronJob') return 'spec.jobTemplate.spec.template.spec';
  return 'spec.template.spec';
}

/**
 * Every configured value of a workload's containers (init containers too). `serviceLinks`
 * are the kubelet's `{SVC}_SERVICE_HOST`-style variables of the namespace; they are used for
 * expansion only, never scanned themselves.
 */
export function configuredValues(
  workload: KubeObject,
  template: { labels: Record<string, string>; spec: PodSpecLike },
  data: ConfigData,
  serviceLinks: ReadonlyMap<string, string>,
  envFromCache: EnvFromCache = new Map(),
): ConfiguredValue[] {
  // As the graph names objects: a workload handed in without a namespace finds its config without one too.
  const namespace = workload.metadata.namespace ?? '';
  const self = nodeId(workload.kind, workload.metadata.namespace, workload.metadata.name);
  const base = podSpecPath(workload.kind);
  const links = template.spec.enableServiceLinks === false ? new Map<string, string>() : serviceLinks;
  const values: ConfiguredValue[] = [];
  const groups: Array<['initContainers' | 'containers', ContainerLike[] | undefined]> = [['initContainers', template.spec.initContainers], ['containers', template.spec.containers]];
  for (const [list, containers] of groups) {
    for (const container of containers ?? []) {
      const name = container.name ?? '?';
      const at = `${list}[${name}]`;
      const env = new Map<string, Variable>();
      const expand = (text: string, used: Variable[]) => expandKubeletVars(text, (variable) => {
        const own = env.get(variable);
        if (own) {
          used.push(own);
          return isCredentialKey(variable) || (own.secret && !isHostKey(variable)) ? MASK : own.text;
        }
        return links.get(variable);
      });

      for (const source of (Array.isArray(container.envFrom) ? container.envFrom : []) as Array<Record<string, any>>) {
        const kind = source?.configMapRef ? 'ConfigMap' : source?.secretRef ? 'Secret' : undefined;
        const ref = source?.configMapRef ?? source?.secretRef;
        if (!kind || typeof ref?.name !== 'string') continue;
        const prefix = typeof source.prefix === 'string' ? source.prefix : '';
        const cacheKey = `${kind}\u0000${namespace}\u0000${ref.name}\u0000${prefix}\u0000${at}`;
        let variables = envFromCache.get(cacheKey);
        if (!variables) {
          const object = nodeId(kind, namespace, ref.name);
          variables = Object.entries(data(kind, namespace, ref.name) ?? {}).map(([key, value]): Variable => ({
            text: value,
            channel: 'env',
            name: `${prefix}${key}`,
            container: name,
            object,
            field: `${kind} ${namespace ? `${namespace}/` : ''}${ref.name} data.${key} via envFrom${prefix ? ` prefix ${prefix}` : ''} (${at})`,
            secret: kind === 'Secret',
            expandedFrom: [],
          }));
          envFromCache.set(cacheKey, variables);
        }
        for (const variable of variables) env.set(variable.name, variable);
      }

      for (const variable of container.env ?? []) {
        if (typeof variable?.name !== 'string') continue;
        const field = `${base}.${at}.env[${variable.name}]`;
        const own = { channel: 'env' as const, name: variable.name, container: name };
        if (typeof variable.value === 'string') {
          const used: Variable[] = [];
          const text = expand(variable.value, used);
          env.set(variable.name, { ...own, text, object: self, field, secret: used.some((u) => u.secret), expandedFrom: fieldsOf(used) });
          continue;
        }
        const from = variable.valueFrom as Record<string, any> | undefined;
        const keyRef = from?.configMapKeyRef ?? from?.secretKeyRef;
        if (keyRef && typeof keyRef.name === 'string' && typeof keyRef.key === 'string') {
          const kind = from?.configMapKeyRef ? 'ConfigMap' : 'Secret';
          const text = data(kind, namespace, keyRef.name)?.[keyRef.key];
          if (text === undefined) continue;
          const via = kind === 'ConfigMap' ? 'configMapKeyRef' : 'secretKeyRef';
          env.set(variable.name, {
            ...own,
            text,
            object: nodeId(kind, namespace, keyRef.name),
            field: `${kind} ${namespace ? `${namespace}/` : ''}${keyRef.name} data.${keyRef.key} via ${via} (${field})`,
            secret: kind === 'Secret',
            expandedFrom: [],
          });
          continue;
        }
        const fieldPath = from?.fieldRef?.fieldPath;
        const text = typeof fieldPath === 'string' ? fieldValue(fieldPath, namespace || 'default', template.labels) : undefined;
        if (text !== undefined) env.set(variable.name, { ...own, text, object: self, field, secret: false, unscanned: true, expandedFrom: [] });
      }

      for (const entry of env.values()) if (!entry.unscanned) values.push(entry);
      const line: ConfiguredValue[] = [];
      for (const part of ['command', 'args'] as const) {
        const items = container[part];
        if (!Array.isArray(items)) continue;
        items.forEach((item, i) => {
          if (typeof item !== 'string') return;
          const used: Variable[] = [];
          const text = expand(item, used);
          line.push({ text, channel: 'command', name: `${part}[${i}]`, container: name, object: self, field: `${base}.${at}.${part}[${i}]`, secret: used.some((u) => u.secret), expandedFrom: fieldsOf(used) });
        });
      }
      const commandLine = line.map((value) => value.text).join(' ');
      line.forEach((value, i) => {
        // The item after `--password` is a credential: never read.
        const previous = i > 0 ? line[i - 1]!.text.trim().split(/\s+/).pop()! : '';
        if (/^--?[a-z][a-z0-9_.-]*$/i.test(previous) && isCredentialKey(previous.replace(/^-+/, ''))) return;
        values.push({ ...value, commandLine });
      });
    }
  }
  return values;
}

function fieldsOf(used: Variable[]): string[] {
  return [...new Set(used.filter((u) => u.object.startsWith('ConfigMap/') || u.object.startsWith('Secret/')).map((u) => u.field))];
}

/** The downward-API fields known from a manifest (the pod's name and IPs are not). */
function fieldValue(path: string, namespace: string, labels: Record<string, string>): string | undefined {
  if (path === 'metadata.namespace') return namespace;
  const label = /^metadata\.labels\['(.+)'\]$/.exec(path);
  return label ? labels[label[1]!] : undefined;
}

/**
 * The kubelet's Service variables for a namespace (`REDIS_CART_SERVICE_HOST`, `…_SERVICE_PORT`,
 * `…_PORT=tcp://host:port`, …), with the Service's DNS name standing in for its ClusterIP so
 * an expanded value still names the Service.
 */
export function serviceLinkVariables(services: readonly KubeObject[], clusterDomain = 'cluster.local'): Map<string, string> {
  const variables = new Map<string, string>();
  for (const service of services) {
    const spec = (service.spec ?? {}) as Record<string, any>;
    if (spec.type === 'ExternalName' || spec.clusterIP === 'None') continue;
    const prefix = service.metadata.name.toUpperCase().replace(/-/g, '_');
    const host = `${service.metadata.name}.${service.metadata.namespace ?? 'default'}.svc.${clusterDomain}`;
    variables.set(`${prefix}_SERVICE_HOST`, host);
    const ports = (Array.isArray(spec.ports) ? spec.ports : []) as Array<Record<string, any>>;
    ports.forEach((port, i) => {
      if (typeof port?.port !== 'number') return;
      const protocol = typeof port.protocol === 'string' ? port.protocol.toUpperCase() : 'TCP';
      const url = `${protocol.toLowerCase()}://${host}:${port.port}`;
      if (i === 0) {
        variables.set(`${prefix}_SERVICE_PORT`, String(port.port));
        variables.set(`${prefix}_PORT`, url);
      }
      if (typeof port.name === 'string' && port.name !== '') variables.set(`${prefix}_SERVICE_PORT_${port.name.toUpperCase().replace(/-/g, '_')}`, String(port.port));
      const docker = `${prefix}_PORT_${port.port}_${protocol}`;
      variables.set(docker, url);
      variables.set(`${docker}_PROTO`, protocol.toLowerCase());
      variables.set(`${docker}_PORT`, String(port.port));
      variables.set(`${docker}_ADDR`, host);
    });
  }
  return variables;
}
