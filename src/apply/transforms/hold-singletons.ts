/**
 * What must run on one cluster at a time arrives on the target held (issue #22): CronJobs
 * suspended, singleton workloads at 0 replicas (their source count kept in an annotation),
 * each marked `ferry.dev/held` so the switch at cutover (src/run/singletons.ts) knows Ferry
 * holds it — a CronJob the user suspended on the source stays suspended, unmarked, and is
 * never resumed by Ferry. A standalone Job that already completed on the source is not
 * applied (it would run again on the target). Applied by `desiredObjects` to every slice.
 */
import type { KubeObject } from '../../kube/object.js';
import type { Slice } from '../../plan/schema.js';
import { FerryError } from '../../util/errors.js';

/** On a workload (by its owner): it must run on one cluster at a time. */
export const SINGLETON_ANNOTATION = 'ferry.dev/singleton';
/** On a CronJob or workload: Ferry holds it (suspended, or at 0 replicas) until the switch. */
export const HELD_ANNOTATION = 'ferry.dev/held';
/** On a held singleton workload: the replicas it gets when it is switched on. */
export const HELD_REPLICAS_ANNOTATION = 'ferry.dev/held-replicas';

type Obj = Record<string, unknown>;

const SINGLETON_KINDS = new Set(['Deployment', 'StatefulSet', 'ReplicaSet']);

function key(kind: string, namespace: string | undefined, name: string): string {
  return `${kind} ${namespace ?? 'default'}/${name}`;
}

/**
 * The workloads a slice's `singletons` field names (`Kind/name` in the slice's namespace or
 * `Kind/namespace/name`), as `Kind namespace/name`; each must be a scalable workload of the slice.
 */
export function plannedSingletons(slice: Pick<Slice, 'name' | 'namespace' | 'workloads' | 'singletons'>): Set<string> {
  const out = new Set<string>();
  (slice.singletons ?? []).forEach((entry, index) => {
    const parts = entry.split('/');
    const [kind, namespace, name] = parts.length === 3 ? parts : [parts[0]!, slice.namespace, parts[1]!];
    const workload = slice.workloads.find((w) => w.kind === kind && w.name === name && (w.namespace ?? slice.namespace) === namespace);
    if (!workload || !SINGLETON_KINDS.has(kind!)) {
      throw new FerryError('plan', `singletons names ${entry}, which is not a Deployment, StatefulSet or ReplicaSet of the slice`, {
        location: { field: `slice ${slice.name} singletons[${index}]` },
        fix: `name one of the slice's workloads: ${slice.workloads.filter((w) => SINGLETON_KINDS.has(w.kind)).map((w) => `${w.kind}/${w.name}`).join(', ') || '(none)'}`,
      });
    }
    out.add(key(kind!, namespace, name!));
  });
  return out;
}

/** Whether a workload object is a singleton: annotated, or named by its slice's `singletons`. */
export function isSingletonWorkload(object: KubeObject, planned: ReadonlySet<string>): boolean {
  if (!SINGLETON_KINDS.has(object.kind)) return false;
  return object.metadata.annotations?.[SINGLETON_ANNOTATION] === 'true' || planned.has(key(object.kind, object.metadata.namespace, object.metadata.name));
}

/** Whether a Job finished successfully on the source (`status.succeeded` reached its completions). */
export function completedOnSource(object: KubeObject): boolean {
  if (object.kind !== 'Job') return false;
  const succeeded = (object.status as { succeeded?: number } | undefined)?.succeeded ?? 0;
  const completions = ((object.spec as { completions?: number } | undefined)?.completions) ?? 1;
  return succeeded > 0 && succeeded >= completions;
}

function annotate(object: KubeObject, annotations: Record<string, string>): KubeObject['metadata'] {
  return { ...object.metadata, annotations: { ...(object.metadata.annotations ?? {}), ...annotations } };
}

/** One desired object held for the target: a running CronJob suspended, a singleton workload at 0. */
export function holdForTarget(object: KubeObject, planned: ReadonlySet<string>): KubeObject {
  const spec = (object.spec ?? {}) as Obj;
  if (object.kind === 'CronJob' && object.apiVersion.startsWith('batch/')) {
    // The user's own suspend is theirs: not marked, so no switch resumes it.
    if (spec.suspend === true) return object;
    return { ...object, metadata: annotate(object, { [HELD_ANNOTATION]: 'true' }), spec: { ...spec, suspend: true } };
  }
  if (isSingletonWorkload(object, planned)) {
    // A source Ferry already holds (switched away earlier) keeps the count it recorded.
    const recorded = Number(object.metadata.annotations?.[HELD_REPLICAS_ANNOTATION]);
    const replicas = Number.isInteger(recorded) && recorded > 0 ? recorded : typeof spec.replicas === 'number' ? spec.replicas : 1;
    return { ...object, metadata: annotate(object, { [HELD_ANNOTATION]: 'true', [HELD_REPLICAS_ANNOTATION]: String(replicas) }), spec: { ...spec, replicas: 0 } };
  }
  return object;
}

/**
 * The slices' desired objects with singletons held and completed standalone Jobs left out
 * (from both lists, which stay index-aligned).
 */
export function holdSingletons(objects: { original: KubeObject[]; desired: KubeObject[] }, slices: readonly Slice[]): { original: KubeObject[]; desired: KubeObject[] } {
  const planned = new Set(slices.flatMap((slice) => [...plannedSingletons(slice)]));
  const original: KubeObject[] = [];
  const desired: KubeObject[] = [];
  objects.desired.forEach((object, index) => {
    const source = objects.original[index] ?? object;
    if (completedOnSource(source)) return;
    original.push(source);
    desired.push(holdForTarget(object, planned));
  });
  return { original, desired };
}
