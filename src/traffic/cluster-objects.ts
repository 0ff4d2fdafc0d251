import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '../kube/client-node.js';
import { FerryError } from '../util/errors.js';
import { describeObject, type KubeObject } from '../kube/object.js';

/**
 * What the Kubernetes-object providers (Istio, Gateway API, ingress-nginx) need from a
 * cluster: server-side apply of objects Ferry owns the fields of, a read, a delete.
 */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

export interface ClusterObjects {
  /** Server-side apply with field manager `ferry`, forcing ownership of the fields sent. */
  apply(object: KubeObject): Promise<KubeObject>;
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
  delete(ref: ObjectRef): Promise<void>;
}

export const FIELD_MANAGER = 'ferry';

/** ClusterObjects over the official client's KubernetesObjectApi. */
export function kubeClusterObjects(config: KubeConfig): ClusterObjects {
  const api = KubernetesObjectApi.makeApiClient(config);
  const context = config.getCurrentContext();
  return {
    async apply(object) {
      try {
        return (await api.patch(object as KubernetesObject, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply)) as KubeObject;
      } catch (error) {
        throw clusterError(error, `apply ${describeObject(object)}`, context);
      }
    },
    async get(ref) {
      try {
        return (await api.read({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } })) as KubeObject;
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw clusterError(error, `read ${ref.kind} ${ref.namespace}/${ref.name}`, context);
      }
    },
    async delete(ref) {
      try {
        await api.delete({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } });
      } catch (error) {
        if (statusOf(error) === 404) return;
        throw clusterError(error, `delete ${ref.kind} ${ref.namespace}/${ref.name}`, context);
      }
    },
  };
}

export function refOf(object: KubeObject): ObjectRef {
  return { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace ?? 'default', name: object.metadata.name };
}

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

function clusterError(error: unknown, what: string, context: string): FerryError {
  const status = statusOf(error);
  let message = (error as Error).message ?? String(error);
  const body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? message;
    } catch {
      // keep the client's message
    }
  }
  const fix =
    status === 404 ? 'the resource type is not served: install its CRDs (e.g. Istio or Gateway API) in this cluster'
    : status === 403 ? 'grant the kubeconfig user get/patch on this resource'
    : status === 422 ? 'the object was rejected by the schema: report it as a Ferry bug with the message'
    : 'check the cluster is reachable (for local clusters: `ferry lab up`)';
  return new FerryError(status ? `http-${status}` : 'cluster-unreachable', `cluster "${context}": cannot ${what}: ${message.split('\n')[0]}`, { fix, cause: error });
}
