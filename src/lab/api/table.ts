/**
 * The `Table` rendering kubectl asks for (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`),
 * so `kubectl get` prints the columns it prints against a real cluster. Pure apart from the clock.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables
 */
import type { KubeObject } from '../../kube/object.js';
import type { PrinterColumn, ResourceType } from './registry.js';

type Obj = Record<string, any>;
type Column = { name: string; type: string; format?: string; priority?: number; description?: string; cell: (object: Obj, now: number) => unknown };

const age: Column = { name: 'Age', type: 'string', cell: (object, now) => humanAge(object.metadata?.creationTimestamp, now) };
const name: Column = { name: 'Name', type: 'string', format: 'name', cell: (object) => object.metadata?.name };

const columns: Record<string, Column[]> = {
  Pod: [name,
    { name: 'Ready', type: 'string', cell: (o) => `${(o.status?.containerStatuses ?? []).filter((c: Obj) => c.ready).length}/${(o.spec?.containers ?? []).length}` },
    { name: 'Status', type: 'string', cell: (o) => (o.metadata?.deletionTimestamp ? 'Terminating' : podReason(o)) },
    { name: 'Restarts', type: 'string', cell: (o) => String((o.status?.containerStatuses ?? []).reduce((sum: number, c: Obj) => sum + (c.restartCount ?? 0), 0)) },
    age,
    { name: 'IP', type: 'string', priority: 1, cell: (o) => o.status?.podIP ?? '<none>' },
    { name: 'Node', type: 'string', priority: 1, cell: (o) => o.spec?.nodeName ?? '<none>' }],
  Deployment: [name,
    { name: 'Ready', type: 'string', cell: (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}` },
    { name: 'Up-to-date', type: 'integer', cell: (o) => o.status?.updatedReplicas ?? 0 },
    { name: 'Available', type: 'integer', cell: (o) => o.status?.availableReplicas ?? 0 },
    age,
    { name: 'Containers', type: 'string', priority: 1, cell: (o) => containerNames(o.spec?.template?.spec) },
    { name: 'Images', type: 'string', priority: 1, cell: (o) => containerImages(o.spec?.template?.spec) }],
  ReplicaSet: [name,
    { name: 'Desired', type: 'integer', cell: (o) => o.spec?.replicas ?? 0 },
    { name: 'Current', type: 'integer', cell: (o) => o.status?.replicas ?? 0 },
    { name: 'Ready', type: 'integer', cell: (o) => o.status?.readyReplicas ?? 0 },
    age],
  StatefulSet: [name, { name: 'Ready', type: 'string', cell: (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}` }, age],
  Job: [name,
    { name: 'Status', type: 'string', cell: (o) => jobStatus(o) },
    { name: 'Completions', type: 'string', cell: (o) => `${o.status?.succeeded ?? 0}/${o.spec?.completions ?? 1}` },
    age],
  Service: [name,
    { name: 'Type', type: 'string', cell: (o) => o.spec?.type ?? 'ClusterIP' },
    { name: 'Cluster-IP', type: 'string', cell: (o) => o.spec?.clusterIP ?? '<none>' },
    { name: 'External-IP', type: 'string', cell: (o) => (o.status?.loadBalancer?.ingress ?? []).map((i: Obj) => i.ip ?? i.hostname).join(',') || (o.spec?.type === 'LoadBalancer' ? '<pending>' : '<none>') },
    { name: 'Port(s)', type: 'string', cell: (o) => (o.spec?.ports ?? []).map((p: Obj) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',') || '<none>' },
    age],
  Endpoints: [name, { name: 'Endpoints', type: 'string', cell: (o) => endpointsText(o) }, age],
  ConfigMap: [name, { name: 'Data', type: 'integer', cell: (o) => Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length }, age],
  Secret: [name, { name: 'Type', type: 'string', cell: (o) => o.type ?? 'Opaque' }, { name: 'Data', type: 'integer', cell: (o) => Object.keys(o.data ?? {}).length }, age],
  ServiceAccount: [name, { name: 'Secrets', type: 'integer', cell: (o) => (o.secrets ?? []).length }, age],
  Namespace: [name, { name: 'Status', type: 'string', cell: (o) => o.status?.phase ?? 'Active' }, age],
  Node: [name, { name: 'Status', type: 'string', cell: () => 'Ready' }, { name: 'Roles', type: 'string', cell: () => 'control-plane' }, age,
    { name: 'Version', type: 'string', cell: (o) => o.status?.nodeInfo?.kubeletVersion ?? '' }],
  PersistentVolumeClaim: [name,
    { name: 'Status', type: 'string', cell: (o) => o.status?.phase ?? 'Pending' },
    { name: 'Volume', type: 'string', cell: (o) => o.spec?.volumeName ?? '' },
    { name: 'Capacity', type: 'string', cell: (o) => o.status?.capacity?.storage ?? '' },
    { name: 'Access Modes', type: 'string', cell: (o) => accessModes(o.status?.accessModes) },
    { name: 'StorageClass', type: 'string', cell: (o) => o.spec?.storageClassName ?? '' },
    age],
  PersistentVolume: [name,
    { name: 'Capacity', type: 'string', cell: (o) => o.spec?.capacity?.storage ?? '' },
    { name: 'Access Modes', type: 'string', cell: (o) => accessModes(o.spec?.accessModes) },
    { name: 'Reclaim Policy', type: 'string', cell: (o) => o.spec?.persistentVolumeReclaimPolicy ?? '' },
    { name: 'Status', type: 'string', cell: (o) => o.status?.phase ?? '' },
    { name: 'Claim', type: 'string', cell: (o) => (o.spec?.claimRef ? `${o.spec.claimRef.namespace}/${o.spec.claimRef.name}` : '') },
    { name: 'StorageClass', type: 'string', cell: (o) => o.spec?.storageClassName ?? '' },
    age],
  StorageClass: [name, { name: 'Provisioner', type: 'string', cell: (o) => o.provisioner }, { name: 'ReclaimPolicy', type: 'string', cell: (o) => o.reclaimPolicy ?? 'Delete' },
    { name: 'VolumeBindingMode', type: 'string', cell: (o) => o.volumeBindingMode ?? 'Immediate' }, age],
  CustomResourceDefinition: [name, { name: 'Created At', type: 'date', cell: (o) => o.metadata?.creationTimestamp }],
  // Events read the same in both shapes (core v1 and events.k8s.io/v1, see src/lab/events.ts).
  Event: [
    { name: 'Last Seen', type: 'string', cell: (o, now) => humanAge(o.series?.lastObservedTime ?? o.lastTimestamp ?? o.deprecatedLastTimestamp ?? o.eventTime ?? o.metadata?.creationTimestamp, now) },
    { name: 'Type', type: 'string', cell: (o) => o.type ?? '' },
    { name: 'Reason', type: 'string', cell: (o) => o.reason ?? '' },
    { name: 'Object', type: 'string', cell: (o) => { const ref = o.involvedObject ?? o.regarding ?? {}; return ref.name ? `${String(ref.kind ?? '').toLowerCase()}/${ref.name}` : String(ref.kind ?? '').toLowerCase(); } },
    { name: 'Subobject', type: 'string', priority: 1, cell: (o) => (o.involvedObject ?? o.regarding)?.fieldPath ?? '' },
    { name: 'Source', type: 'string', priority: 1, cell: (o) => { const source = o.source ?? o.deprecatedSource ?? {}; return [source.component ?? o.reportingComponent ?? o.reportingController, source.host ?? o.reportingInstance].filter(Boolean).join(', '); } },
    { name: 'Message', type: 'string', cell: (o) => String(o.message ?? o.note ?? '').trim() },
    { name: 'First Seen', type: 'string', priority: 1, cell: (o, now) => humanAge(o.firstTimestamp ?? o.deprecatedFirstTimestamp ?? o.eventTime, now) },
    { name: 'Count', type: 'integer', priority: 1, cell: (o) => o.series?.count ?? o.count ?? o.deprecatedCount ?? 1 },
    { name: 'Name', type: 'string', priority: 1, cell: (o) => o.metadata?.name }],
};

