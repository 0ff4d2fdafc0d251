import type { MigrationPlan } from '../plan/schema.js';
import { bridgeKey } from '../bridge/plan.js';
import type { SliceState } from './model.js';

/**
 * Where a slice runs at one moment of a run, as the bridges see it. A caller "runs" on a
 * cluster from the moment its pods may start there (it calls its dependencies at once); a
 * callee "serves" on a cluster only while its pods there are ready and in service.
 */
export interface Placement {
  target: 'absent' | 'starting' | 'serving';
  sourceServing: boolean;
}

export type Cluster = 'source' | 'target';

/** A Service of a callee that must be reachable by name on `callerCluster` while it serves only on the other. */
export interface NeededBridge {
  namespace: string;
  /** The called Service's name. */
  service: string;
  callerCluster: Cluster;
  servingCluster: Cluster;
  /** The slice that serves the Service, and the slices calling it from `callerCluster`. */
  callee: string;
  callers: string[];
}

/**
 * The placement the journal implies for a slice. A source the decommission will retire
 * leaves service when the soak starts: callers still on the source are bridged to the target
 * from then on, so the soak is also the window in which the source must receive no call.
 */
export function placementOf(slice: SliceState, retiresSource: boolean): Placement {
  if (slice.rolledBack) return { target: 'absent', sourceServing: true };
  const apply = slice.stages.apply;
  // A slice that ramps serves its callers on the target only once the ramp is done: until then
  // an internal ramp splits its name between the bridge and its pods.
  const ramped = slice.stages.ramp === 'done' || slice.stages.ramp === 'skipped';
  const target = apply === 'done' && ramped ? 'serving' : apply === 'pending' ? 'absent' : 'starting';
  const leaving = (['soak', 'decommission'] as const).some((stage) => slice.stages[stage] === 'running' || slice.stages[stage] === 'done');
  return { target, sourceServing: !(retiresSource && leaving) };
}


/**
 * The bridges a run needs, given where each slice is. For every call (a slice's `dependsOn`)
 * and every Service of the callee: a caller that runs on the target while the callee serves
 * only on the source needs the name bridged on the target to the source, and a caller left on
 * the source once the callee's source is retired needs it bridged the other way. A callee
 * serving on neither side gets no bridge (nothing could answer).
 */
export function neededBridges(plan: MigrationPlan, placements: ReadonlyMap<string, Placement>): NeededBridge[] {
  const slices = plan.spec.waves.flatMap((wave) => wave.slices);
  const byName = new Map(slices.map((slice) => [slice.name, slice]));
  const needed = new Map<string, NeededBridge>();
  for (const caller of slices) {
    const where = placements.get(caller.name) ?? { target: 'absent', sourceServing: true };
    const runsOn: Cluster[] = [...(where.target !== 'absent' ? ['target' as const] : []), ...(where.sourceServing ? ['source' as const] : [])];
    for (const calleeName of caller.dependsOn) {
      const callee = byName.get(calleeName);
      if (!callee) continue;
      const served = placements.get(callee.name) ?? { target: 'absent', sourceServing: true };
      const servesOn = (cluster: Cluster) => (cluster === 'target' ? served.target === 'serving' : served.sourceServing);
      for (const callerCluster of runsOn) {
        const other: Cluster = callerCluster === 'target' ? 'source' : 'target';
        if (servesOn(callerCluster) || !servesOn(other)) continue;
        for (const ref of callee.resources.filter((resource) => resource.kind === 'Service')) {
          const namespace = ref.namespace ?? callee.namespace ?? 'default';
          const key = bridgeKey({ callerCluster, namespace, service: ref.name });
          const existing = needed.get(key);
          if (existing) {
            if (!existing.callers.includes(caller.name)) existing.callers.push(caller.name);
            continue;
          }
          needed.set(key, { namespace, service: ref.name, callerCluster, servingCluster: other, callee: callee.name, callers: [caller.name] });
        }
      }
    }
  }
  return [...needed.values()].sort((a, b) => bridgeKey(a).localeCompare(bridgeKey(b)));
}
