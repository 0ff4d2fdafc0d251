import { systemClock } from '../analysis/clock.js';
import { FERRY_DECOMMISSION_MANAGER, FERRY_ROLLBACK_MANAGER } from '../apply/conflicts.js';
import { SCALABLE_KINDS, autoscaledWorkloads, workloadKey } from '../apply/desired.js';
import { ResourcePaths } from '../apply/resources.js';
import { stripServerFields } from '../apply/transforms/strip-server-fields.js';
import { waitForReady } from '../apply/wait-ready.js';
import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import type { ResourceRef, Slice } from '../plan/schema.js';
import { FerryError } from '../util/errors.js';
import type { DecommissionReport } from './services.js';
import { sealedForSource } from '../trust/index.js';

/**
 * What happens to a slice's workloads on either cluster around the end of its migration:
 * the source retired at decommission (scaled to zero, optionally deleted), brought back for a
 * late rollback, and the target retired by a rollback. Changes are merge patches under
 * Ferry's own field managers, so the source's manifests stay owned by whoever applied them.
 */

/** REST paths from the cluster's own discovery (`ResourcePaths`, as apply uses): plurals are never guessed. */
async function pathsFor(client: KubeClient): Promise<(ref: ResourceRef) => string> {
  const paths = new ResourcePaths(client);
  await paths.refresh();
  return (ref) => paths.pathOf(asObject(ref));
}

function asObject(ref: ResourceRef): KubeObject {
  return { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace ?? 'default' } } as KubeObject;
}

async function getOrUndefined<T>(client: KubeClient, path: string): Promise<T | undefined> {
  return client.request<T>({ path }).catch((error: FerryError) => {
    if (error.code === 'http-404') return undefined;
    throw error;
  });
}

/** Scales scalable workloads to `replicas` with a merge patch as `fieldManager`. */
async function scaleWorkloads(client: KubeClient, pathOf: (ref: ResourceRef) => string, replicas: ReadonlyMap<ResourceRef, number>, fieldManager: string): Promise<void> {
  for (const [workload, count] of replicas) {
    await client.request({ method: 'PATCH', path: pathOf(workload), query: { fieldManager }, body: { spec: { replicas: count } }, contentType: 'application/merge-patch+json' }).catch((error: FerryError) => {
      // A workload that is not there (an apply that failed before creating it) has nothing to scale.
      if (error.code === 'http-404' && count === 0) return;
      throw error;
    });
  }
}

/** Retires the source of a slice: replicas recorded, then zero; then, if asked, its objects deleted. */
export async function retireSource(client: KubeClient, slice: Slice, options: { scaleSourceToZero: boolean; deleteSource: boolean }, keepServices: ReadonlySet<string> = new Set()): Promise<DecommissionReport> {
  const report: DecommissionReport = { scaledToZero: {}, deleted: [] };
  const pathOf = await pathsFor(client);
  if (options.scaleSourceToZero || options.deleteSource) {
    const toScale = new Map<ResourceRef, number>();
    for (const workload of slice.workloads.filter((w) => SCALABLE_KINDS.has(w.kind))) {
      const live = await getOrUndefined<{ spec?: { replicas?: number } }>(client, pathOf(workload));
      if (!live) continue;
      // Already zero from an interrupted decommission: the count it had is in the target's copy.
      report.scaledToZero[workloadKey(workload)] = live.spec?.replicas ?? 1;
      toScale.set(workload, 0);
    }
    await scaleWorkloads(client, pathOf, toScale, FERRY_DECOMMISSION_MANAGER);
  }
  if (options.deleteSource) {
    // Workloads last-but-first: pods stop before the config they read disappears.
    const ordered = [...slice.resources].sort((a, b) => Number(SCALABLE_KINDS.has(b.kind)) - Number(SCALABLE_KINDS.has(a.kind)));
    // A Service bridged to the target still answers the callers left on the source: it stays.
    for (const ref of ordered.filter((ref) => !(ref.kind === 'Service' && keepServices.has(`${ref.namespace ?? 'default'}/${ref.name}`)))) {
      const path = pathOf(ref);
      const deleted = await client.request({ method: 'DELETE', path, query: { propagationPolicy: 'Background' } }).then(() => true, (error: FerryError) => {
        if (error.code === 'http-404') return false;
        throw error;
      });
      if (deleted) report.deleted.push(`${ref.kind} ${ref.namespace ?? 'default'}/${ref.name}`);
    }
  }
  return report;
}

