import { runCanary, type CanaryEvent } from '../analysis/canary.js';
import { parseDuration } from '../analysis/gates-schema.js';
import type { Journal } from '../journal/journal.js';
import type { MigrationPlan } from '../plan/schema.js';
import { setAndVerifyWeight } from '../traffic/provider.js';
import { FerryError, toFerryError } from '../util/errors.js';
import { STAGES, type RunState, type StageName } from './model.js';
import type { RunEnvironment, SliceServices } from './services.js';
import { deriveRunState } from './state.js';
import { effectiveSlice, type EffectiveSlice } from './slice-settings.js';

export interface RunOutcome {
  state: RunState;
}

/**
 * Drives a plan wave by wave, slice by slice, stage by stage. Every transition is journaled
 * before and after it happens; a stage is observe-then-ensure, so after a crash the run is
 * resumed by calling this again with the same journal: finished stages are skipped, the one
 * that was running is run again from its start (a ramp from its last passed step).
 */
export async function executeRun(id: string, plan: MigrationPlan, journal: Journal, env: RunEnvironment): Promise<RunOutcome> {
  let state = deriveRunState(id, plan, journal.records);
  if (state.status === 'completed' || state.status === 'rolled-back' || state.status === 'aborted') return { state };
  journal.append(journal.records.length === 0 ? 'run-started' : 'run-resumed', { plan: plan.metadata.name, run: id });
  try {
    for (const wave of plan.spec.waves) {
      for (const slice of wave.slices) {
        state = deriveRunState(id, plan, journal.records);
        if (await honourControl(journal, env, plan, id) === 'stop') return { state: deriveRunState(id, plan, journal.records) };
        await runSlice(plan, effectiveSlice(plan, slice), journal, env, state);
      }
    }
    journal.append('run-completed', { run: id });
  } catch (error) {
    const failure = toFerryError(error);
    journal.append('run-failed', { run: id, error: failure.oneLine() });
    throw failure;
  }
  return { state: deriveRunState(id, plan, journal.records) };
}

async function runSlice(plan: MigrationPlan, slice: EffectiveSlice, journal: Journal, env: RunEnvironment, state: RunState): Promise<void> {
  const sliceState = state.slices.find((s) => s.name === slice.name)!;
  if (sliceState.rolledBack) return;
  const services = await env.servicesFor(slice.name);
  // Approvers hold the first step users would notice: the ramp, or for a slice that serves
  // no traffic its data cutover, or else its decommission.
  const gate = (['ramp', 'data-cutover', 'decommission'] as const).find((stage) => !whySkip(stage, slice, services));
  for (const stage of STAGES) {
    const status = sliceState.stages[stage];
    if (status === 'done' || status === 'skipped') continue;
    const skipReason = whySkip(stage, slice, services);
    if (skipReason) {
      journal.append('stage-skipped', { slice: slice.name, stage, reason: skipReason });
      continue;
    }
    if (stage === gate && slice.approvers.length > 0 && !state.approvals.some((a) => a.slice === slice.name)) {
      await waitForApproval(plan, slice, journal, env, state.id);
    }
    journal.append('stage-started', { slice: slice.name, stage });
    env.onProgress?.({ slice: slice.name, stage });
    try {
      const result = await runStage(stage, slice, services, journal, env, sliceState.passedSteps);
      journal.append('stage-completed', { slice: slice.name, stage, ...result });
    } catch (error) {
      const failure = toFerryError(error);
      journal.append('stage-failed', { slice: slice.name, stage, error: failure.oneLine() });
      throw failure;
    }
  }
}

function whySkip(stage: StageName, slice: EffectiveSlice, services: SliceServices): string | undefined {
  const dataless = !services.data && (stage === 'data-sync' || stage === 'parity' || stage === 'data-cutover');
  if (dataless) return 'the slice has no data section';
  if ((stage === 'shadow' || stage === 'ramp') && !services.traffic) return 'the slice serves no traffic (provider none)';
  if (stage === 'shadow' && (slice.mirrorPercent <= 0 || !services.traffic?.capabilities.mirror)) return 'mirroring is off for this slice';
  return undefined;
}

