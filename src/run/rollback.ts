import type { Clock } from '../analysis/clock.js';
import type { Journal } from '../journal/journal.js';
import type { JournalRecord } from '../journal/record.js';
import type { MigrationPlan } from '../plan/schema.js';
import { setAndVerifyWeight } from '../traffic/provider.js';
import { toFerryError } from '../util/errors.js';
import type { SliceState } from './model.js';
import type { DecommissionReport, RunEnvironment, SliceServices } from './services.js';
import { deriveRunState } from './state.js';
import { bridgeReconciler, type BridgeReconciler } from './bridges.js';
import type { Placement } from './bridge-placement.js';
import { switchAndJournal, switchChanged } from './singletons.js';

/**
 * Takes every slice that moved (or started to) back to the source, last moved first. Each
 * slice is journaled when done, so an interrupted rollback resumes where it stopped.
 */
export async function rollbackRun(id: string, plan: MigrationPlan, journal: Journal, env: RunEnvironment, only?: readonly string[]): Promise<void> {
  const state = deriveRunState(id, plan, journal.records);
  if (state.status === 'rolled-back') return;
  journal.append('rollback-started', { run: id, ...(only ? { only } : {}) });
  const requestedAt = env.clock.now();
  const touched = state.slices.filter((slice) => !slice.rolledBack && (!only || only.includes(slice.name)) && Object.values(slice.stages).some((status) => status !== 'pending' && status !== 'skipped'));
  for (const slice of touched.reverse()) {
    env.onProgress?.({ slice: slice.name, stage: 'rollback' });
    try {
      await rollbackSlice(slice, await env.servicesFor(slice.name), journal, env.clock, { reason: 'requested', detectedAt: requestedAt }, bridgeReconciler(env, id, journal, slice.name));
    } catch (error) {
      journal.append('run-failed', { run: id, error: `rollback of ${slice.name} failed: ${toFerryError(error).oneLine()}` });
      throw error;
    }
  }
  // A partial rollback leaves the run resumable: the slices still on the target stay there.
  journal.append('rollback-completed', { run: id, slices: touched.map((slice) => slice.name), ...(only ? { partial: true } : {}) });
}

/**
 * One slice back to the source, in the order that never sends a user to a side that cannot
 * serve: a decommissioned source is brought back and waited ready first; then the weight
 * goes to 0 (read back); then data fails back (reverse replication kept the source current,
 * so no write is lost) and the applications follow it; last, the target is retired.
 * Journals when the failure was detected and when users were back on a serving source.
 */
export async function rollbackSlice(
  slice: SliceState,
  services: SliceServices,
  journal: Journal,
  clock: Clock,
  cause: { reason: 'requested' | 'automatic'; detectedAt: number; error?: string },
  reconcileBridges?: BridgeReconciler,
): Promise<void> {
  const steps: Record<string, unknown> = {};
  const decommissioned = decommissionOf(journal.records, slice.name);
  if (decommissioned) steps.source = await services.restoreSource(decommissioned);
  // The source serves again: callers left there stop going through bridges to the target.
  // A bridge that cannot be changed is journaled, never a reason to stop taking users back.
  const bridges = async (placement: Partial<Placement> | undefined, options?: { keep?: boolean }) => reconcileBridges?.(placement, options).catch((error: unknown) => {
    steps.bridgeError = toFerryError(error).oneLine();
    journal.append('bridge-failed', { slice: slice.name, error: steps.bridgeError });
  });
  await bridges({ sourceServing: true });
  // Callers on the target reach the slice on the source again before its weight goes to 0 (an
  // internal ramp's source subset is the bridge) and before its target pods stop; its own
  // calls keep their bridges until those pods have stopped (removed below).
  await bridges({ sourceServing: true, target: 'absent' }, { keep: true });
  const sourceReadyAt = clock.now();
  if (services.traffic) {
    // DNS may have been made plain at the end of the ramp: reconcile re-creates the weighted record.
    await services.traffic.reconcile();
    await setAndVerifyWeight(services.traffic, 0);
    const mirrorOff = await services.traffic.setMirror({ enabled: false, percent: 0 }).then(() => undefined, (error: unknown) => toFerryError(error).oneLine());
    steps.weight = 0;
    if (mirrorOff) steps.mirrorOffFailed = mirrorOff;
  }
  const recoveredAt = clock.now();
  if (services.data && slice.dataCutOver && decommissioned?.replicationObjectsDropped !== undefined) {
    // Decommission dropped the reverse replication after keepSourceFor: the source database
    // is behind, so failing back would lose writes. The target database stays primary.
    steps.failback = 'skipped: replication was dropped at decommission; the applications keep the target database';
  } else if (services.data && slice.dataCutOver) {
    const report = await services.data.reverse({ finalParity: true, ...(services.repointData ? { pointApplications: services.repointData } : {}) });
    steps.failback = { writePauseMs: report.writePauseMs, alreadyDone: report.alreadyDone };
  }
  // DNS clients may keep the target's address for the ramp TTL: its pods serve them until then.
  const settleMs = services.traffic?.changeSettleMs ?? 0;
  if (settleMs > 0) await clock.sleep(settleMs);
  // GitOps sync as it was before decommission; the slice's names owned by the source's external-dns again.
  // A DNS API or GitOps object that cannot be changed is journaled, never a reason to stop taking users back.
  if (services.handover) steps.handover = await services.handover.rollback(journal).catch((error: unknown) => ({ error: toFerryError(error).oneLine() }));
  // CronJobs and singletons run on the source again before the target's copies are retired.
  const singletons = await switchAndJournal('source', services.switchSingletons, slice.name, journal, 'rollback');
  if (singletons && switchChanged(singletons)) steps.singletons = singletons;
  // Callers on the target reach the slice on the source again before its target pods stop.
  steps.target = await services.retireTarget();
  journal.append('rollback-slice', {
    slice: slice.name,
    reason: cause.reason,
    ...(cause.error ? { error: cause.error } : {}),
    detectedAt: new Date(cause.detectedAt).toISOString(),
    sourceReadyMs: sourceReadyAt - cause.detectedAt,
    recoveryMs: recoveredAt - cause.detectedAt,
    ...steps,
  });
  await bridges(undefined);
}

/** What the slice's decommission did, from its journal record, when it ran. */
function decommissionOf(records: readonly JournalRecord[], slice: string): DecommissionReport | undefined {
  const done = records.filter((record) => record.type === 'stage-completed' && record.data.slice === slice && record.data.stage === 'decommission').at(-1);
  if (done) return done.data as unknown as DecommissionReport;
  // Interrupted mid-decommission: restore whatever it may have done, from the plan's view (replicas unknown → 1).
  const started = records.some((record) => record.type === 'stage-started' && record.data.slice === slice && record.data.stage === 'decommission');
  return started ? { scaledToZero: {}, deleted: [], skipped: 'interrupted' } : undefined;
}
