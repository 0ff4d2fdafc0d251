/**
 * Garbage collection by ownerReferences, as kube-controller-manager's garbage collector
 * does it (https://kubernetes.io/docs/concepts/architecture/garbage-collection/):
 *  - Background: once an owner is gone, dependents whose owners are all gone are deleted
 *    (which cascades);
 *  - Foreground: the owner stays, with deletionTimestamp and the `foregroundDeletion`
 *    finalizer, while its dependents are deleted (themselves in the foreground when they
 *    have dependents); the finalizer goes once no dependent with blockOwnerDeletion is left;
 *  - Orphan: the `orphan` finalizer; dependents lose their ownerReference to the owner and
 *    keep running, then the finalizer goes.
 * The API server adds those finalizers on DELETE (api/objects.ts); removing the last
 * finalizer of an object marked for deletion removes it.
 */
import type { KubeObject } from '../../kube/object.js';
import type { StoreEvent } from '../api/store.js';
import { storageKey } from '../api/registry.js';
import { ApiError } from '../api/status.js';
import { ControllerClient, MANAGER, versionOf } from './client.js';
import type { Controller } from './manager.js';

export const FOREGROUND = 'foregroundDeletion';
export const ORPHAN = 'orphan';

const blocks = (ref: object): boolean => (ref as { blockOwnerDeletion?: boolean }).blockOwnerDeletion === true;

interface Located {
  resource: string;
  namespace: string;
  name: string;
}

