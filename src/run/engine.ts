import type { Journal } from '../journal/journal.js';
import type { MigrationPlan, Wave } from '../plan/schema.js';
import { FerryError, toFerryError } from '../util/errors.js';
import { RunControl, StopRequested } from './control.js';
import { STAGES, type RunState } from './model.js';
import { rollbackSlice } from './rollback.js';
import type { RunEnvironment } from './services.js';
import { STAGE_FUNCTIONS, whySkip, type StageContext } from './stages.js';
import { deriveRunState } from './state.js';
import { bridgeReconciler } from './bridges.js';
import { effectiveSlice, type EffectiveSlice } from './slice-settings.js';

export interface RunOutcome {
  state: RunState;
}

/** Stage errors that mean "undecided, a person looks" rather than "failed". */
const HELD_CODES = new Set(['ramp.held', 'shadow.inconclusive', 'decommission.held']);

/** Slices of one wave that run at once unless the environment says otherwise. */
export const DEFAULT_PARALLEL = 4;

/**
 * Drives a plan wave by wave; the slices of a wave run concurrently (`env.parallel`), each
 * stage by stage. Every transition is journaled before and after it happens; a stage is
 * observe-then-ensure, so after a crash the run is resumed by calling this again with the
 * same journal: finished stages are skipped, the one that was running is run again from its
 * start (a ramp from the weight last set). Pause and abort are seen at the next checkpoint of
 * every running slice, within one judge interval.
 */
export async function executeRun(id: string, plan: MigrationPlan, journal: Journal, env: RunEnvironment): Promise<RunOutcome> {
  const initial = deriveRunState(id, plan, journal.records);
  if (initial.status === 'completed' || initial.status === 'rolled-back' || initial.status === 'aborted') return { state: initial };
  journal.append(journal.records.length === 0 ? 'run-started' : 'run-resumed', { plan: plan.metadata.name, run: id });
  const control = new RunControl(journal, env, id);
  try {
    for (const wave of plan.spec.waves) {
      await control.poll();
      if (control.stopRequested) return { state: deriveRunState(id, plan, journal.records) };
      const failures = await runWave(id, plan, wave, journal, env, control);
      if (control.stopRequested) return { state: deriveRunState(id, plan, journal.records) };
      if (failures.length > 0) throw failures[0];
    }
    journal.append('run-completed', { run: id });
  } catch (error) {
    const failure = toFerryError(error);
    journal.append('run-failed', { run: id, error: failure.oneLine() });
    throw failure;
  }
  return { state: deriveRunState(id, plan, journal.records) };
}

/** Runs the slices of one wave, at most `env.parallel` at once; returns the failures, in slice order. */
async function runWave(id: string, plan: MigrationPlan, wave: Wave, journal: Journal, env: RunEnvironment, control: RunControl): Promise<FerryError[]> {
  const queue = [...wave.slices];
  const failures = new Map<string, FerryError>();
  const worker = async () => {
    for (let slice = queue.shift(); slice; slice = queue.shift()) {
      if (control.stopRequested) return;
      try {
        await runSlice(id, plan, effectiveSlice(plan, slice), journal, env, control);
      } catch (error) {
        if (error instanceof StopRequested) return;
        failures.set(slice.name, toFerryError(error));
      }
    }
  };
  const width = Math.max(1, Math.min(env.parallel ?? DEFAULT_PARALLEL, wave.slices.length));
  await Promise.all(Array.from({ length: width }, worker));
  return wave.slices.flatMap((slice) => failures.get(slice.name) ?? []);
}

async function runSlice(id: string, plan: MigrationPlan, slice: EffectiveSlice, journal: Journal, env: RunEnvironment, control: RunControl): Promise<void> {
  const state = deriveRunState(id, plan, journal.records);
  const sliceState = state.slices.find((s) => s.name === slice.name)!;
  if (sliceState.rolledBack) return;
  const services = await env.servicesFor(slice.name);
  const ctx: StageContext = {
    slice, state: sliceState, services, journal, env, control,
    recordsOf: (type) => journal.records.filter((record) => record.type === type),
  };
  // Approvers hold the first step users would notice: the ramp, or for a slice that serves
  // no traffic its data cutover, or else its decommission.
  const gate = (['ramp', 'data-cutover', 'decommission'] as const).find((stage) => !whySkip(stage, slice, services));
  for (const stage of STAGES) {
    const status = sliceState.stages[stage];
    if (status === 'done' || status === 'skipped') continue;
    await control.checkpoint();
    const skipReason = whySkip(stage, slice, services);
    if (skipReason) {
      journal.append('stage-skipped', { slice: slice.name, stage, reason: skipReason });
      continue;
    }
    if (stage === gate && slice.approvers.length > 0) await waitForApproval(ctx, id, plan);
    journal.append('stage-started', { slice: slice.name, stage });
    env.onProgress?.({ slice: slice.name, stage });
    try {
      // Before the slice's pods start on the target, and when its source leaves service at the soak.
      await env.bridges?.reconcile(id, journal);
      const result = await STAGE_FUNCTIONS[stage](ctx);
      journal.append('stage-completed', { slice: slice.name, stage, ...result });
      await env.bridges?.reconcile(id, journal);
      // A finished stage is anchored outside the run directory before the next one starts.
      await journal.flush();
    } catch (error) {
      if (error instanceof StopRequested) {
        journal.append('stage-interrupted', { slice: slice.name, stage, by: error.action });
        throw error;
      }
      const failure = toFerryError(error);
      journal.append('stage-failed', { slice: slice.name, stage, error: failure.oneLine(), ...failure.facts });
      // A held step waits for a person (analysis.onInconclusive: hold): nothing failed, so nothing is rolled back.
      const held = HELD_CODES.has(failure.code);
      if (slice.rollback.onFailure === 'automatic' && !held) await rollBackAfterFailure(ctx, id, plan, failure);
      throw failure;
    }
  }
}

/**
 * `rollback.onFailure: automatic`: a failed stage takes the whole slice back to the source
 * (not only a failed ramp). The run then stops failed; fixing the cause and `ferry resume`
 * starts the slice again from its first stage.
 */
async function rollBackAfterFailure(ctx: StageContext, id: string, plan: MigrationPlan, failure: FerryError): Promise<void> {
  const detectedAt = ctx.env.clock.now();
  ctx.env.onProgress?.({ slice: ctx.slice.name, stage: 'rollback', detail: 'automatic (rollback.onFailure)' });
  try {
    const sliceState = deriveRunState(id, plan, ctx.journal.records).slices.find((s) => s.name === ctx.slice.name)!;
    await rollbackSlice(sliceState, ctx.services, ctx.journal, ctx.env.clock, { reason: 'automatic', detectedAt, error: failure.oneLine() }, bridgeReconciler(ctx.env, id, ctx.journal, ctx.slice.name));
  } catch (error) {
    ctx.journal.append('rollback-failed', { slice: ctx.slice.name, error: toFerryError(error).oneLine() });
  }
}

async function waitForApproval(ctx: StageContext, id: string, plan: MigrationPlan): Promise<void> {
  const { slice, journal, env, control } = ctx;
  const approved = () => deriveRunState(id, plan, journal.records).approvals.some((a) => a.slice === slice.name);
  if (approved()) return;
  journal.append('approval-requested', { slice: slice.name, approvers: slice.approvers });
  env.onProgress?.({ slice: slice.name, stage: 'approval', detail: `waiting for ${slice.approvers.join(' or ')}: ferry approve ${id} ${slice.name}` });
  while (!approved()) await control.sleep(500);
}

