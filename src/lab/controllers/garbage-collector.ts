/**
 * Garbage collection by ownerReferences (background propagation): when an owner is
 * gone, dependents whose owners are all gone are deleted, which cascades.
 * https://kubernetes.io/docs/concepts/architecture/garbage-collection/
 */
import type { KubeObject } from '../../kube/object.js';
import type { StoreEvent } from '../api/store.js';
import { storageKey } from '../api/registry.js';
import { ControllerClient } from './client.js';
import type { Controller } from './manager.js';

export function garbageCollector(client: ControllerClient): Controller {
  const service = client.service;
  // owner uid → dependents (resource|namespace|name), maintained from store events.
  const dependents = new Map<string, Set<string>>();
  const uids = new Set<string>();
  const index = (event: StoreEvent) => {
    const id = `${event.resource}|${event.object.metadata.namespace ?? ''}|${event.object.metadata.name}`;
    for (const ref of event.previous?.metadata.ownerReferences ?? []) dependents.get(ref.uid)?.delete(id);
    if (event.type === 'DELETED') {
      if (event.object.metadata.uid) uids.delete(event.object.metadata.uid);
      return;
    }
    if (event.object.metadata.uid) uids.add(event.object.metadata.uid);
    for (const ref of event.object.metadata.ownerReferences ?? []) {
      const set = dependents.get(ref.uid) ?? new Set<string>();
      set.add(id);
      dependents.set(ref.uid, set);
    }
  };
  for (const resource of service.store.resources()) {
    for (const object of service.store.list(resource)) index({ type: 'ADDED', resource, resourceVersion: 0, object });
  }
  return {
    name: 'garbage-collector',
    keysFor(event) {
      index(event);
      if (event.type === 'DELETED' && event.object.metadata.uid && dependents.has(event.object.metadata.uid)) return [event.object.metadata.uid];
      return [];
    },
    reconcile(uid) {
      const ids = [...(dependents.get(uid) ?? [])];
      dependents.delete(uid);
      for (const id of ids) {
        const [resource, namespace, name] = id.split('|') as [string, string, string];
        const [group, plural] = resource.split('/') as [string, string];
        const type = service.registry.get(group, plural);
        if (!type) continue;
        const object: KubeObject | undefined = service.store.get(storageKey(group, plural), namespace || undefined, name);
        if (!object) continue;
        if ((object.metadata.ownerReferences ?? []).some((ref) => uids.has(ref.uid))) continue;
        client.delete(object);
      }
    },
  };
}
