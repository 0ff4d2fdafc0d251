/**
 * The non-apply patch types: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
 * Kubernetes strategic merge patch (lists merged by their patch merge key, `$patch`
 * directives). Pure.
 * https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/
 */
import jsonPatch from 'fast-json-patch';
import { badRequest, ApiError } from './status.js';
import { itemKey, type ListTypeResolver } from './list-types.js';
import { isPlainObject } from './field-set.js';

type Obj = Record<string, unknown>;

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const result: Obj = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

export function applyJsonPatch(target: Obj, operations: unknown): Obj {
  if (!Array.isArray(operations)) throw badRequest('json patch must be a list of operations');
  try {
    const copy = structuredClone(target);
    return jsonPatch.applyPatch(copy, operations as jsonPatch.Operation[], true, true).newDocument as Obj;
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${message}`);
  }
}

/**
 * Strategic merge: maps merge, `null` deletes, lists with a merge key merge item by
 * item (`$patch: delete` removes an item, `$patch: replace` replaces the list or map),
 * other lists are replaced. `$setElementOrder`, `$retainKeys` and
 * `$deleteFromPrimitiveList` directives are honoured in their simple forms.
 */
export function strategicMergePatch(target: unknown, patch: unknown, resolver: ListTypeResolver, names: string[] = []): unknown {
  if (!isPlainObject(patch)) return patch;
  if (patch.$patch === 'replace') return stripDirectives(patch);
  if (patch.$patch === 'delete') return undefined;
  const result: Obj = isPlainObject(target) ? { ...target } : {};
  const retain = Array.isArray(patch.$retainKeys) ? new Set(patch.$retainKeys as string[]) : undefined;
  if (retain) for (const key of Object.keys(result)) if (!retain.has(key)) delete result[key];
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys' || key.startsWith('$setElementOrder/')) continue;
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      const drop = new Set((value as unknown[]).map((item) => JSON.stringify(item)));
      if (Array.isArray(result[field])) result[field] = (result[field] as unknown[]).filter((item) => !drop.has(JSON.stringify(item)));
      continue;
    }
    if (value === null) {
      delete result[key];
      continue;
    }
    const path = [...names, key];
    if (Array.isArray(value)) {
      result[key] = mergeList(result[key], value, resolver, path);
      continue;
    }
    const merged = strategicMergePatch(result[key], value, resolver, path);
    if (merged === undefined) delete result[key];
    else result[key] = merged;
  }
  return result;
}

function mergeList(target: unknown, patch: unknown[], resolver: ListTypeResolver, path: string[]): unknown[] {
  const listType = resolver(path);
  const live = Array.isArray(target) ? target : [];
  if (patch.some((item) => isPlainObject(item) && item.$patch === 'replace')) {
    return patch.filter((item) => !(isPlainObject(item) && item.$patch === 'replace')).map(stripDirectives);
  }
  if (listType.type !== 'map') {
    if (listType.type === 'set') {
      const seen = new Set(live.map((item) => JSON.stringify(item)));
      return [...live, ...patch.filter((item) => !seen.has(JSON.stringify(item)))];
    }
    return patch.map(stripDirectives);
  }
  // Strategic merge keys on the first key only (containerPort, port, name…), as patchMergeKey does.
  const keys = listType.keys.slice(0, 1);
  const result = [...live];
  for (const item of patch) {
    const key = itemKey(item, keys);
    if (key === undefined) {
      result.push(stripDirectives(item));
      continue;
    }
    const at = result.findIndex((existing) => itemKey(existing, keys) === key);
    if (isPlainObject(item) && item.$patch === 'delete') {
      if (at !== -1) result.splice(at, 1);
      continue;
    }
    if (at === -1) result.push(stripDirectives(item));
    else result[at] = strategicMergePatch(result[at], item, resolver, path);
  }
  return result;
}

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isPlainObject(value)) return value;
  const result: Obj = {};
  for (const [key, child] of Object.entries(value)) if (!key.startsWith('$')) result[key] = stripDirectives(child);
  return result;
}
