import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import { describeObject } from '../kube/object.js';
import { FerryError } from '../util/errors.js';
import { FIELD_MANAGER } from './apply.js';
import { orderForApply } from './order.js';
import { ResourcePaths } from './resources.js';
import { REDACTED, redactObject, scrub, secretValues } from './secrets.js';

export interface FieldChange {
  path: string;
  before?: unknown;
  after?: unknown;
}

export interface ObjectDiff {
  object: string;
  action: 'create' | 'change' | 'unchanged';
  /** For creations, the object as it would be sent (Secret values redacted). */
  created?: KubeObject;
  changes: FieldChange[];
}

/** Fields the server owns: they differ between any two reads and say nothing about intent. */
const NOISE = new Set(['metadata.managedFields', 'metadata.resourceVersion', 'metadata.generation', 'metadata.creationTimestamp', 'metadata.uid', 'metadata.selfLink', 'status']);

/**
 * What applying the objects would create or change on the target: a server-side apply dry
 * run of each, compared field by field with what is there now. Nothing is changed. Secret
 * values are shown as `<redacted>`.
 */
export async function diffObjects(client: KubeClient, objects: readonly KubeObject[]): Promise<ObjectDiff[]> {
  const paths = new ResourcePaths(client);
  await paths.refresh();
  const secrets = secretValues(objects);
  const diffs: ObjectDiff[] = [];
  for (const object of orderForApply(objects).flat()) {
    const name = describeObject(object);
    try {
      const path = paths.pathOf(object);
      const live = await client.request<KubeObject>({ path }).catch((error: FerryError) => {
        if (error.code === 'http-404') return undefined;
        throw error;
      });
      if (!live) {
        diffs.push({ object: name, action: 'create', created: redactObject(object), changes: [] });
        continue;
      }
      const result = await client.request<KubeObject>({ method: 'PATCH', path, query: { fieldManager: FIELD_MANAGER, dryRun: 'All', force: true }, body: object, contentType: 'application/apply-patch+yaml' });
      const changes = compare(live, result, '', object.kind === 'Secret');
      diffs.push({ object: name, action: changes.length ? 'change' : 'unchanged', changes });
    } catch (error) {
      const failure = error as FerryError;
      throw new FerryError(failure.code ?? 'diff', scrub(failure.message, secrets), { location: { object: name }, fix: failure.fix ?? 'see the message' });
    }
  }
  return diffs;
}

function compare(before: unknown, after: unknown, path: string, secret: boolean): FieldChange[] {
  if (NOISE.has(path)) return [];
  const hidden = secret && /^(data|stringData)(\.|$)/.test(path);
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => compare(before[key], after[key], path ? `${path}.${key}` : key, secret));
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((item, i) => compare(item, after[i], `${path}[${i}]`, secret));
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const show = (value: unknown) => (hidden && value !== undefined ? REDACTED : value);
  return [{ path, ...(before !== undefined ? { before: show(before) } : {}), ...(after !== undefined ? { after: show(after) } : {}) }];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
