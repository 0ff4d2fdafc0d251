/**
 * Field sets as server-side apply tracks them: every leaf of an object (and every item of
 * a keyed list) named by a path of fieldsV1 elements (`f:spec`, `k:{"name":"web"}`,
 * `v:"x"`), with its value. Encoded into and decoded from `managedFields[].fieldsV1`. Pure.
 * https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management
 */
import { itemKey, type ListTypeResolver } from './list-types.js';

export interface FieldEntry {
  path: string[];
  /** JSON of the leaf value; undefined for list-item membership entries (`k:`), which never conflict. */
  value: string | undefined;
}

/** Path key: elements joined by a separator that cannot occur in JSON text unescaped. */
export const SEP = '\u0001';

export type FieldSet = Map<string, FieldEntry>;

/** The server-owned metadata that no manager owns. */
const SERVER_METADATA = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink']);

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The fields an object sets, excluding apiVersion, kind, server-owned metadata and (when asked) status. */
export function fieldSetOf(object: Record<string, unknown>, resolver: ListTypeResolver, options: { skipStatus?: boolean } = {}): FieldSet {
  const set: FieldSet = new Map();
  for (const [key, value] of Object.entries(object)) {
    if (key === 'apiVersion' || key === 'kind' || (options.skipStatus && key === 'status')) continue;
    if (key === 'metadata' && isPlainObject(value)) {
      for (const [field, child] of Object.entries(value)) {
        if (SERVER_METADATA.has(field)) continue;
        walk(child, ['f:metadata', `f:${field}`], ['metadata', field], resolver, set);
      }
      continue;
    }
    walk(value, [`f:${key}`], [key], resolver, set);
  }
  return set;
}

function walk(value: unknown, path: string[], names: string[], resolver: ListTypeResolver, set: FieldSet): void {
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) {
      add(set, path, '{}');
      return;
    }
    for (const key of keys) walk(value[key], [...path, `f:${key}`], [...names, key], resolver, set);
    return;
  }
  if (Array.isArray(value) && value.length > 0) {
    const listType = resolver(names);
    if (listType.type === 'map') {
      const keys = value.map((item) => itemKey(item, listType.keys));
      if (keys.every((key) => key !== undefined) && new Set(keys).size === keys.length) {
        value.forEach((item, index) => {
          const itemPath = [...path, `k:${keys[index]}`];
          set.set(itemPath.join(SEP), { path: itemPath, value: undefined });
          for (const [field, child] of Object.entries(item as Record<string, unknown>)) {
            walk(child, [...itemPath, `f:${field}`], [...names, field], resolver, set);
          }
        });
        return;
      }
    } else if (listType.type === 'set' && value.every((item) => !isPlainObject(item) && !Array.isArray(item))) {
      for (const item of value) add(set, [...path, `v:${JSON.stringify(item)}`], JSON.stringify(item));
      return;
    }
  }
  add(set, path, JSON.stringify(value));
}

function add(set: FieldSet, path: string[], value: string): void {
  set.set(path.join(SEP), { path, value });
}

/** Encodes path keys as the nested `fieldsV1` object (`.` marks a node that is itself owned and has children). */
export function toFieldsV1(keys: Iterable<string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  const all = [...keys];
  const owned = new Set(all);
  for (const key of all) {
    let node = root;
    const elements = key.split(SEP);
    elements.forEach((element, index) => {
      node[element] ??= {};
      node = node[element] as Record<string, unknown>;
      const prefix = elements.slice(0, index + 1).join(SEP);
      if (index < elements.length - 1 && owned.has(prefix)) node['.'] = {};
    });
  }
  return root;
}

/** Decodes `fieldsV1` back into path keys. */
export function fromFieldsV1(fields: unknown): Set<string> {
  const keys = new Set<string>();
  const visit = (node: unknown, path: string[]) => {
    if (!isPlainObject(node)) return;
    const children = Object.keys(node).filter((key) => key !== '.');
    if (path.length > 0 && (children.length === 0 || '.' in node)) keys.add(path.join(SEP));
    for (const child of children) visit(node[child], [...path, child]);
  };
  visit(fields, []);
  return keys;
}

/** `.spec.template.spec.containers[name="web"].image`, as conflict messages print a path. */
export function describePath(key: string): string {
  return key
    .split(SEP)
    .map((element) => {
      const body = element.slice(2);
      if (element.startsWith('f:')) return `.${body}`;
      if (element.startsWith('k:')) {
        const parsed = JSON.parse(body) as Record<string, unknown>;
        return `[${Object.entries(parsed).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
      }
      if (element.startsWith('v:')) return `[=${body}]`;
      return `[${body}]`;
    })
    .join('');
}
