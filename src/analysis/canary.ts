/**
 * The canary loop: ramp the target's weight step by step, judge target against source at
 * every look, and on a failure set the target's weight to 0 at once, read it back, and
 * record what was decided, on which evidence, when the change began (as observed), when it
 * was detected and when the weight was seen at 0.
 */
import type { TrafficProvider } from '../traffic/provider.js';
import { FerryError } from '../util/errors.js';
import type { Clock } from './clock.js';
import { parseDuration, type AnalysisConfig, type Gates } from './gates-schema.js';
import { SequentialJudge, type JudgeVerdict, type LookInput } from './judge.js';
import type { Bucket, MetricsProvider } from './metrics-provider.js';

/** Values from other parts of Ferry that some gates need, read at every look. */
export interface GateProbes {
  shadow?: () => Promise<{ compared: number; mismatched: number } | undefined>;
  replicationLagMs?: () => Promise<number | undefined>;
  parity?: () => Promise<{ ok: boolean; differences: number } | undefined>;
}

export interface CanaryOptions {
  traffic: Pick<TrafficProvider, 'setWeight' | 'getWeights'>;
  metrics: MetricsProvider;
  clock: Clock;
  /** Backend names as the metrics provider labels them. */
  source: string;
  target: string;
  /** Target weights in percent, e.g. [1, 10, 50, 100]. */
  steps: number[];
  /** How long each step is held before it may pass, ms. */
  holdMs: number;
  /** How long after a weight change clients can have seen it (DNS TTL); the step's window starts after it. */
  changeSettleMs?: number;
  gates: Gates;
  analysis: AnalysisConfig;
  probes?: GateProbes;
  /** Called after every look and decision: the journal writes these. */
  onEvent?: (event: CanaryEvent) => void;
}

export type CanaryEvent =
  | { type: 'step-started'; step: number; weight: number; at: number }
  /** `input`: what the judge was shown (buckets since the step started, probe values), `bucketMs` their width. */
  | { type: 'look'; step: number; verdict: JudgeVerdict; input: LookInput; bucketMs: number }
  | { type: 'step-extended'; step: number; extension: number; verdict: JudgeVerdict }
  | { type: 'step-passed'; step: number; verdict: JudgeVerdict }
  | { type: 'step-inconclusive'; step: number; action: AnalysisConfig['onInconclusive']; verdict: JudgeVerdict }
  | { type: 'rolled-back'; rollback: RollbackRecord };

export interface RollbackRecord {
  step: number;
  weightBefore: number;
  decision: 'fail' | 'inconclusive';
  /** The verdict that decided it, with every number behind it. */
  evidence: JudgeVerdict;
  /** First bucket of the change, estimated from the data. */
  onsetAt: number;
  detectedAt: number;
  /** When the provider was first read back showing target weight 0. */
  weightZeroAt: number;
}

export interface StepRecord {
  step: number;
  weight: number;
  startedAt: number;
  endedAt: number;
  outcome: 'pass' | 'advanced-inconclusive' | 'held' | 'fail';
  extensions: number;
  looks: number;
  /** For the 100 % step: the source window the target was compared with (the step before). */
  baseline?: { from: number; to: number; weight: number };
}

export interface CanaryOutcome {
  result: 'completed' | 'rolled-back' | 'held';
  steps: StepRecord[];
  rollback?: RollbackRecord;
  alphaPerTest: number;
}

export async function runCanary(options: CanaryOptions): Promise<CanaryOutcome> {
  const { clock, metrics, analysis } = options;
  const lookMs = Math.max(metrics.resolutionMs, Math.ceil(parseDuration(analysis.interval) / metrics.resolutionMs) * metrics.resolutionMs);
  const bucketMs = metrics.resolutionMs;
  const judge = new SequentialJudge({
    gates: options.gates,
    analysis,
    steps: options.steps.length,
    maxStepMs: options.holdMs * (1 + analysis.maxExtensions),
    bucketMs,
  });
  if (!(await metrics.isOnline())) {
    throw new FerryError('analysis.metrics-offline', `the ${metrics.name} metrics provider is not answering`, { fix: 'check the metrics address in the plan; a ramp is never started blind' });
  }
  const records: StepRecord[] = [];
  const reads: ReadState = { metricsFailures: 0, promqlFailures: new Map() };
  for (const [index, weight] of options.steps.entries()) {
    delete reads.baseline;
    delete reads.baselineWindow;
    await setAndReadBack(options.traffic, weight);
    if (options.changeSettleMs) await clock.sleep(options.changeSettleMs);
    // Judge only what was routed after the change: start at the next bucket boundary.
    const stepStart = Math.ceil(clock.now() / bucketMs) * bucketMs;
    options.onEvent?.({ type: 'step-started', step: index, weight, at: stepStart });
    const record: StepRecord = { step: index, weight, startedAt: stepStart, endedAt: stepStart, outcome: 'held', extensions: 0, looks: 0 };
    records.push(record);
    let holdUntil = stepStart + options.holdMs;
    let now = stepStart;
    // At 100 % the source serves nothing to compare with live: the target is judged against
    // the source of the step before (its whole window), instead of waiting forever.
    const previous = records.at(-2);
    if (weight === 100 && previous) {
      reads.baselineWindow = { from: previous.startedAt, to: previous.endedAt, weight: previous.weight };
      record.baseline = reads.baselineWindow;
    }
    while (true) {
      now += lookMs;
      await clock.sleep(Math.max(0, now - clock.now()));
      const input = await readLook(options, reads, stepStart, now, bucketMs);
      const verdict = judge.look(input);
      record.looks++;
      record.endedAt = now;
      options.onEvent?.({ type: 'look', step: index, verdict, input, bucketMs });
      if (verdict.verdict === 'fail') {
        record.outcome = 'fail';
        const rollback = await rollBack(options, index, weight, verdict, 'fail');
        return { result: 'rolled-back', steps: records, rollback, alphaPerTest: judge.alphaPerTest };
      }
      if (now < holdUntil) continue;
      if (verdict.verdict === 'pass') {
        record.outcome = 'pass';
        options.onEvent?.({ type: 'step-passed', step: index, verdict });
        break;
      }
      if (record.extensions < analysis.maxExtensions) {
        record.extensions++;
        holdUntil += options.holdMs;
        options.onEvent?.({ type: 'step-extended', step: index, extension: record.extensions, verdict });
        continue;
      }
      options.onEvent?.({ type: 'step-inconclusive', step: index, action: analysis.onInconclusive, verdict });
      if (analysis.onInconclusive === 'advance') {
        record.outcome = 'advanced-inconclusive';
        break;
      }
      if (analysis.onInconclusive === 'rollback') {
        const rollback = await rollBack(options, index, weight, verdict, 'inconclusive');
        return { result: 'rolled-back', steps: records, rollback, alphaPerTest: judge.alphaPerTest };
      }
      return { result: 'held', steps: records, alphaPerTest: judge.alphaPerTest };
    }
  }
  return { result: 'completed', steps: records, alphaPerTest: judge.alphaPerTest };
}

