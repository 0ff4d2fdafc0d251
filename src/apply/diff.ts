import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import { describeObject } from '../kube/object.js';
import { toYamlText } from '../util/output.js';
import { FerryError } from '../util/errors.js';
import { FIELD_MANAGER } from './apply.js';
import { parseConflicts, type FieldConflict } from './conflicts.js';
import { comparable, fieldChanges, redactPair, type FieldChange } from './field-diff.js';
import { orderForApply } from './order.js';
import { ResourcePaths } from './resources.js';
import { scrub, secretValues } from './secrets.js';
import { unifiedDiff } from './unified.js';

export type { FieldChange } from './field-diff.js';

export interface ObjectDiff {
  object: string;
  /** `invalid`: the server would refuse the object (see `problem`). */
  action: 'create' | 'change' | 'unchanged' | 'invalid';
  /** Field-level changes of an existing object (Secret values `<redacted>`). */
  changes: FieldChange[];
  /** Unified diff of live → after apply as YAML (a creation: every line added). Empty when unchanged. */
  diff: string;
  /** Fields another field manager owns that the apply would change: it needs --force-conflicts. */
  conflicts?: FieldConflict[];
  problem?: string;
}

/**
 * What applying the objects would create or change on the target: a server-side apply dry
 * run (dryRun=All) of each, compared field by field with what is there now, ignoring what
 * the server writes on every change (managedFields, resourceVersion, generation, status).
 * Nothing is changed. Secret values are `<redacted>` in every field and line; they are
 * held in memory only for the length of the call.
 */
export async function diffObjects(client: KubeClient, objects: readonly KubeObject[], options: { concurrency?: number } = {}): Promise<ObjectDiff[]> {
  const paths = new ResourcePaths(client);
  await paths.refresh();
  const ordered = orderForApply(objects).flat();
  const diffs: ObjectDiff[] = new Array(ordered.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < ordered.length; i = next++) diffs[i] = await diffOne(client, paths, ordered[i]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 8, ordered.length)) }, worker));
  return diffs;
}

async function diffOne(client: KubeClient, paths: ResourcePaths, object: KubeObject): Promise<ObjectDiff> {
  const name = describeObject(object);
  let secrets = secretValues([object]);
  const clean = (text: string) => scrub(text, secrets);
  let path: string;
  try {
    path = paths.pathOf(object);
  } catch (error) {
    // A kind the target does not serve yet (its CRD is in the same plan) is still a creation.
    if (!(error instanceof FerryError) || object.kind === 'CustomResourceDefinition') throw error;
    return creation(name, object, clean);
  }
  const live = await client.request<KubeObject>({ path }).catch((error: FerryError) => {
    if (error.code === 'http-404') return undefined;
    throw new FerryError(error.code, error.message, { location: { object: name }, fix: error.fix ?? 'see the message from the API server' });
  });
  if (live) secrets = secretValues([object, live]);
  const dryRun = (force: boolean) => client.request<KubeObject>({
    method: 'PATCH', path, query: { fieldManager: FIELD_MANAGER, dryRun: 'All', force: force || undefined }, body: object, contentType: 'application/apply-patch+yaml',
  });
  let conflicts: FieldConflict[] | undefined;
  let result: KubeObject;
  try {
    result = await dryRun(false).catch(async (error: FerryError) => {
      if (error.code !== 'http-409') throw error;
      // Show what the apply would do once allowed to take the fields over.
      conflicts = parseConflicts(error.message);
      return dryRun(true);
    });
  } catch (error) {
    const failure = error as FerryError;
    // Its namespace does not exist yet: it is created by the same apply, earlier.
    if (!live && failure.code === 'http-404') return creation(name, object, clean);
    return { object: name, action: 'invalid', changes: [], diff: '', problem: clean(failure.message) };
  }
  if (!live) return { ...creation(name, object, clean), ...(conflicts ? { conflicts } : {}) };
  const { before, after } = redactPair(comparable(live), comparable(result));
  const changes = fieldChanges(before, after);
  const diff = changes.length === 0 ? '' : unifiedDiff(toYamlText(before), toYamlText(after), { beforeLabel: `live ${name}`, afterLabel: `after apply ${name}` });
  return {
    object: name,
    action: changes.length > 0 ? 'change' : 'unchanged',
    changes: JSON.parse(clean(JSON.stringify(changes))) as FieldChange[],
    diff: clean(diff),
    ...(conflicts ? { conflicts } : {}),
  };
}

/** A creation shows the object as Ferry would send it. */
function creation(name: string, object: KubeObject, clean: (text: string) => string): ObjectDiff {
  const { after } = redactPair(undefined, comparable(object));
  return { object: name, action: 'create', changes: [], diff: clean(unifiedDiff('', toYamlText(after), { beforeLabel: '/dev/null', afterLabel: `create ${name}` })) };
}
