import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import type { ClusterObjects, ObjectRef } from '../traffic/cluster-objects.js';
import { FerryError } from '../util/errors.js';
import { BRIDGE_FIELD_MANAGER, type ClusterSide } from './bridge.js';

/** One RFC 6902 operation (`test` makes a patch refuse to act on an object that changed under it). */
export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'test';
  path: string;
  value?: unknown;
}

/**
 * What a bridge needs from one cluster: `ClusterObjects` (server-side apply, get, delete, as
 * the traffic providers use) plus a JSON patch, to take a selector off a Service someone else
 * owns and put it back exactly (server-side apply cannot remove a field another manager owns),
 * and a labelled list.
 */
export interface BridgeObjects extends ClusterObjects {
  /** The kubeconfig context, for messages. */
  readonly context: string;
  patch(ref: ObjectRef, operations: JsonPatchOperation[]): Promise<KubeObject>;
  list(ref: Omit<ObjectRef, 'name'>, labelSelector?: string): Promise<KubeObject[]>;
}

export type BridgeClusters = Record<ClusterSide, BridgeObjects>;

/**
 * The kinds a bridge reads or writes. A fixed table rather than discovery: bridges touch these
 * and nothing else, and an unserved kind (MCS or Istio CRDs missing) then fails with a message
 * naming what to install instead of a discovery miss.
 */
const PLURALS: Record<string, string> = {
  Service: 'services',
  Endpoints: 'endpoints',
  EndpointSlice: 'endpointslices',
  ServiceEntry: 'serviceentries',
  ServiceExport: 'serviceexports',
  ServiceImport: 'serviceimports',
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
  ReplicaSet: 'replicasets',
  Job: 'jobs',
  CronJob: 'cronjobs',
  Pod: 'pods',
};

const CRD_HINTS: Record<string, string> = {
  ServiceEntry: 'install Istio (its CRDs serve networking.istio.io) on this cluster, or choose spec.bridges.provider: endpoints',
  ServiceExport: 'install the Multi-Cluster Services API (Submariner, GKE multi-cluster Services) on this cluster, or choose spec.bridges.provider: endpoints',
  ServiceImport: 'install the Multi-Cluster Services API (Submariner, GKE multi-cluster Services) on this cluster, or choose spec.bridges.provider: endpoints',
};

export function collectionPath(ref: Omit<ObjectRef, 'name'>): string {
  const plural = PLURALS[ref.kind];
  if (!plural) throw new FerryError('internal', `service bridges do not handle ${ref.apiVersion} ${ref.kind}`, { fix: 'report it as a Ferry bug' });
  const base = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
  return `${base}/namespaces/${encodeURIComponent(ref.namespace)}/${plural}`;
}

export function objectPath(ref: ObjectRef): string {
  return `${collectionPath(ref)}/${encodeURIComponent(ref.name)}`;
}

/** BridgeObjects over Ferry's REST client (the official client's authentication). */
export function kubeBridgeObjects(client: KubeClient, fieldManager = BRIDGE_FIELD_MANAGER): BridgeObjects {
  const explain = (error: unknown, ref: Omit<ObjectRef, 'name'> & { name?: string }, what: string): never => {
    // An unserved group answers 404 (the lab's API server: 405 to a write); both mean the CRD is missing.
    if (error instanceof FerryError && (error.code === 'http-404' || error.code === 'http-405') && CRD_HINTS[ref.kind]) {
      throw new FerryError('bridge', `cluster "${client.contextName}" does not serve ${ref.apiVersion} ${ref.kind}: cannot ${what}`, {
        location: { object: `${ref.kind} ${ref.namespace}/${ref.name ?? ''}` },
        fix: CRD_HINTS[ref.kind]!,
        cause: error,
      });
    }
    throw error;
  };
  return {
    context: client.contextName,
    async apply(object) {
      const ref = { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace ?? 'default', name: object.metadata.name };
      try {
        return await client.request<KubeObject>({ method: 'PATCH', path: objectPath(ref), query: { fieldManager, force: true }, body: JSON.stringify(object), contentType: 'application/apply-patch+yaml' });
      } catch (error) {
        return explain(error, ref, 'apply');
      }
    },
    async get(ref) {
      try {
        return await client.request<KubeObject>({ path: objectPath(ref) });
      } catch (error) {
        if (error instanceof FerryError && error.code === 'http-404') {
          // 404 for a missing object and for an unserved kind look alike; a list tells them apart.
          if (CRD_HINTS[ref.kind]) await client.request({ path: collectionPath(ref), query: { limit: 1 } }).catch((listError: unknown) => explain(listError, ref, 'read'));
          return undefined;
        }
        throw error;
      }
    },
    async delete(ref) {
      try {
        await client.request({ method: 'DELETE', path: objectPath(ref) });
      } catch (error) {
        if (error instanceof FerryError && error.code === 'http-404') return;
        throw error;
      }
    },
    async patch(ref, operations) {
      return client.request<KubeObject>({ method: 'PATCH', path: objectPath(ref), query: { fieldManager }, body: JSON.stringify(operations), contentType: 'application/json-patch+json' });
    },
    async list(ref, labelSelector) {
      try {
        const list = await client.request<{ items?: KubeObject[] }>({ path: collectionPath(ref), query: { labelSelector } });
        return (list.items ?? []).map((item) => ({ ...item, apiVersion: ref.apiVersion, kind: ref.kind }));
      } catch (error) {
        return explain(error, ref, 'list');
      }
    },
  };
}

/** `/` and `~` in a JSON pointer segment (label and annotation keys have `/`). */
export function pointerSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
