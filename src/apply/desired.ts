import type { KubeObject } from '../kube/object.js';
import { readInventory, type Inventory } from '../inventory/index.js';
import type { MigrationPlan, ResourceRef, Slice } from '../plan/schema.js';
import { FerryError } from '../util/errors.js';
import { assertObjectShape } from '../inventory/shape.js';
import { compileTransforms, transformObjects } from './transforms/index.js';
import { holdSingletons } from './transforms/hold-singletons.js';
import { keepAddresses } from '../handover/addresses.js';

/** The objects of (part of) a plan, as the source has them and as they will be applied. */
export interface DesiredObjects {
  original: KubeObject[];
  desired: KubeObject[];
}

/** Reads the plan's source once: exported YAML or the live source cluster. */
export async function readPlanSource(plan: MigrationPlan, options: { kubeconfig?: string } = {}): Promise<Inventory> {
  const source = plan.spec.source;
  const kubeconfig = source.kubeconfig ?? options.kubeconfig;
  return readInventory({
    ...(source.manifests ? { manifests: source.manifests } : {}),
    ...(source.context && !source.manifests ? { context: source.context } : {}),
    ...(kubeconfig ? { kubeconfig } : {}),
  });
}

/**
 * The objects a set of slices applies (with spec.prerequisites when asked), picked from the
 * source inventory and passed through the plan's transforms then each slice's own.
 * A resource the plan lists but the source no longer has is an error naming it.
 */
export function desiredObjects(plan: MigrationPlan, inventory: Inventory, options: { slices?: readonly Slice[]; prerequisites?: boolean } = {}): DesiredObjects {
  const slices = options.slices ?? plan.spec.waves.flatMap((wave) => wave.slices);
  const index = new Map(inventory.objects.concat(inventory.clusterObjects).map((object) => [refKey(object), object]));
  const planTransforms = compileTransforms(plan.spec.transforms);
  const original: KubeObject[] = [];
  const desired: KubeObject[] = [];
  const take = (refs: readonly ResourceRef[], sliceTransforms: ReturnType<typeof compileTransforms>, where: string, keep = false) => {
    const picked = refs.map((ref) => {
      const object = index.get(refKey({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) } }));
      if (!object) {
        const name = `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
        throw new FerryError('plan-source', `listed in the plan but not on the source (${describeSource(plan)})`, {
          location: { object: name, field: where },
          fix: 'regenerate the plan with `ferry plan` (if it was deleted on purpose), or restore it on the source; or remove it from the slice',
        });
      }
      assertObjectShape(object);
      return object;
    });
    original.push(...picked);
    // keepAddresses marks Services before the plan's strip-server-fields would drop their node ports.
    desired.push(...transformObjects(keep ? picked.map(keepAddresses) : picked, [...planTransforms, ...sliceTransforms]));
  };
  if (options.prerequisites) take(plan.spec.prerequisites, [], 'spec.prerequisites');
  for (const slice of slices) take(slice.resources, compileTransforms(slice.transforms ?? [], `slice ${slice.name} transforms`), `slice ${slice.name}`, slice.keepAddresses === true);
  const autoscaled = autoscaledWorkloads(inventory.objects);
  // CronJobs and singleton workloads arrive held; Jobs the source completed are not run again.
  return holdSingletons({ original, desired: desired.map((object) => withReplicasOwnership(object, autoscaled)) }, slices);
}

/** Kinds with spec.replicas that Ferry states, scales down and leaves to an HPA. */
export const SCALABLE_KINDS = new Set(['Deployment', 'StatefulSet', 'ReplicaSet']);

/** `Kind namespace/name`: how workloads are named in the sets below and in run reports. */
export function workloadKey(workload: { kind: string; namespace?: string | undefined; name: string }): string {
  return `${workload.kind} ${workload.namespace ?? 'default'}/${workload.name}`;
}

/** Keys of every workload a HorizontalPodAutoscaler among `objects` scales. */
export function autoscaledWorkloads(objects: readonly KubeObject[]): Set<string> {
  const out = new Set<string>();
  for (const object of objects) {
    if (object.kind !== 'HorizontalPodAutoscaler') continue;
    const target = (object.spec as { scaleTargetRef?: { kind?: string; name?: string } } | undefined)?.scaleTargetRef;
    if (target?.kind && target.name) out.add(workloadKey({ kind: target.kind, namespace: object.metadata.namespace, name: target.name }));
  }
  return out;
}

/**
 * Who owns spec.replicas on the target. An autoscaled workload leaves it to its HPA (applying
 * a count would fight the autoscaler on every apply, as the Kubernetes HPA docs warn); any
 * other workload states it, defaulting to the API's 1, so that Ferry owns it and a re-apply
 * after `ferry rollback` scaled the target to zero brings the pods back.
 */
function withReplicasOwnership(object: KubeObject, autoscaled: Set<string>): KubeObject {
  if (!SCALABLE_KINDS.has(object.kind)) return object;
  const spec = (object.spec ?? {}) as Record<string, unknown>;
  if (autoscaled.has(workloadKey({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name }))) {
    if (!('replicas' in spec)) return object;
    const { replicas: _owned, ...rest } = spec;
    return { ...object, spec: rest };
  }
  return 'replicas' in spec ? object : { ...object, spec: { ...spec, replicas: 1 } };
}

function describeSource(plan: MigrationPlan): string {
  const { manifests, context } = plan.spec.source;
  return manifests ? `manifests ${manifests}` : `context ${context}`;
}

export function findSlice(plan: MigrationPlan, name: string): Slice {
  const slice = plan.spec.waves.flatMap((wave) => wave.slices).find((candidate) => candidate.name === name);
  if (!slice) {
    const names = plan.spec.waves.flatMap((wave) => wave.slices.map((s) => s.name));
    throw new FerryError('usage', `no slice "${name}" in the plan`, { location: { field: '--slice' }, fix: `use one of: ${names.join(', ')}` });
  }
  return slice;
}

function refKey(object: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : '';
  return `${group}/${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}
