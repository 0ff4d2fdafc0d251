import type { Journal } from '../journal/journal.js';
import type { MigrationPlan } from '../plan/schema.js';
import { setAndVerifyWeight } from '../traffic/provider.js';
import { toFerryError } from '../util/errors.js';
import type { RunEnvironment } from './services.js';
import { deriveRunState } from './state.js';

/**
 * Takes every slice that moved (or started to) back to the source, last moved first:
 * traffic to 0 % on the target (read back), data failed back if it was cut over (reverse
 * replication has kept the source current, so no write is lost), target workloads retired.
 * Each slice is journaled when done, so an interrupted rollback resumes where it stopped.
 */
export async function rollbackRun(id: string, plan: MigrationPlan, journal: Journal, env: RunEnvironment): Promise<void> {
  const state = deriveRunState(id, plan, journal.records);
  if (state.status === 'rolled-back') return;
  journal.append('rollback-started', { run: id });
  const touched = state.slices.filter((slice) => !slice.rolledBack && Object.values(slice.stages).some((status) => status !== 'pending' && status !== 'skipped'));
  for (const slice of touched.reverse()) {
    env.onProgress?.({ slice: slice.name, stage: 'rollback' });
    try {
      const services = await env.servicesFor(slice.name);
      const steps: Record<string, unknown> = {};
      if (services.traffic) {
        await setAndVerifyWeight(services.traffic, 0);
        await services.traffic.setMirror({ enabled: false, percent: 0 }).catch(() => undefined);
        steps.weight = 0;
      }
      if (services.data && slice.dataCutOver) {
        const report = await services.data.reverse({ finalParity: true });
        await services.repointData?.('source');
        steps.failback = { writePauseMs: report.writePauseMs, alreadyDone: report.alreadyDone };
      }
      if (services.retireTarget) steps.target = await services.retireTarget();
      journal.append('rollback-slice', { slice: slice.name, ...steps });
    } catch (error) {
      journal.append('run-failed', { run: id, error: `rollback of ${slice.name} failed: ${toFerryError(error).oneLine()}` });
      throw error;
    }
  }
  journal.append('rollback-completed', { run: id, slices: touched.map((slice) => slice.name) });
}