export function tableColumns(type: ResourceType, version: string): Column[] {
  const known = columns[type.kind];
  if (known && !type.custom) return known;
  const printer = type.custom?.columns[version] ?? [];
  return [name, ...printer.map(printerColumn), ...(printer.some((c) => c.name === 'Age') ? [] : [age])];
}

export interface TableOptions {
  includeObject: 'None' | 'Metadata' | 'Object';
  resourceVersion: string;
  continueToken?: string;
  remainingItemCount?: number;
  now: number;
}

export function toTable(type: ResourceType, version: string, objects: KubeObject[], options: TableOptions, withColumns = true): Obj {
  const cols = tableColumns(type, version);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: options.resourceVersion, ...(options.continueToken ? { continue: options.continueToken } : {}), ...(options.remainingItemCount !== undefined ? { remainingItemCount: options.remainingItemCount } : {}) },
    ...(withColumns ? {
      columnDefinitions: cols.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? c.name, priority: c.priority ?? 0 })),
    } : { columnDefinitions: null }),
    rows: objects.map((object) => ({
      cells: cols.map((c) => c.cell(object as Obj, options.now) ?? ''),
      ...(options.includeObject === 'None' ? {} : {
        object: options.includeObject === 'Object' ? object : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata },
      }),
    })),
  };
}

