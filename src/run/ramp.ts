import { runCanary, type CanaryEvent, type GateProbes } from '../analysis/canary.js';
import { setAndVerifyWeight } from '../traffic/provider.js';
import { FerryError } from '../util/errors.js';
import { StopRequested } from './control.js';
import { RampSampler } from './samples.js';
import type { StageContext } from './stages.js';

/**
 * The ramp of one slice: DNS-like providers first wait out the old TTL (journaled, so a
 * resumed run waits only what is left), then each step is set, read back, held and judged.
 * A resumed ramp never moves users backwards: it continues from the weight the journal last
 * saw set, not from the first unpassed step. A pause holds the weight where it is; an abort
 * sets it to 0.
 */
export async function runRamp(ctx: StageContext): Promise<Record<string, unknown>> {
  const { slice, services, journal, env, control, state } = ctx;
  const traffic = services.traffic!;
  const { settleMs } = await traffic.reconcile();
  if (slice.stickiness && traffic.setStickiness) await traffic.setStickiness(slice.stickiness);
  await waitOutOldTtl(ctx, settleMs);

  const current = state.weight;
  const remaining = slice.steps.slice(state.passedSteps).filter((weight) => weight >= current);
  const firstIndex = slice.steps.length - remaining.length;
  if (remaining.length === 0) {
    await traffic.complete?.();
    return { steps: 0 };
  }
  if (!services.metrics) {
    throw new FerryError('analysis', `slice ${slice.name} has traffic but no metrics to judge it by`, { location: { field: 'spec.metrics' }, fix: 'add spec.metrics (Prometheus) to the plan' });
  }
  const detection: { failedAt?: number } = {};
  const sampler = new RampSampler(slice.name, journal);
  try {
    const outcome = await runCanary({
      traffic: {
        setWeight: async (weight) => {
          await setAndVerifyWeight(traffic, weight);
          journal.append('weight-set', { slice: slice.name, weight });
        },
        getWeights: () => traffic.getWeights(),
      },
      metrics: services.metrics.provider,
      clock: control.controlledClock(),
      source: services.metrics.source,
      target: services.metrics.target,
      steps: remaining,
      holdMs: slice.stepHoldMs,
      changeSettleMs: traffic.changeSettleMs ?? 0,
      gates: rampGates(ctx),
      analysis: slice.analysis,
      probes: probesFor(ctx),
      onEvent: (event: CanaryEvent) => {
        if (event.type === 'step-passed') journal.append('ramp-step-passed', { slice: slice.name, step: firstIndex + event.step, weight: remaining[event.step]! });
        if (event.type === 'rolled-back') {
          detection.failedAt = event.rollback.detectedAt;
          journal.append('rolled-back', { slice: slice.name, ...event.rollback, evidence: summarizeVerdict(event.rollback.evidence), detectionMs: event.rollback.detectedAt - event.rollback.onsetAt, recoveryMs: event.rollback.weightZeroAt - event.rollback.detectedAt });
        }
        if (event.type === 'step-started') sampler.stepStarted(event.weight);
        if (event.type === 'look') sampler.look(event.input, event.bucketMs);
        if (event.type === 'step-started') env.onProgress?.({ slice: slice.name, stage: 'ramp', detail: `${event.weight}%` });
        // An undecided step leaves its evidence: which gates were still open, and why.
        if (event.type === 'step-extended') journal.append('ramp-step-extended', { slice: slice.name, step: firstIndex + event.step, extension: event.extension, open: openGates(event.verdict) });
        if (event.type === 'step-inconclusive') journal.append('ramp-step-inconclusive', { slice: slice.name, step: firstIndex + event.step, action: event.action, open: openGates(event.verdict) });
      },
    });
    if (outcome.result === 'rolled-back') {
      const rollback = outcome.rollback!;
      throw new FerryError('ramp.rolled-back', `slice ${slice.name} failed its gates at ${rollback.weightBefore}% and was rolled back to 0 in ${rollback.weightZeroAt - rollback.detectedAt} ms (detected ${rollback.detectedAt - rollback.onsetAt} ms after onset)`, {
        fix: 'see `ferry status` for the evidence; fix the target and `ferry resume`',
      });
    }
    if (outcome.result === 'held') {
      throw new FerryError('ramp.held', `slice ${slice.name} is held: the judge could not decide within the step's extensions`, { fix: 'look at the evidence with `ferry status`, then `ferry resume` to judge again or `ferry rollback`' });
    }
    await traffic.complete?.();
    return { steps: outcome.steps.length, alphaPerTest: outcome.alphaPerTest };
  } catch (error) {
    if (error instanceof StopRequested && error.action === 'abort') {
      // Abort leaves the slice at weight 0: users go back to the side that served them before.
      await setAndVerifyWeight(traffic, 0);
      journal.append('weight-set', { slice: slice.name, weight: 0, reason: 'abort' });
    }
    throw error;
  }
}

