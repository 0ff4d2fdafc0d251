/**
 * Server-side apply: merge an applied configuration into the live object, track which
 * field manager owns which field, report conflicts with other managers (unless forced),
 * and remove fields a manager stopped applying that nobody else owns. Also records
 * ownership for ordinary updates. Pure.
 * https://kubernetes.io/docs/reference/using-api/server-side-apply/
 */
import { itemKey, type ListTypeResolver } from './list-types.js';
import { SEP, fieldSetOf, fromFieldsV1, isPlainObject, toFieldsV1, describePath, type FieldSet } from './field-set.js';

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

export interface Conflict {
  manager: string;
  apiVersion: string;
  field: string;
}

export class ApplyConflictError extends Error {
  constructor(readonly conflicts: Conflict[]) {
    const lines = conflicts.map((c) => `conflict with "${c.manager}" using ${c.apiVersion}: ${c.field}`);
    super(conflicts.length === 1 ? `Apply failed with 1 conflict: ${lines[0]}` : `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`);
  }
}

type Obj = Record<string, unknown>;

export interface ApplyInput {
  live: Obj | undefined;
  applied: Obj;
  manager: string;
  force: boolean;
  apiVersion: string;
  now: string;
  resolver: ListTypeResolver;
  /** Ignore `status` (resources with a status subresource). */
  skipStatus: boolean;
}

export interface ApplyResult {
  object: Obj;
  managedFields: ManagedFieldsEntry[];
}

export function serverSideApply(input: ApplyInput): ApplyResult {
  const { live, manager, resolver } = input;
  const applied = input.skipStatus ? withoutKey(input.applied, 'status') : input.applied;
  const appliedSet = fieldSetOf(applied, resolver, { skipStatus: input.skipStatus });
  const liveSet = live ? fieldSetOf(live, resolver) : new Map() as FieldSet;
  let entries = readManagedFields(live);
  const isMine = (entry: ManagedFieldsEntry) => entry.manager === manager && entry.operation === 'Apply' && !entry.subresource;

  const conflicts: Conflict[] = [];
  const owned = new Map<ManagedFieldsEntry, Set<string>>(entries.map((entry) => [entry, fromFieldsV1(entry.fieldsV1)]));
  for (const [entry, keys] of owned) {
    if (isMine(entry)) continue;
    for (const [key, field] of appliedSet) {
      if (field.value === undefined || !keys.has(key)) continue;
      if (liveSet.get(key)?.value === field.value) continue;
      conflicts.push({ manager: entry.manager, apiVersion: entry.apiVersion, field: describePath(key) });
      if (input.force) keys.delete(key);
    }
  }
  if (conflicts.length > 0 && !input.force) throw new ApplyConflictError(conflicts);

  let object = mergeApplied(live ?? {}, applied, resolver, []) as Obj;

  const previous = entries.find(isMine);
  const othersOwn = new Set<string>();
  for (const [entry, keys] of owned) {
    if (isMine(entry)) continue;
    for (const key of keys) {
      const parts = key.split(SEP);
      for (let i = 1; i <= parts.length; i++) othersOwn.add(parts.slice(0, i).join(SEP));
    }
  }
  if (previous) {
    const dropped = [...owned.get(previous)!].filter((key) => !appliedSet.has(key) && !othersOwn.has(key));
    for (const key of dropped) object = removePath(object, key.split(SEP), resolver) as Obj;
  }

  entries = entries
    .map((entry) => (isMine(entry) ? entry : { ...entry, fieldsV1: toFieldsV1(owned.get(entry)!) }))
    .filter((entry) => !isMine(entry) && Object.keys(entry.fieldsV1).length > 0);
  entries.unshift({ manager, operation: 'Apply', apiVersion: input.apiVersion, time: input.now, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(appliedSet.keys()) });
  return { object, managedFields: entries };
}

export interface UpdateOwnershipInput {
  old: Obj | undefined;
  updated: Obj;
  manager: string;
  apiVersion: string;
  now: string;
  subresource?: string;
  resolver: ListTypeResolver;
}

