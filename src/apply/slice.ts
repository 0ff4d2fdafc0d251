import { KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import type { Inventory } from '../inventory/load.js';
import type { KubeObject } from '../kube/object.js';
import type { MigrationPlan } from '../plan/schema.js';
import { parseDuration } from '../analysis/gates-schema.js';
import { FerryError } from '../util/errors.js';
import { applyObjects, type ApplyOptions, type ApplyReport } from './apply.js';
import { desiredObjects, findSlice, readPlanSource } from './desired.js';
import { runSmokeChecks, type SmokeResult } from './smoke.js';
import { carryTrust } from '../trust/index.js';

export interface SliceApplyReport extends ApplyReport {
  slice: string;
  target: string;
  smoke: SmokeResult[];
}

export interface SliceApplyOptions extends Omit<ApplyOptions, 'readyTimeoutMs'> {
  kubeconfig?: string;
  targetContext?: string;
  /** A source inventory already read (the run reads it once for every slice). */
  inventory?: Inventory;
  /**
   * Apply spec.prerequisites with the slice (default true). They are applied the same way
   * (server-side, observed first), so after the first slice they report unchanged.
   */
  prerequisites?: boolean;
  /**
   * Objects held back until the rest of the slice is ready, then handed to `afterReady` with a
   * function that applies them the same way. The run uses it for Services that are bridges
   * on the target: the real Service goes over the bridge only once its pods can answer.
   */
  defer?: (object: KubeObject) => boolean;
  afterReady?: (deferred: KubeObject[], apply: (objects: KubeObject[]) => Promise<void>) => Promise<void>;
}

/** The target cluster's client for a plan. */
export function targetClient(plan: MigrationPlan, options: { kubeconfig?: string; targetContext?: string } = {}): KubeClient {
  const context = options.targetContext ?? plan.spec.target.context;
  if (!context) throw new FerryError('plan', 'the plan names no target context', { location: { field: 'spec.target.context' }, fix: 'set spec.target.context' });
  const kubeconfig = plan.spec.target.kubeconfig ?? options.kubeconfig;
  return new KubeClient(loadKubeConfig({ context, ...(kubeconfig ? { kubeconfig } : {}) }));
}

/** The live source cluster's client for a plan; undefined when the source is only exported YAML (no context). */
export function sourceClient(plan: MigrationPlan, options: { kubeconfig?: string } = {}): KubeClient | undefined {
  const { context } = plan.spec.source;
  if (!context) return undefined;
  const kubeconfig = plan.spec.source.kubeconfig ?? options.kubeconfig;
  return new KubeClient(loadKubeConfig({ context, ...(kubeconfig ? { kubeconfig } : {}) }));
}

/**
 * The first stage of a slice: its objects (and the plan's prerequisites), transformed,
 * server-side applied to the target and waited for, then its smoke checks.
 */
export async function applySlice(plan: MigrationPlan, sliceName: string, options: SliceApplyOptions = {}): Promise<SliceApplyReport> {
  const slice = findSlice(plan, sliceName);
  const inventory = options.inventory ?? (await readPlanSource(plan, options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}));
  const planned = desiredObjects(plan, inventory, { slices: [slice], prerequisites: options.prerequisites ?? true });
  const client = targetClient(plan, options);
  try {
    // SealedSecrets sealed again for the target controller (src/trust/); everything else as planned.
    const { desired } = await carryTrust(plan, planned, client, { kubeconfig: options.kubeconfig, targetContext: options.targetContext });
    const applyOptions = { ...options, readyTimeoutMs: parseDuration(plan.spec.defaults.readyTimeout) };
    const deferred = options.defer ? desired.filter(options.defer) : [];
    const report = await applyObjects(client, deferred.length > 0 ? desired.filter((object) => !deferred.includes(object)) : desired, applyOptions);
    if (deferred.length > 0 && !options.dryRun) {
      const applyLater = async (objects: KubeObject[]) => {
        const later = await applyObjects(client, objects, applyOptions);
        report.objects.push(...later.objects);
        for (const [action, count] of Object.entries(later.counts)) report.counts[action as keyof typeof report.counts] += count;
      };
      await (options.afterReady ? options.afterReady(deferred, applyLater) : applyLater(deferred));
    }
    const smoke = options.dryRun ? [] : await runSmokeChecks(client, slice.smoke ?? []);
    return { slice: slice.name, target: client.contextName, ...report, smoke };
  } finally {
    client.close();
  }
}
