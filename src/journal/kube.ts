import type { KubeClient } from '../kube/client.js';
import { FerryError, isFerryError } from '../util/errors.js';

/** Where Ferry keeps its own objects on a cluster (the run Leases live there too). */
export const FERRY_NAMESPACE = 'ferry-system';

/** GET that answers undefined for a 404 instead of throwing. */
export async function getOrUndefined<T>(client: KubeClient, path: string): Promise<T | undefined> {
  try {
    return await client.request<T>({ path });
  } catch (error) {
    if (isFerryError(error) && error.code === 'http-404') return undefined;
    throw error;
  }
}

/** POST that treats "already exists" as done: someone else created it first. */
export async function createIfAbsent(client: KubeClient, path: string, body: unknown): Promise<void> {
  try {
    await client.request({ method: 'POST', path, body });
  } catch (error) {
    if (!(isFerryError(error) && error.code === 'http-409')) throw error;
  }
}

export async function ensureNamespace(client: KubeClient, namespace: string): Promise<void> {
  if (await getOrUndefined(client, `/api/v1/namespaces/${namespace}`)) return;
  await createIfAbsent(client, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'app.kubernetes.io/managed-by': 'ferry' } } });
}

/** `namespace/name` as given on the command line. */
export function parseObjectRef(value: string, flag: string): { namespace: string; name: string } {
  const match = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(value);
  if (!match) throw new FerryError('usage', `"${value}" is not namespace/name`, { location: { field: flag }, fix: `write it as namespace/name, e.g. ${FERRY_NAMESPACE}/ferry-journal-key` });
  return { namespace: match[1]!, name: match[3]! };
}
