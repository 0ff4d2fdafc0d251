import type { BridgeRecord, BridgeSpec, ServiceBridge } from '../bridge/bridge.js';
import type { BridgeClusters } from '../bridge/cluster.js';
import { bridgeKey } from '../bridge/plan.js';
import { resolveBridgeSpec } from '../bridge/resolve.js';
import type { BridgesSettings } from '../bridge/schema.js';
import type { Journal } from '../journal/journal.js';
import type { JournalRecord } from '../journal/record.js';
import type { KubeObject } from '../kube/object.js';
import type { MigrationPlan } from '../plan/schema.js';
import { toFerryError } from '../util/errors.js';
import { neededBridges, placementOf, type Cluster, type NeededBridge, type Placement } from './bridge-placement.js';
import { effectiveSlice } from './slice-settings.js';
import { deriveRunState } from './state.js';
import type { RunEnvironment } from './services.js';

/**
 * The run's side of Service bridges: keeps the bridges on both clusters equal to what the
 * slices' placement needs (bridge-placement.ts), journaling each one created, replaced or
 * removed, so a resumed run or a rollback in another process knows what exists.
 *
 * When the run calls it: after every stage start and end (placement follows the journal: a
 * slice's pods about to start on the target, ready there, its ramp done, its source leaving
 * service at the soak); from the apply stage, to put a callee's real Services over the target's
 * bridges once its pods are ready (`replace`); and in a rollback, with the slice's placement
 * overridden step by step (source back, then target gone).
 */
export interface RunBridges {
  /** `keep`: create what is missing but remove nothing yet (the slice's pods still run where they were). */
  reconcile(runId: string, journal: Journal, overrides?: ReadonlyMap<string, Partial<Placement>>, options?: { keep?: boolean }): Promise<void>;
  /** `namespace/name` of the Services bridged on `cluster` now (apply leaves those to `replace`). */
  bridged(journal: Journal, cluster: Cluster): Set<string>;
  /**
   * The callee arrived: its real Services (as apply would write them) replace the target's
   * bridges of the same name — applied over the bridge, so callers never see a name without
   * endpoints — and the bridge's own objects are removed.
   */
  replace(journal: Journal, services: KubeObject[], apply: (objects: KubeObject[]) => Promise<void>): Promise<string[]>;
}

export interface RunBridgesOptions {
  plan: MigrationPlan;
  bridge: ServiceBridge;
  clusters: BridgeClusters;
  settings?: Partial<BridgesSettings>;
  /** Creates the namespace on a cluster if it is not there: a bridge can be the first object of its namespace on the target. */
  ensureNamespace(cluster: Cluster, namespace: string): Promise<void>;
}

interface LiveBridge {
  key: string;
  record: BridgeRecord;
}

/** Bridges that exist, from the journal: created and not yet removed or replaced. */
export function liveBridges(journal: Journal): Map<string, LiveBridge> {
  const live = new Map<string, LiveBridge>();
  for (const record of journal.records) {
    const data = record.data as { key?: string; record?: BridgeRecord };
    if (record.type === 'bridge-created' && data.key && data.record) live.set(data.key, { key: data.key, record: data.record });
    if ((record.type === 'bridge-removed' || record.type === 'bridge-replaced') && data.key) live.delete(data.key);
  }
  return live;
}

/**
 * The callee's real Service already replaced the bridge in the apply still running (its
 * pods are ready; the slice's other objects are still being waited for): the name is served
 * on the target, so it is not bridged again.
 */
function replacedDuringApply(journal: Journal, want: NeededBridge): boolean {
  if (want.callerCluster !== 'target') return false;
  const key = bridgeKey(want);
  const lastIndex = (matches: (record: JournalRecord) => boolean) => {
    for (let i = journal.records.length - 1; i >= 0; i--) if (matches(journal.records[i]!)) return i;
    return -1;
  };
  const applyStarted = lastIndex((record) => record.type === 'stage-started' && record.data.slice === want.callee && record.data.stage === 'apply');
  const replaced = lastIndex((record) => record.type === 'bridge-replaced' && record.data.key === key);
  const rolledBack = lastIndex((record) => record.type === 'rollback-slice' && record.data.slice === want.callee);
  return applyStarted >= 0 && replaced > applyStarted && replaced > rolledBack;
}