/** Resolvers may still hold the record at its old TTL: the first step waits until they cannot. */
async function waitOutOldTtl(ctx: StageContext, settleMs: number): Promise<void> {
  const { slice, journal, env, control } = ctx;
  const journaled = ctx.recordsOf('traffic-settle').find((record) => record.data.slice === slice.name);
  let until: number;
  if (journaled) until = Date.parse(String(journaled.data.until));
  else if (settleMs > 0) {
    until = env.clock.now() + settleMs;
    journal.append('traffic-settle', { slice: slice.name, settleMs, until: new Date(until).toISOString(), reason: 'resolvers may cache the old TTL' });
  } else return;
  const left = until - env.clock.now();
  if (left <= 0) return;
  env.onProgress?.({ slice: slice.name, stage: 'ramp', detail: `waiting ${Math.ceil(left / 1000)} s for the old DNS TTL to expire` });
  await control.sleep(left);
}

/**
 * The gates a ramp step is judged on. The shadow gate belongs to the shadow stage (mirroring
 * is off while users move); the lag and parity gates apply only to a slice that moves data.
 */
function rampGates({ slice, services }: StageContext): StageContext['slice']['gates'] {
  const { shadowMismatch: _shadowStage, replicationLag, dataParity, ...gates } = slice.gates;
  return { ...gates, ...(services.data && replicationLag ? { replicationLag } : {}), ...(services.data && dataParity ? { dataParity } : {}) };
}

/** Gates that did not pass in a verdict, with their reasons (what `ferry status` shows for a held step). */
function openGates(verdict: unknown): Array<{ gate: string; verdict: string; reason: string }> {
  const gates = (verdict as { gates?: Array<{ gate: string; verdict: string; reason: string }> }).gates ?? [];
  return gates.filter((gate) => gate.verdict !== 'pass').map(({ gate, verdict: result, reason }) => ({ gate, verdict: result, reason }));
}

/** The lag and parity gates read the slice's data provider at every look (parity at most once a step window). */
function probesFor({ slice, services }: StageContext): GateProbes {
  const probes: GateProbes = {};
  const data = services.data;
  if (data && slice.gates.replicationLag) {
    probes.replicationLagMs = async () => {
      const lag = await data.lag();
      return lag.seconds === null ? undefined : lag.seconds * 1000;
    };
  }
  if (data && slice.gates.dataParity?.required) {
    let last: { at: number; result: { ok: boolean; differences: number } } | undefined;
    let running: Promise<void> | undefined;
    probes.parity = async () => {
      const now = Date.now();
      if (!running && (!last || now - last.at >= slice.stepHoldMs)) {
        running = data.parity().then((report) => {
          last = { at: Date.now(), result: { ok: report.ok, differences: report.differences.length } };
        }, () => {
          // A failed check is no parity evidence: the gate sees no value and cannot pass on it.
          last = undefined;
        }).finally(() => {
          running = undefined;
        });
        if (!last) await running;
      }
      return last?.result;
    };
  }
  return probes;
}

function summarizeVerdict(verdict: unknown): unknown {
  // Verdicts carry bucket series; the journal keeps the decision numbers, not the raw series.
  return JSON.parse(JSON.stringify(verdict, (key, value) => (key === 'buckets' || key === 'series' ? undefined : value)));
}