export function garbageCollector(client: ControllerClient): Controller {
  const service = client.service;
  // owner uid → dependents (resource|namespace|name), maintained from store events.
  const dependents = new Map<string, Set<string>>();
  // uid → where the object lives, for every object that exists.
  const where = new Map<string, Located>();
  const index = (event: StoreEvent) => {
    const namespace = event.object.metadata.namespace ?? '';
    const id = `${event.resource}|${namespace}|${event.object.metadata.name}`;
    for (const ref of event.previous?.metadata.ownerReferences ?? []) dependents.get(ref.uid)?.delete(id);
    const uid = event.object.metadata.uid;
    if (event.type === 'DELETED') {
      if (uid) where.delete(uid);
      return;
    }
    if (uid) where.set(uid, { resource: event.resource, namespace, name: event.object.metadata.name });
    for (const ref of event.object.metadata.ownerReferences ?? []) {
      const set = dependents.get(ref.uid) ?? new Set<string>();
      set.add(id);
      dependents.set(ref.uid, set);
    }
  };
  for (const resource of service.store.resources()) {
    for (const object of service.store.list(resource)) index({ type: 'ADDED', resource, resourceVersion: 0, object });
  }

  const lookup = (located: Located): KubeObject | undefined => service.store.get(located.resource, located.namespace || undefined, located.name);
  const objectOf = (uid: string): KubeObject | undefined => {
    const located = where.get(uid);
    return located ? lookup(located) : undefined;
  };
  const dependentsOf = (uid: string): KubeObject[] => [...(dependents.get(uid) ?? [])].flatMap((id) => {
    const [resource, namespace, name] = id.split('|') as [string, string, string];
    const object = lookup({ resource, namespace, name });
    return object && (object.metadata.ownerReferences ?? []).some((ref) => ref.uid === uid) ? [object] : [];
  });
  const typeOf = (object: KubeObject) => service.typeOf(object.apiVersion, object.kind);
  const remove = (object: KubeObject, propagationPolicy?: string) => {
    try {
      service.delete(typeOf(object), object.metadata.namespace, object.metadata.name, propagationPolicy ? { propagationPolicy } : {});
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 404)) throw error;
    }
  };
  const rewrite = (object: KubeObject, change: (copy: KubeObject) => void) => {
    const copy = structuredClone(object);
    change(copy);
    service.update(typeOf(object), versionOf(object.apiVersion), object.metadata.namespace, object.metadata.name, copy, { fieldManager: MANAGER });
  };
  const dropFinalizer = (object: KubeObject, finalizer: string) => rewrite(object, (copy) => {
    const left = ((copy.metadata.finalizers as string[] | undefined) ?? []).filter((f) => f !== finalizer);
    if (left.length > 0) copy.metadata.finalizers = left;
    else delete copy.metadata.finalizers;
  });
  const dropOwner = (object: KubeObject, uid: string) => rewrite(object, (copy) => {
    const left = (copy.metadata.ownerReferences ?? []).filter((ref) => ref.uid !== uid);
    if (left.length > 0) copy.metadata.ownerReferences = left;
    else delete copy.metadata.ownerReferences;
  });
  const finalizing = (object: KubeObject | undefined): boolean => {
    const finalizers = (object?.metadata.finalizers as string[] | undefined) ?? [];
    return Boolean(object?.metadata.deletionTimestamp) && (finalizers.includes(FOREGROUND) || finalizers.includes(ORPHAN));
  };
  /** An owner that is neither gone nor going: a dependent of several owners stays for it. */
  const solid = (uid: string): boolean => {
    const owner = objectOf(uid);
    return owner !== undefined && !owner.metadata.deletionTimestamp;
  };

  return {
    name: 'garbage-collector',
    keysFor(event) {
      index(event);
      const keys: string[] = [];
      const uid = event.object.metadata.uid;
      if (uid && event.type === 'DELETED' && dependents.has(uid)) keys.push(uid);
      if (uid && event.type !== 'DELETED' && finalizing(event.object)) keys.push(uid);
      // A dependent went or changed: an owner deleting in the foreground may now be free.
      for (const ref of [...(event.previous?.metadata.ownerReferences ?? []), ...(event.object.metadata.ownerReferences ?? [])]) {
        if (!keys.includes(ref.uid) && finalizing(objectOf(ref.uid))) keys.push(ref.uid);
      }
      return keys;
    },
    reconcile(uid) {
      const owner = objectOf(uid);
      if (!owner) return collectOrphans(uid);
      if (!owner.metadata.deletionTimestamp) return;
      const finalizers = (owner.metadata.finalizers as string[] | undefined) ?? [];
      if (finalizers.includes(ORPHAN)) {
        for (const dependent of dependentsOf(uid)) dropOwner(dependent, uid);
        dropFinalizer(owner, ORPHAN);
        return;
      }
      if (!finalizers.includes(FOREGROUND)) return;
      let blocking = 0;
      for (const dependent of dependentsOf(uid)) {
        const refs = dependent.metadata.ownerReferences ?? [];
        const ref = refs.find((r) => r.uid === uid)!;
        if (refs.some((r) => r.uid !== uid && solid(r.uid))) {
          // Another owner still wants it: it only stops belonging to this one.
          dropOwner(dependent, uid);
          continue;
        }
        if (blocks(ref)) blocking++;
        if (!dependent.metadata.deletionTimestamp) remove(dependent, dependentsOf(dependent.metadata.uid ?? '').length > 0 ? 'Foreground' : 'Background');
      }
      // Dependents removed at once are gone now; ones still finalizing bring us back when they go.
      const left = blocking === 0 ? 0 : dependentsOf(uid).filter((d) => (d.metadata.ownerReferences ?? []).some((r) => r.uid === uid && blocks(r))).length;
      if (left === 0) {
        const current = objectOf(uid);
        if (current) dropFinalizer(current, FOREGROUND);
      }
    },
  };

  /** Background: the owner is gone; delete dependents that no existing owner keeps. */
  function collectOrphans(uid: string): void {
    const ids = [...(dependents.get(uid) ?? [])];
    dependents.delete(uid);
    for (const id of ids) {
      const [resource, namespace, name] = id.split('|') as [string, string, string];
      const [group, plural] = resource.split('/') as [string, string];
      if (!service.registry.get(group, plural)) continue;
      const object = service.store.get(storageKey(group, plural), namespace || undefined, name);
      if (!object) continue;
      if ((object.metadata.ownerReferences ?? []).some((ref) => where.has(ref.uid))) continue;
      remove(object);
    }
  }
}
