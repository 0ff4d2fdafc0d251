import type { JournalRecord } from '../journal/record.js';
import type { MigrationPlan } from '../plan/schema.js';
import { STAGES, type RunState, type SliceState, type StageName } from './model.js';

/**
 * The state of a run, derived from its journal alone: replaying the records gives the same
 * state every time, which is what lets `ferry resume` continue where a crash stopped.
 */
export function deriveRunState(id: string, plan: MigrationPlan, records: readonly JournalRecord[]): RunState {
  const builder = new RunStateBuilder(id, plan.metadata.name, plan.spec.waves.flatMap((wave, w) => wave.slices.map((slice) => ({ name: slice.name, wave: w + 1 }))));
  for (const record of records) builder.apply(record);
  return builder.state;
}

function pendingStages(): SliceState['stages'] {
  return Object.fromEntries(STAGES.map((stage) => [stage, 'pending'])) as Record<StageName, SliceState['stages'][StageName]>;
}

/**
 * The run state one record at a time: `deriveRunState` replays a journal through it, and
 * watchers that see records as they come (Ferry's metrics) keep one, so every view of a run
 * says the same status. Without the plan's slices (`slices` absent), a slice is known from
 * the first record naming it.
 */
export class RunStateBuilder {
  readonly state: RunState;
  private readonly slices = new Map<string, SliceState>();

  constructor(id: string, plan: string, private readonly planSlices?: Array<{ name: string; wave: number }>) {
    for (const { name, wave } of planSlices ?? []) this.slices.set(name, newSlice(name, wave));
    this.state = { id, plan, status: 'running', slices: [...this.slices.values()], awaitingApproval: [], approvals: [], records: 0 };
  }

  /** Takes the next record; returns the slice it is about, if any. */
  apply(record: JournalRecord): SliceState | undefined {
    const { state } = this;
    state.records++;
    const data = record.data as Record<string, any>;
    const slice = typeof data.slice === 'string' ? this.sliceNamed(data.slice) : undefined;
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
            slice.stages = pendingStages();
            slice.automaticRollbacks = (slice.automaticRollbacks ?? 0) + 1;
          } else slice.rolledBack = true;
        }
        break;
    }
    if (record.type === 'stage-completed' && data.stage === 'data-cutover' && slice) slice.dataCutOver = true;
    return slice;
  }

  private sliceNamed(name: string): SliceState | undefined {
    const known = this.slices.get(name);
    if (known || this.planSlices) return known;
    const added = newSlice(name, 0);
    this.slices.set(name, added);
    this.state.slices.push(added);
    return added;
  }
}

function newSlice(name: string, wave: number): SliceState {
  return { name, wave, stages: pendingStages(), weight: 0, passedSteps: 0, dataCutOver: false, rolledBack: false };
}
