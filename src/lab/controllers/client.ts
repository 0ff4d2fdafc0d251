/**
 * What controllers use to read and write objects: the same ObjectService the API uses
 * (so defaulting, validation, resourceVersion and managedFields apply), under the
 * `kube-controller-manager` field manager.
 */
import type { KubeObject } from '../../kube/object.js';
import type { ObjectService } from '../api/objects.js';
import { storageKey } from '../api/registry.js';
import { deepEqual } from '../api/equal.js';
import { ApiError } from '../api/status.js';

export const MANAGER = 'kube-controller-manager';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastUpdateTime?: string;
}

export class ControllerClient {
  constructor(readonly service: ObjectService) {}

  now(): string {
    return this.service.timestamp();
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.service.find(this.service.typeOf(apiVersion, kind), namespace, name);
  }

  list(apiVersion: string, kind: string, namespace?: string): KubeObject[] {
    const type = this.service.typeOf(apiVersion, kind);
    return this.service.store.list(storageKey(type.group, type.plural), namespace);
  }

  create(object: KubeObject): KubeObject {
    const type = this.service.typeOf(object.apiVersion, object.kind);
    return this.service.create(type, versionOf(object.apiVersion), object.metadata.namespace, object, { fieldManager: MANAGER }).object;
  }

  update(object: KubeObject): KubeObject {
    const type = this.service.typeOf(object.apiVersion, object.kind);
    return this.service.update(type, versionOf(object.apiVersion), object.metadata.namespace, object.metadata.name, object, { fieldManager: MANAGER }).object;
  }

  /** Writes status only when it differs from what is stored (no write, no event, no loop). */
  setStatus(object: KubeObject, status: Record<string, unknown>): KubeObject {
    if (deepEqual(object.status, status)) return object;
    const type = this.service.typeOf(object.apiVersion, object.kind);
    const next = { ...object, status };
    return this.service.update(type, versionOf(object.apiVersion), object.metadata.namespace, object.metadata.name, next, { fieldManager: MANAGER, subresource: 'status' }).object;
  }

  delete(object: KubeObject): void {
    try {
      this.service.delete(this.service.typeOf(object.apiVersion, object.kind), object.metadata.namespace, object.metadata.name);
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 404)) throw error;
    }
  }
}

export function versionOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.split('/')[1]! : apiVersion;
}

/** Sets a condition, keeping lastTransitionTime while its status does not change. */
export function setCondition(conditions: Condition[] | undefined, next: Condition, now: string, withUpdateTime = false): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((condition) => condition.type === next.type);
  const previous = index === -1 ? undefined : list[index];
  const same = previous && previous.status === next.status && previous.reason === next.reason && previous.message === next.message;
  const condition: Condition = {
    type: next.type,
    status: next.status,
    ...(withUpdateTime ? { lastUpdateTime: same ? previous.lastUpdateTime ?? now : now } : {}),
    lastTransitionTime: previous && previous.status === next.status ? previous.lastTransitionTime ?? now : now,
    ...(next.reason ? { reason: next.reason } : {}),
    ...(next.message ? { message: next.message } : {}),
  };
  if (index === -1) list.push(condition);
  else list[index] = condition;
  return list;
}

export function isPodReady(pod: KubeObject): boolean {
  const conditions = ((pod.status as { conditions?: Condition[] } | undefined)?.conditions) ?? [];
  return conditions.some((condition) => condition.type === 'Ready' && condition.status === 'True');
}

export function podPhase(pod: KubeObject): string {
  return (pod.status as { phase?: string } | undefined)?.phase ?? 'Pending';
}

export function isActivePod(pod: KubeObject): boolean {
  const phase = podPhase(pod);
  return !pod.metadata.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed';
}

export function controllerOf(object: KubeObject): { kind: string; name: string; uid: string } | undefined {
  return object.metadata.ownerReferences?.find((ref) => ref.controller);
}

export function ownerReference(owner: KubeObject): { apiVersion: string; kind: string; name: string; uid: string; controller: boolean; blockOwnerDeletion: boolean } {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** Short stable hash (FNV-1a) of a JSON value, as pod-template-hash and revisions use. */
export function shortHash(value: unknown): string {
  const text = stableStringify(value);
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = '';
  for (let i = 0; i < 10; i++) {
    out += alphabet[hash % alphabet.length];
    hash = Math.floor(hash / alphabet.length) || Math.imul(hash + i + 1, 2654435761) >>> 0;
  }
  return out;
}

export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value).sort().filter((key) => (value as Record<string, unknown>)[key] !== undefined).map((key) => `${JSON.stringify(key)}:${stableStringify((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