/**
 * Brings a retired source back before any traffic returns to it: objects deleted at
 * decommission are re-created from the target's copies, workloads get the replicas they had
 * (or the target's, if the journal did not record them), and every one is waited ready.
 */
export async function restoreSource(source: KubeClient, target: KubeClient, slice: Slice, report: DecommissionReport, readyTimeoutMs: number): Promise<Record<string, unknown>> {
  const recreated: string[] = [];
  const sourcePaths = new ResourcePaths(source);
  const [, targetPath] = await Promise.all([sourcePaths.refresh(), pathsFor(target)]);
  const sourcePath = (ref: ResourceRef) => sourcePaths.pathOf(asObject(ref));
  // Whatever is missing on the source is re-created, whether or not the journal says it was
  // deleted: a decommission interrupted mid-way may have deleted some objects unrecorded.
  for (const ref of slice.resources) {
    if (await getOrUndefined<KubeObject>(source, sourcePath(ref))) continue;
    const copy = await getOrUndefined<KubeObject>(target, targetPath(ref));
    if (!copy) throw new FerryError('rollback.restore', `${ref.kind} ${ref.namespace ?? 'default'}/${ref.name} is gone from the source and is not on the target either`, { fix: 're-apply it to the source from your manifests, then `ferry rollback` again' });
    // A SealedSecret's copy is sealed for the target's controller: sealed again for the source's (src/trust/).
    const restored = await sealedForSource(copy, { source, target });
    await source.request({ method: 'PATCH', path: sourcePath(ref), query: { fieldManager: FERRY_ROLLBACK_MANAGER, force: 'true' }, body: stripServerFields(restored), contentType: 'application/apply-patch+yaml' });
    recreated.push(`${ref.kind} ${ref.namespace ?? 'default'}/${ref.name}`);
  }
  const replicas = new Map<ResourceRef, number>();
  for (const workload of slice.workloads.filter((w) => SCALABLE_KINDS.has(w.kind))) {
    const live = await getOrUndefined<{ spec?: { replicas?: number } }>(source, sourcePath(workload));
    if (!live || (live.spec?.replicas ?? 0) > 0) continue;
    const recorded = report.scaledToZero[workloadKey(workload)];
    const fromTarget = (await getOrUndefined<{ spec?: { replicas?: number } }>(target, targetPath(workload)))?.spec?.replicas;
    replicas.set(workload, recorded && recorded > 0 ? recorded : Math.max(1, fromTarget ?? 1));
  }
  await scaleWorkloads(source, sourcePath, replicas, FERRY_ROLLBACK_MANAGER);
  await waitForReady(source, sourcePaths, slice.workloads.map(asObject), { timeoutMs: readyTimeoutMs, clock: systemClock });
  return { recreated, scaledUp: Object.fromEntries([...replicas].map(([ref, count]) => [workloadKey(ref), count])), ready: true };
}

/**
 * Scales the slice's workloads on the target to zero for a rollback. An autoscaled workload
 * at zero has its HPA switched off and a re-apply (which leaves replicas to the HPA) would not
 * bring it back, so those stay up, serving no traffic.
 */
export async function retireTarget(client: KubeClient, slice: Slice): Promise<Record<string, unknown>> {
  const pathOf = await pathsFor(client);
  const hpas: KubeObject[] = [];
  for (const ref of slice.resources.filter((r) => r.kind === 'HorizontalPodAutoscaler')) {
    const hpa = await getOrUndefined<KubeObject>(client, pathOf(ref));
    if (hpa) hpas.push(hpa);
  }
  const autoscaled = autoscaledWorkloads(hpas);
  const toZero = new Map(slice.workloads.filter((w) => SCALABLE_KINDS.has(w.kind) && !autoscaled.has(workloadKey(w))).map((w) => [w, 0] as const));
  await scaleWorkloads(client, pathOf, toZero, FERRY_ROLLBACK_MANAGER);
  const kept = slice.workloads.filter((w) => autoscaled.has(workloadKey(w))).map(workloadKey);
  return { targetScaledToZero: toZero.size, ...(kept.length > 0 ? { keptForAutoscaler: kept } : {}) };
}