export function createRunBridges(options: RunBridgesOptions): RunBridges {
  const { plan, bridge, clusters } = options;
  // Slices of a wave reconcile concurrently; one at a time keeps create/remove decisions consistent.
  let queue: Promise<unknown> = Promise.resolve();
  const serialized = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };

  function specOf(needed: NeededBridge): Promise<BridgeSpec> {
    return resolveBridgeSpec({
      namespace: needed.namespace,
      service: needed.service,
      callerCluster: needed.callerCluster,
      servingCluster: needed.servingCluster,
      callers: needed.callers,
      calls: needed.callers.map((caller) => `${caller} → ${needed.callee}`),
      calleeSlice: needed.callee,
      when: needed.callerCluster === 'target' ? 'before-wave' : 'before-callee-retired',
    }, clusters, options.settings);
  }

  function placements(runId: string, journal: Journal, overrides?: ReadonlyMap<string, Partial<Placement>>): Map<string, Placement> {
    const state = deriveRunState(runId, plan, journal.records);
    const slices = new Map(plan.spec.waves.flatMap((wave) => wave.slices).map((slice) => [slice.name, slice]));
    const result = new Map<string, Placement>();
    for (const slice of state.slices) {
      const settings = effectiveSlice(plan, slices.get(slice.name)!);
      const retires = settings.decommission.scaleSourceToZero || settings.decommission.deleteSource;
      result.set(slice.name, { ...placementOf(slice, retires), ...(overrides?.get(slice.name) ?? {}) });
    }
    return result;
  }

  return {
    reconcile: (runId, journal, overrides, reconcileOptions) => serialized(async () => {
      const where = placements(runId, journal, overrides);
      const needed = neededBridges(plan, where).filter((want) => !(where.get(want.callee)?.target === 'starting' && replacedDuringApply(journal, want)));
      const live = liveBridges(journal);
      for (const want of needed) {
        const key = bridgeKey(want);
        if (live.has(key)) continue;
        const spec = await specOf(want);
        await options.ensureNamespace(want.callerCluster, want.namespace);
        const record = await bridge.ensure(spec);
        journal.append('bridge-created', { key, callee: want.callee, callers: want.callers, record });
      }
      const wanted = new Set(needed.map(bridgeKey));
      for (const [key, { record }] of reconcileOptions?.keep ? [] : live) {
        if (wanted.has(key)) continue;
        await bridge.remove(record);
        journal.append('bridge-removed', { key });
      }
      await journal.flush();
    }),
    bridged(journal, cluster) {
      return new Set([...liveBridges(journal).values()].filter(({ record }) => record.spec.callerCluster === cluster).map(({ record }) => `${record.spec.namespace}/${record.spec.service}`));
    },
    replace: (journal, services, apply) => serialized(async () => {
      const live = liveBridges(journal);
      const replaced: string[] = [];
      for (const service of services) {
        const name = `${service.metadata.namespace ?? 'default'}/${service.metadata.name}`;
        const key = bridgeKey({ callerCluster: 'target', namespace: service.metadata.namespace ?? 'default', service: service.metadata.name });
        const existing = live.get(key);
        await apply([service]);
        if (!existing) continue;
        try {
          // The callee's Service now stands over the bridge: remove() deletes only the bridge's own slice and labels.
          await bridge.remove(existing.record);
        } catch (error) {
          journal.append('bridge-replace-incomplete', { key, error: toFerryError(error).oneLine() });
        }
        journal.append('bridge-replaced', { key });
        replaced.push(name);
      }
      await journal.flush();
      return replaced;
    }),
  };
}

/** What a rollback of one slice tells the bridges: the source is back, then the target is gone. */
export type BridgeReconciler = (placement: Partial<Placement> | undefined, options?: { keep?: boolean }) => Promise<void>;

export function bridgeReconciler(env: RunEnvironment, id: string, journal: Journal, slice: string): BridgeReconciler | undefined {
  const bridges = env.bridges;
  if (!bridges) return undefined;
  return (placement, options) => bridges.reconcile(id, journal, placement ? new Map([[slice, placement]]) : undefined, options);
}

