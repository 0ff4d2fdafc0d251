import type { KubeObject } from '../kube/object.js';
import type { ApiResource, KubeClient } from '../kube/client.js';
import type { KubeConfigOptions } from '../kube/config.js';
import { FerryError } from '../util/errors.js';
import { idOf } from '../graph/model.js';
import { readManifests, type ObjectSource } from './manifests.js';
import { assertObjectShapes } from './shape.js';
import { customScopesFrom, normalizeObject, skipReason, sortObjects, type SkippedObject } from './normalize.js';

export type InventorySource =
  | { kind: 'manifests'; path: string }
  | { kind: 'cluster'; context: string; server: string; version?: string };

/** Everything read from one source: what moves (`objects`), and what was left out and why. */
export interface Inventory {
  source: InventorySource;
  objects: KubeObject[];
  skipped: SkippedObject[];
  /** Cluster-scoped facts reported but never moved: StorageClasses, PVs, IngressClasses, Nodes. */
  clusterObjects: KubeObject[];
}

export interface ManifestOptions {
  manifests: string;
  /** Namespace for namespaced objects that name none (as `kubectl apply -n`). */
  namespace?: string;
}

export function inventoryFromManifests(options: ManifestOptions): Inventory {
  const sourced = readManifests(options.manifests);
  const customScopes = customScopesFrom(sourced.map((entry) => entry.object));
  const seen = new Map<string, ObjectSource>();
  const normalized = sourced.map(({ object, source }) => {
    const result = normalizeObject(object, { defaultNamespace: options.namespace ?? 'default', customScopes, where: source });
    const key = `${result.apiVersion.split('/').length > 1 ? result.apiVersion.split('/')[0] : ''}/${idOf(result)}`;
    const first = seen.get(key);
    if (first) {
      throw new FerryError('manifests', `${idOf(result)} is defined twice (first at ${first.file}:${first.line})`, {
        location: { file: source.file, line: source.line, field: 'metadata.name' },
        fix: 'remove one of the two definitions or rename one',
      });
    }
    seen.set(key, source);
    return result;
  });
  return partition({ kind: 'manifests', path: options.manifests }, normalized);
}

export async function inventoryFromCluster(options: KubeConfigOptions, onProgress?: (done: number, total: number, what: string) => void): Promise<Inventory> {
  // Loaded on demand: the Kubernetes client is large, and planning from YAML never needs it.
  const [{ KubeClient }, { loadKubeConfig }] = await Promise.all([import('../kube/client.js'), import('../kube/config.js')]);
  const client = new KubeClient(loadKubeConfig(options));
  const version = await client.serverVersion();
  const resources = (await client.discoverResources()).filter((resource) => resource.verbs.includes('list'));
  const objects: KubeObject[] = [];
  let done = 0;
  // Bounded concurrency: a few lists in flight keep large clusters fast without flooding the API server.
  const queue = [...resources];
  const worker = async () => {
    for (let resource = queue.shift(); resource; resource = queue.shift()) {
      objects.push(...(await listSafely(client, resource)));
      onProgress?.(++done, resources.length, resource.plural);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return partition({ kind: 'cluster', context: client.contextName, server: client.server, version: version.gitVersion }, objects);
}

async function listSafely(client: KubeClient, resource: ApiResource): Promise<KubeObject[]> {
  try {
    return await client.listAll(resource);
  } catch (error) {
    // A resource the user may not list (403) or an aggregated API that is down (503) must not
    // hide the rest of the inventory; anything else is a real failure.
    if (error instanceof FerryError && (error.code === 'http-403' || error.code === 'http-503' || error.code === 'http-404')) return [];
    throw error;
  }
}

function partition(source: InventorySource, all: KubeObject[]): Inventory {
  // Objects from a live cluster too: custom resources with preserve-unknown-fields can hold anything.
  assertObjectShapes(all);
  const selectorless = new Set(
    all.filter((object) => object.kind === 'Service' && !(object.spec as { selector?: object } | undefined)?.selector)
      .map((object) => `${object.metadata.namespace}/${object.metadata.name}`),
  );
  const objects: KubeObject[] = [];
  const clusterObjects: KubeObject[] = [];
  const skipped: SkippedObject[] = [];
  for (const object of all) {
    const reason = skipReason(object, selectorless);
    if (reason === 'cluster infrastructure') clusterObjects.push(object);
    else if (reason) skipped.push({ id: idOf(object), reason });
    else objects.push(object);
  }
  return { source, objects: sortObjects(objects), clusterObjects: sortObjects(clusterObjects), skipped: skipped.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) };
}
