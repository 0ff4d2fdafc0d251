import type { KubeObject } from '../kube/object.js';
import { REDACTED } from './secrets.js';

/** A field whose value applying would change (`before` absent: added; `after` absent: removed). */
export interface FieldChange {
  path: string;
  before?: unknown;
  after?: unknown;
}

export const REDACTED_CHANGED = '<redacted, changed>';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Fields the server writes on every change: they differ between any two reads and say
 * nothing about what the plan wants. Status is not applied either.
 */
const SERVER_FIELDS = ['managedFields', 'resourceVersion', 'generation', 'creationTimestamp', 'uid', 'selfLink'] as const;

/** A copy without server-written fields and status, keys sorted so two reads print alike. */
export function comparable(object: KubeObject): Record<string, unknown> {
  const { status: _status, metadata, ...rest } = object as KubeObject & { status?: unknown };
  const meta: Record<string, unknown> = { ...metadata };
  for (const field of SERVER_FIELDS) delete meta[field];
  return sortKeys({ ...rest, metadata: meta }) as Record<string, unknown>;
}

/**
 * Live and would-be objects for display: a Secret's `data`/`stringData` values become
 * `<redacted>` on both sides, and `<redacted, changed>` on the after side where the value
 * differs — the change shows, the value never does.
 */
export function redactPair(before: Record<string, unknown> | undefined, after: Record<string, unknown>): { before?: Record<string, unknown>; after: Record<string, unknown> } {
  if (after.kind !== 'Secret') return { ...(before ? { before } : {}), after };
  const b = before ? structuredClone(before) : undefined;
  const a = structuredClone(after);
  for (const field of ['data', 'stringData'] as const) {
    const left = (b?.[field] ?? {}) as Record<string, string>;
    const right = (a[field] ?? {}) as Record<string, string>;
    for (const key of Object.keys(right)) right[key] = key in left && left[key] === right[key] ? REDACTED : before && key in left ? REDACTED_CHANGED : REDACTED;
    for (const key of Object.keys(left)) left[key] = REDACTED;
  }
  // `kubectl apply` (client-side) keeps the whole last applied Secret, values included, here.
  for (const side of [b, a]) {
    const annotations = (side?.metadata as { annotations?: Record<string, string> } | undefined)?.annotations;
    if (annotations?.[LAST_APPLIED] !== undefined) annotations[LAST_APPLIED] = REDACTED;
  }
  return { ...(b ? { before: b } : {}), after: a };
}

/** Field-level differences, each leaf path once; arrays of equal length compare item by item. */
export function fieldChanges(before: unknown, after: unknown, path = ''): FieldChange[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => fieldChanges(before[key], after[key], path ? `${path}.${key}` : key));
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((item, i) => fieldChanges(item, after[i], `${path}[${i}]`));
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ path, ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}) }];
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys(value[key])]));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