async function runStage(stage: StageName, slice: EffectiveSlice, services: SliceServices, journal: Journal, env: RunEnvironment, passedSteps: number): Promise<Record<string, unknown>> {
  const { clock } = env;
  switch (stage) {
    case 'apply':
      return { applied: await services.apply() };
    case 'data-sync': {
      const data = services.data!;
      const check = await data.check();
      if (!check.ok) {
        const first = check.items.find((item) => !item.ok && item.severity === 'error');
        throw new FerryError('data-check', `data check failed: ${first?.message ?? 'see ferry data check'}`, { location: { object: `slice ${slice.name}`, field: 'data' }, fix: first?.fix ?? 'run `ferry data check`' });
      }
      await data.prepare({ copySchema: slice.copySchema });
      await data.startSync();
      const deadline = clock.now() + 10 * 60_000;
      for (;;) {
        const status = await data.status();
        const lag = await data.lag();
        if (status.allReady && lag.seconds !== null && lag.seconds * 1000 <= slice.maxLagMs) return { tables: status.tables.length, lagSeconds: lag.seconds };
        if (clock.now() > deadline) throw new FerryError('data-sync', `replication did not catch up within 10 minutes (lag ${lag.seconds ?? 'unknown'} s)`, { fix: 'check `ferry data status`; large transactions delay the initial copy' });
        await clock.sleep(500);
      }
    }
    case 'parity': {
      const report = await services.data!.parity();
      if (!report.ok) {
        const shown = report.differences.slice(0, 5).map((d) => `${d.table} ${d.key.join(',')} ${d.kind}`).join('; ');
        throw new FerryError('parity', `data parity failed: ${report.differences.length} row(s) differ (${shown})`, { fix: 'inspect those keys on both sides; `ferry data parity` repeats the check' });
      }
      return { rows: report.rows, rowsPerSecond: Math.round(report.rowsPerSecond), queries: report.queries };
    }
    case 'shadow': {
      const traffic = services.traffic!;
      await traffic.reconcile();
      await traffic.setMirror({ enabled: true, percent: slice.mirrorPercent });
      const before = (await services.shadowStats?.()) ?? { compared: 0, mismatched: 0 };
      await clock.sleep(env.durations?.shadowMs ?? slice.mirrorMs);
      const after = (await services.shadowStats?.()) ?? { compared: 0, mismatched: 0 };
      await traffic.setMirror({ enabled: false, percent: 0 });
      const compared = after.compared - before.compared;
      const mismatched = after.mismatched - before.mismatched;
      const rate = compared > 0 ? mismatched / compared : 0;
      if (slice.maxMismatchRate !== undefined && rate > slice.maxMismatchRate) {
        throw new FerryError('shadow', `shadow responses differ on ${(rate * 100).toFixed(2)} % of ${compared} mirrored requests (limit ${(slice.maxMismatchRate * 100).toFixed(2)} %)`, { fix: 'see the sample of differing pairs in `ferry status`; fix the target or ignore volatile JSON paths in traffic.mirror.ignoreJsonPaths' });
      }
      return { compared, mismatched };
    }
    case 'ramp':
      return runRamp(slice, services, journal, env, passedSteps);
    case 'data-cutover': {
      const report = await services.data!.cutover({ finalParity: true });
      await services.repointData?.('target');
      if (report.parity && !report.parity.ok) {
        throw new FerryError('parity', `final parity after cutover found ${report.parity.differences.length} differing row(s); the target is open and replication back to the source runs`, { fix: 'inspect the rows, then `ferry rollback` (no write is lost) or fix them on the target' });
      }
      return { writePauseMs: report.writePauseMs, lockAttempts: report.lockAttempts, failedFreezeMs: report.failedFreezeMs, alreadyDone: report.alreadyDone, sequencesCopied: report.sequencesCopied, reverse: report.reverseDirection };
    }
    case 'soak':
      await clock.sleep(env.durations?.soakMs ?? slice.soakMs);
      return {};
    case 'decommission':
      return { decommissioned: await services.decommission() };
  }
}