function printerColumn(column: PrinterColumn): Column {
  return {
    name: column.name, type: column.type, ...(column.format ? { format: column.format } : {}), priority: column.priority ?? 0,
    ...(column.description ? { description: column.description } : {}),
    cell: (object, now) => {
      const value = readJsonPath(object, column.jsonPath);
      if (column.type === 'date' && typeof value === 'string') return humanAge(value, now);
      if (value === undefined || value === null) return null;
      return typeof value === 'object' ? JSON.stringify(value) : value;
    },
  };
}

/** The simple JSONPath forms printer columns use: `.spec.replicas`, `.status.conditions[?(@.type=="Ready")].status`, `.spec.hosts[0]`. */
export function readJsonPath(object: unknown, path: string): unknown {
  const tokens = path.replace(/^\{?\.?/, '').replace(/\}$/, '').match(/[^.[\]]+|\[[^\]]*\]/g) ?? [];
  let current: unknown = object;
  for (const token of tokens) {
    if (current === undefined || current === null) return undefined;
    if (token.startsWith('[')) {
      const inner = token.slice(1, -1);
      const filter = /^\?\(@\.([\w.-]+)\s*==\s*["']([^"']*)["']\)$/.exec(inner);
      if (filter && Array.isArray(current)) current = current.find((item: Obj) => String(item?.[filter[1]!]) === filter[2]);
      else if (/^\d+$/.test(inner) && Array.isArray(current)) current = current[Number(inner)];
      else if (inner === '*' && Array.isArray(current)) current = current.join(',');
      else return undefined;
    } else current = (current as Obj)[token];
  }
  return current;
}

export function humanAge(timestamp: string | undefined, now: number): string {
  if (!timestamp) return '<unknown>';
  const seconds = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return `${minutes}m${seconds % 60 ? `${seconds % 60}s` : ''}`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.floor(hours / 24)}d`;
}

function podReason(pod: Obj): string {
  for (const status of pod.status?.containerStatuses ?? []) {
    const reason = status.state?.waiting?.reason ?? status.state?.terminated?.reason;
    if (reason) return reason;
  }
  return pod.status?.phase ?? 'Pending';
}

function jobStatus(job: Obj): string {
  const conditions: Obj[] = job.status?.conditions ?? [];
  if (conditions.some((c) => c.type === 'Complete' && c.status === 'True')) return 'Complete';
  if (conditions.some((c) => c.type === 'Failed' && c.status === 'True')) return 'Failed';
  return 'Running';
}

function endpointsText(endpoints: Obj): string {
  const items: string[] = [];
  for (const subset of endpoints.subsets ?? []) {
    for (const address of subset.addresses ?? []) for (const port of subset.ports ?? []) items.push(`${address.ip}:${port.port}`);
  }
  if (items.length === 0) return '<none>';
  return items.length > 3 ? `${items.slice(0, 3).join(',')} + ${items.length - 3} more...` : items.join(',');
}

function accessModes(modes: string[] | undefined): string {
  const short: Record<string, string> = { ReadWriteOnce: 'RWO', ReadOnlyMany: 'ROX', ReadWriteMany: 'RWX', ReadWriteOncePod: 'RWOP' };
  return (modes ?? []).map((mode) => short[mode] ?? mode).join(',');
}

function containerNames(spec: Obj | undefined): string {
  return (spec?.containers ?? []).map((c: Obj) => c.name).join(',');
}

function containerImages(spec: Obj | undefined): string {
  return (spec?.containers ?? []).map((c: Obj) => c.image).join(',');
}