/** Failures in a row, kept across looks: a failed query is evidence, and enough of them a verdict. */
interface ReadState {
  metricsFailures: number;
  metricsSince?: number;
  promqlFailures: Map<string, number>;
  /** The 100 % step's fixed source window, read once it can be. */
  baselineWindow?: { from: number; to: number; weight: number };
  baseline?: Bucket[];
}

async function readLook(options: CanaryOptions, reads: ReadState, from: number, to: number, bucketMs: number): Promise<LookInput> {
  const { metrics, probes } = options;
  const input: LookInput = { now: to, target: [], source: [] };
  if (metrics.noLatency) input.noLatency = metrics.noLatency;
  try {
    const window = reads.baselineWindow;
    const [target, source, baseline] = await Promise.all([
      metrics.buckets(options.target, from, to, bucketMs),
      metrics.buckets(options.source, from, to, bucketMs),
      window && !reads.baseline ? metrics.buckets(options.source, window.from, window.to, bucketMs) : Promise.resolve(reads.baseline),
    ]);
    input.target = target;
    input.source = source;
    if (baseline) input.baseline = reads.baseline = baseline;
    reads.metricsFailures = 0;
    delete reads.metricsSince;
  } catch (error) {
    // Never zero traffic: the judge shows the failure, and fails the step after enough in a row.
    reads.metricsFailures++;
    reads.metricsSince ??= to;
    input.metricsError = { message: messageOf(error), consecutive: reads.metricsFailures, since: reads.metricsSince };
  }
  if (options.gates.promql?.length) {
    input.promql = {};
    for (const gate of options.gates.promql) {
      const query = gate.query.replaceAll('$target', options.target).replaceAll('$source', options.source);
      try {
        input.promql[gate.name] = { value: await metrics.query(query, to) };
        reads.promqlFailures.set(gate.name, 0);
      } catch (error) {
        const consecutive = (reads.promqlFailures.get(gate.name) ?? 0) + 1;
        reads.promqlFailures.set(gate.name, consecutive);
        input.promql[gate.name] = { error: messageOf(error), consecutive };
      }
    }
  }
  if (probes?.shadow) input.shadow = await probes.shadow();
  if (probes?.replicationLagMs) input.replicationLagMs = await probes.replicationLagMs();
  if (probes?.parity) input.parity = await probes.parity();
  return input;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function rollBack(options: CanaryOptions, step: number, weightBefore: number, evidence: JudgeVerdict, decision: RollbackRecord['decision']): Promise<RollbackRecord> {
  const detectedAt = options.clock.now();
  await setAndReadBack(options.traffic, 0);
  const weightZeroAt = options.clock.now();
  const rollback: RollbackRecord = { step, weightBefore, decision, evidence, onsetAt: evidence.onsetAt ?? evidence.at, detectedAt, weightZeroAt };
  options.onEvent?.({ type: 'rolled-back', rollback });
  return rollback;
}

/** Set, then read back until the provider shows it (observe-then-ensure), at most 5 tries. */
async function setAndReadBack(traffic: CanaryOptions['traffic'], weight: number): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await traffic.setWeight(weight);
    const read = await traffic.getWeights();
    if (read.target === weight) return;
  }
  throw new FerryError('weight-not-applied', `the traffic provider does not show target weight ${weight}% after 5 attempts`, {
    fix: 'check that nothing else manages these routes, then roll back by hand with `ferry rollback`',
  });
}