async function runRamp(slice: EffectiveSlice, services: SliceServices, journal: Journal, env: RunEnvironment, passedSteps: number): Promise<Record<string, unknown>> {
  const traffic = services.traffic!;
  await traffic.reconcile();
  const remaining = slice.steps.slice(passedSteps);
  if (remaining.length === 0) return { steps: 0 };
  if (!services.metrics) {
    throw new FerryError('analysis', `slice ${slice.name} has traffic but no metrics to judge it by`, { fix: 'route it through the embedded router or configure Prometheus' });
  }
  const outcome = await runCanary({
    traffic: {
      setWeight: async (weight) => {
        await setAndVerifyWeight(traffic, weight);
        journal.append('weight-set', { slice: slice.name, weight });
      },
      getWeights: () => traffic.getWeights(),
    },
    metrics: services.metrics.provider,
    clock: env.clock,
    source: services.metrics.source,
    target: services.metrics.target,
    steps: remaining,
    holdMs: env.durations?.stepHoldMs ?? slice.stepHoldMs,
    gates: slice.gates,
    analysis: slice.analysis,
    ...(services.shadowStats ? { probes: { shadow: services.shadowStats } } : {}),
    onEvent: (event: CanaryEvent) => {
      if (event.type === 'step-passed') journal.append('ramp-step-passed', { slice: slice.name, step: passedSteps + event.step, weight: remaining[event.step]! });
      if (event.type === 'rolled-back') journal.append('rolled-back', { slice: slice.name, ...event.rollback, evidence: summarizeVerdict(event.rollback.evidence) });
      if (event.type === 'step-started') env.onProgress?.({ slice: slice.name, stage: 'ramp', detail: `${event.weight}%` });
    },
  });
  if (outcome.result === 'rolled-back') {
    const rollback = outcome.rollback!;
    throw new FerryError('rolled-back', `slice ${slice.name} failed its gates at ${rollback.weightBefore}% and was rolled back to 0 in ${rollback.weightZeroAt - rollback.detectedAt} ms (detected ${rollback.detectedAt - rollback.onsetAt} ms after onset)`, {
      fix: 'see `ferry status` for the evidence; fix the target and `ferry resume`',
    });
  }
  if (outcome.result === 'held') {
    throw new FerryError('held', `slice ${slice.name} is held: the judge could not decide within the step's extensions`, { fix: 'look at the evidence with `ferry status`, then `ferry resume` to judge again or `ferry rollback`' });
  }
  return { steps: outcome.steps.length, alphaPerTest: outcome.alphaPerTest };
}

function summarizeVerdict(verdict: unknown): unknown {
  // Verdicts carry bucket series; the journal keeps the decision numbers, not the raw series.
  return JSON.parse(JSON.stringify(verdict, (key, value) => (key === 'buckets' || key === 'series' ? undefined : value)));
}

async function waitForApproval(plan: MigrationPlan, slice: EffectiveSlice, journal: Journal, env: RunEnvironment, id: string): Promise<void> {
  journal.append('approval-requested', { slice: slice.name, approvers: slice.approvers });
  env.onProgress?.({ slice: slice.name, stage: 'approval', detail: `waiting for ${slice.approvers.join(' or ')}: ferry approve ${id} ${slice.name}` });
  for (;;) {
    if ((await honourControl(journal, env, plan, id)) === 'stop') throw new FerryError('paused', 'run paused while waiting for approval', { fix: `ferry resume ${id}` });
    if (deriveRunState(id, plan, journal.records).approvals.some((a) => a.slice === slice.name)) return;
    await env.clock.sleep(500);
  }
}

/** Applies pending control requests; returns 'stop' when the run must stop here (pause or abort). */
async function honourControl(journal: Journal, env: RunEnvironment, _plan: MigrationPlan, id: string): Promise<'go' | 'stop'> {
  const requests = (await env.control?.()) ?? [];
  let verdict: 'go' | 'stop' = 'go';
  for (const request of requests) {
    if (request.action === 'approve') journal.append('approved', { slice: request.slice }, request.by);
    if (request.action === 'pause') {
      journal.append('run-paused', { run: id });
      verdict = 'stop';
    }
    if (request.action === 'abort') {
      journal.append('run-aborted', { run: id });
      verdict = 'stop';
    }
  }
  return verdict;
}

export function durationMs(text: string | undefined, fallback: number): number {
  return text ? parseDuration(text) : fallback;
}