/** After a create/update/patch that is not an apply: the manager owns what it changed; others lose it. */
export function recordUpdate(input: UpdateOwnershipInput): ManagedFieldsEntry[] {
  const before = input.old ? fieldSetOf(input.old, input.resolver) : new Map() as FieldSet;
  const after = fieldSetOf(input.updated, input.resolver);
  const changed = new Set<string>();
  for (const [key, field] of after) if (before.get(key)?.value !== field.value || !before.has(key)) changed.add(key);
  const removed = new Set<string>([...before.keys()].filter((key) => !after.has(key)));
  if (changed.size === 0 && removed.size === 0) return readManagedFields(input.updated);
  const subresource = input.subresource;
  const isMine = (entry: ManagedFieldsEntry) => entry.manager === input.manager && entry.operation === 'Update' && entry.subresource === subresource;
  const entries = readManagedFields(input.updated);
  const result: ManagedFieldsEntry[] = [];
  let mine: Set<string> = new Set();
  for (const entry of entries) {
    const keys = fromFieldsV1(entry.fieldsV1);
    if (isMine(entry)) {
      mine = keys;
      continue;
    }
    for (const key of [...keys]) if (changed.has(key) || removed.has(key)) keys.delete(key);
    if (keys.size > 0) result.push({ ...entry, fieldsV1: toFieldsV1(keys) });
  }
  for (const key of changed) mine.add(key);
  for (const key of removed) mine.delete(key);
  if (mine.size > 0) {
    result.push({
      manager: input.manager, operation: 'Update', apiVersion: input.apiVersion, time: input.now, fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1(mine), ...(subresource ? { subresource } : {}),
    });
  }
  return result;
}

export function readManagedFields(object: Obj | undefined): ManagedFieldsEntry[] {
  const metadata = object?.metadata;
  if (!isPlainObject(metadata) || !Array.isArray(metadata.managedFields)) return [];
  return metadata.managedFields as ManagedFieldsEntry[];
}

/** Applied values win; maps merge; keyed lists merge item by item; other lists are replaced. */
export function mergeApplied(live: unknown, applied: unknown, resolver: ListTypeResolver, names: string[]): unknown {
  if (isPlainObject(live) && isPlainObject(applied)) {
    const result: Obj = { ...live };
    for (const [key, value] of Object.entries(applied)) {
      result[key] = key in live ? mergeApplied(live[key], value, resolver, [...names, key]) : value;
    }
    return result;
  }
  if (Array.isArray(live) && Array.isArray(applied)) {
    const listType = resolver(names);
    if (listType.type === 'map') {
      const liveKeys = live.map((item) => itemKey(item, listType.keys));
      const appliedKeys = applied.map((item) => itemKey(item, listType.keys));
      if (appliedKeys.every((key) => key !== undefined)) {
        const result = [...live];
        applied.forEach((item, index) => {
          const at = liveKeys.indexOf(appliedKeys[index]);
          if (at === -1) result.push(item);
          else result[at] = mergeApplied(live[at], item, resolver, names);
        });
        return result;
      }
    }
    if (listType.type === 'set') {
      const seen = new Set(live.map((item) => JSON.stringify(item)));
      return [...live, ...applied.filter((item) => !seen.has(JSON.stringify(item)))];
    }
  }
  return applied;
}

/** Removes the field or list item at a fieldsV1 path; missing paths are left alone. */
export function removePath(value: unknown, path: string[], resolver: ListTypeResolver, names: string[] = []): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string, ...string[]];
  const body = head.slice(2);
  if (head.startsWith('f:') && isPlainObject(value)) {
    if (!(body in value)) return value;
    const copy: Obj = { ...value };
    if (rest.length === 0) delete copy[body];
    else {
      const child = removePath(value[body], rest, resolver, [...names, body]);
      // A list emptied by removing the items a manager stopped applying goes away with them.
      if (Array.isArray(child) && child.length === 0) delete copy[body];
      else copy[body] = child;
    }
    return copy;
  }
  if (Array.isArray(value)) {
    const listType = resolver(names);
    let index = -1;
    if (head.startsWith('k:') && listType.type === 'map') index = value.findIndex((item) => itemKey(item, listType.keys) === body);
    else if (head.startsWith('v:')) index = value.findIndex((item) => JSON.stringify(item) === body);
    if (index === -1) return value;
    const copy = [...value];
    if (rest.length === 0) copy.splice(index, 1);
    else copy[index] = removePath(value[index], rest, resolver, names);
    return copy;
  }
  return value;
}

function withoutKey(object: Obj, key: string): Obj {
  if (!(key in object)) return object;
  const copy = { ...object };
  delete copy[key];
  return copy;
}
