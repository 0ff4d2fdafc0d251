import type { JournalRecord } from '../journal/record.js';
import type { MigrationPlan } from '../plan/schema.js';
import { STAGES, type RunState, type SliceState, type StageName } from './model.js';

/**
 * The state of a run, derived from its journal alone: replaying the records gives the same
 * state every time, which is what lets `ferry resume` continue where a crash stopped.
 */
export function deriveRunState(id: string, plan: MigrationPlan, records: readonly JournalRecord[]): RunState {
  const slices = new Map<string, SliceState>();
  plan.spec.waves.forEach((wave, w) => {
    for (const slice of wave.slices) {
      slices.set(slice.name, {
        name: slice.name,
        wave: w + 1,
        stages: Object.fromEntries(STAGES.map((stage) => [stage, 'pending'])) as Record<StageName, SliceState['stages'][StageName]>,
        weight: 0,
        passedSteps: 0,
        dataCutOver: false,
        rolledBack: false,
      });
    }
  });
  const state: RunState = { id, plan: plan.metadata.name, status: 'running', slices: [...slices.values()], awaitingApproval: [], approvals: [], records: records.length };
  for (const record of records) {
    const data = record.data as Record<string, any>;
    const slice = typeof data.slice === 'string' ? slices.get(data.slice) : undefined;
    switch (record.type) {
      case 'run-started': state.startedAt = record.at; state.status = 'running'; break;
      case 'run-resumed': state.status = 'running'; delete state.endedAt; break;
      case 'run-paused': state.status = 'paused'; break;
      case 'run-completed': state.status = 'completed'; state.endedAt = record.at; break;
      case 'run-failed': state.status = 'failed'; state.endedAt = record.at; break;
      case 'run-aborted': state.status = 'aborted'; state.endedAt = record.at; break;
      case 'rollback-completed':
        if (data.partial) {
          if (state.status === 'running') state.status = 'paused';
          break;
        }
        state.status = 'rolled-back';
        state.endedAt = record.at;
        break;
      case 'stage-started': if (slice) slice.stages[data.stage as StageName] = 'running'; break;
      case 'stage-completed': if (slice) slice.stages[data.stage as StageName] = 'done'; break;
      case 'stage-skipped': if (slice) slice.stages[data.stage as StageName] = 'skipped'; break;
      // A pause or abort stopped the stage part-way: it runs again from its start on resume.
      case 'stage-interrupted': if (slice) slice.stages[data.stage as StageName] = 'pending'; break;
      case 'stage-failed':
        if (slice) {
          slice.stages[data.stage as StageName] = 'failed';
          slice.lastError = String(data.error ?? '');
        }
        break;
      case 'weight-set': if (slice) slice.weight = Number(data.weight); break;
      case 'ramp-step-passed':
        if (slice) {
          slice.passedSteps = Math.max(slice.passedSteps, Number(data.step) + 1);
          delete slice.openGates;
        }
        break;
      case 'ramp-step-extended':
      case 'ramp-step-inconclusive': if (slice && Array.isArray(data.open)) slice.openGates = data.open; break;
      case 'rolled-back': if (slice) slice.weight = 0; break;
      case 'approval-requested':
        if (slice && !state.awaitingApproval.includes(slice.name)) state.awaitingApproval.push(slice.name);
        state.status = 'waiting-approval';
        break;
      case 'approved':
        state.awaitingApproval = state.awaitingApproval.filter((name) => name !== data.slice);
        state.approvals.push({ slice: data.slice, by: record.actor, at: record.at });
        if (state.status === 'waiting-approval' && state.awaitingApproval.length === 0) state.status = 'running';
        break;
      case 'rollback-slice':
        if (slice) {
          slice.weight = 0;
          slice.dataCutOver = false;
          slice.passedSteps = 0;
          if (data.reason === 'automatic') {
            // Rolled back after a failed stage: once the cause is fixed, `ferry resume` moves it again from the start.
            slice.stages = Object.fromEntries(STAGES.map((stage) => [stage, 'pending'])) as SliceState['stages'];
            slice.automaticRollbacks = (slice.automaticRollbacks ?? 0) + 1;
          } else slice.rolledBack = true;
        }
        break;
    }
    if (record.type === 'stage-completed' && data.stage === 'data-cutover' && slice) slice.dataCutOver = true;
  }
  return state;
}
