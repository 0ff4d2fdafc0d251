import { FerryError } from '../../util/errors.js';
import type { KubeClient } from '../../kube/client.js';
import type { KubeObject } from '../../kube/object.js';
import type { Side } from '../provider.js';

export const FIELD_MANAGER = 'ferry';

/** The clients of the clusters a Kubernetes way writes to, as the run environment builds them. */
export type ClusterClients = Partial<Record<Side, KubeClient>>;

export function clientsFor(clusters: ClusterClients, wanted: readonly Side[], type: string): Array<{ side: Side; client: KubeClient }> {
  return wanted.map((side) => {
    const client = clusters[side];
    if (!client) {
      throw new FerryError('config', `data.clientAccess (${type}) writes to the ${side} cluster, but no client for it was given`, {
        location: { field: 'data.clientAccess.clusters' },
        fix: `list only clusters the plan names in data.clientAccess.clusters, or give spec.${side}.context`,
      });
    }
    return { side, client };
  });
}

/** REST path of a namespaced object. */
export function objectPath(apiVersion: string, plural: string, namespace: string, name: string): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return `${base}/namespaces/${encodeURIComponent(namespace)}/${plural}/${encodeURIComponent(name)}`;
}

export async function getObject(client: KubeClient, path: string): Promise<KubeObject | undefined> {
  try {
    return await client.request<KubeObject>({ path });
  } catch (error) {
    if (error instanceof FerryError && error.code === 'http-404') return undefined;
    throw error;
  }
}

/** Server-side apply as field manager `ferry`, taking over the fields it sends. */
export function applyObject(client: KubeClient, path: string, object: KubeObject): Promise<KubeObject> {
  return client.request<KubeObject>({
    method: 'PATCH',
    path,
    query: { fieldManager: FIELD_MANAGER, force: true },
    body: JSON.stringify(object),
    contentType: 'application/apply-patch+yaml',
  });
}
