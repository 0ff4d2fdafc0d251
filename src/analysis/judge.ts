/**
 * The sequential judge: looks at target against source as often as it likes, calls a clear
 * failure as soon as the evidence crosses the line, and never guesses on an unclear window.
 *
 * Error control (why the false-rollback rate of a whole ramp is at most `alpha`):
 *  - every statistical test is an mSPRT (stats/msprt.ts): however often it is looked at, it
 *    crosses its threshold under H0 with probability ≤ its own level (Ville's inequality);
 *  - a failure that starts in the middle of a long step would be diluted by the healthy
 *    minutes before it, so besides the test started at the step's start the judge starts a
 *    fresh test every `restartMs` (each kept for `maxAgeMs`). The number of tests a step can
 *    start is bounded by its longest duration (hold × (1 + maxExtensions));
 *  - Bonferroni over everything: α_test = alpha / (steps × Σ tests that can start in a step).
 *    A union bound then caps P(any false fail in the ramp) at `alpha`. The price is
 *    logarithmic: the threshold is log(1/α_test), so 10× more tests cost log 10 ≈ 2.3 nats.
 * Pass is only ever decided on the whole step (the longest window, the most data).
 */
import type { AnalysisConfig, Gates } from './gates-schema.js';
import {
  judgeDataParity,
  judgeErrorRate,
  judgeLatency,
  judgeMetricsRead,
  judgePromql,
  judgeReplicationLag,
  judgeShadow,
  latencyBoundOf,
  latencyTestCount,
  latencyUnavailable,
  sortLatencies,
  tooFewRequests,
  type GateVerdict,
  type MetricsReadError,
  type PromqlReading,
  type Verdict,
  type WindowData,
} from './gates.js';
import type { Bucket } from './metrics-provider.js';

export interface JudgeSetup {
  gates: Gates;
  analysis: AnalysisConfig;
  /** Traffic steps in the ramp; the budget `alpha` is split over them. */
  steps: number;
  /** Longest time one step can be judged, ms (hold × (1 + maxExtensions)). */
  maxStepMs: number;
  /** Width of the buckets the judge is given, ms. */
  bucketMs: number;
}

/** What the world looked like at one look: buckets since the step started, and probe values. */
export interface LookInput {
  now: number;
  target: Bucket[];
  source: Bucket[];
  /**
   * When the source serves nothing (the 100 % step), the source as it was observed over the
   * previous step: every window compares the target against this whole fixed sample instead.
   */
  baseline?: Bucket[];
  promql?: Record<string, PromqlReading | undefined>;
  /** The per-backend queries failed at this look: `target`/`source` are empty, and this says why. */
  metricsError?: MetricsReadError;
  /** The metrics provider has no latencies at all (MetricsProvider.noLatency): latency gates say so. */
  noLatency?: string;
  shadow?: { compared: number; mismatched: number };
  replicationLagMs?: number;
  parity?: { ok: boolean; differences: number };
}

export interface JudgeVerdict {
  verdict: Verdict;
  at: number;
  /** Failing gates first, then the rest. */
  gates: GateVerdict[];
  /** For a fail: the first bucket of the change, estimated from the data (epoch ms). */
  onsetAt?: number;
  alphaPerTest: number;
}

interface Schedule {
  restartMs: number;
  maxAgeMs: number;
}

/** Error tests restart every second (fast detection is cheap); rank tests every 5 s (they sort). */
const ERROR_SCHEDULE: Schedule = { restartMs: 1000, maxAgeMs: 10_000 };
const LATENCY_SCHEDULE: Schedule = { restartMs: 5000, maxAgeMs: 20_000 };

export class SequentialJudge {
  readonly alphaPerTest: number;
  private readonly errorSchedule: Schedule;
  private readonly latencySchedule: Schedule;

  constructor(private readonly setup: JudgeSetup) {
    this.errorSchedule = align(ERROR_SCHEDULE, setup.bucketMs);
    this.latencySchedule = align(LATENCY_SCHEDULE, setup.bucketMs);
    this.alphaPerTest = setup.analysis.alpha / (setup.steps * this.testsPerStep());
  }

  /** Upper bound on the statistical tests one step can start (the Bonferroni divisor). */
  testsPerStep(): number {
    const { gates, maxStepMs } = this.setup;
    const errorTests = (gates.errorRate?.max !== undefined ? 1 : 0) + (gates.errorRate?.maxIncrease !== undefined ? 1 : 0);
    const latencyTests = (gates.latency ?? []).reduce((sum, gate) => sum + latencyTestCount(gate), 0);
    const starts = (s: Schedule) => 1 + Math.ceil(maxStepMs / s.restartMs);
    return Math.max(1, errorTests * starts(this.errorSchedule) + latencyTests * starts(this.latencySchedule) + (gates.shadowMismatch ? 1 : 0));
  }

  /** Judges one look. `input.target[0]` / `input.source[0]` start at the step's start. */
  look(input: LookInput): JudgeVerdict {
    const { gates, analysis } = this.setup;
    const alpha = this.alphaPerTest;
    const stepStart = input.target[0]?.start ?? input.now;
    const verdicts: GateVerdict[] = [];
    const target = prefixSums(input.target);
    const source = prefixSums(input.baseline ?? input.source);

    if (input.metricsError) {
      verdicts.push(judgeMetricsRead(input.metricsError, analysis.consecutiveErrorLimit, input.now));
    } else {
      if (gates.errorRate) {
        const gate = gates.errorRate;
        verdicts.push(
          ...this.acrossStarts(['errorRate.max', 'errorRate.maxIncrease'].filter((name) => gate[name.split('.')[1] as 'max' | 'maxIncrease'] !== undefined), this.errorSchedule, input, target, source, (w) =>
            judgeErrorRate(gate, w, alpha),
          ),
        );
      }
      for (const gate of gates.latency ?? []) {
        const names = [...(gate.max !== undefined ? [`latency.p${gate.percentile}.max`] : []), ...(gate.maxIncrease !== undefined ? [`latency.p${gate.percentile}.maxIncrease`] : [])];
        if (input.noLatency) {
          for (const name of names) verdicts.push(latencyUnavailable(name, input.noLatency, { from: stepStart, to: input.now }));
          continue;
        }
        verdicts.push(
          ...this.acrossStarts(names, this.latencySchedule, input, target, source, (w) => judgeLatency(gate, w, sortLatencies(w, analysis.latencySampleCap), alpha), true),
        );
      }
    }
    if (gates.shadowMismatch) verdicts.push(judgeShadow(gates.shadowMismatch.maxRate, input.shadow, gates.minRequests, alpha, input.now));
    for (const gate of gates.promql ?? []) verdicts.push(judgePromql(gate, input.promql?.[gate.name], input.now, analysis.consecutiveErrorLimit));
    if (gates.replicationLag) verdicts.push(judgeReplicationLag(gates.replicationLag.max, input.replicationLagMs, input.now));
    if (gates.dataParity?.required) verdicts.push(judgeDataParity(input.parity, input.now));

    const failed = verdicts.filter((v) => v.verdict === 'fail');
    const verdict: Verdict = failed.length > 0 ? 'fail' : verdicts.length > 0 && verdicts.every((v) => v.verdict === 'pass') ? 'pass' : 'inconclusive';
    const ordered = [...failed, ...verdicts.filter((v) => v.verdict !== 'fail')];
    const result: JudgeVerdict = { verdict, at: input.now, gates: ordered, alphaPerTest: alpha };
    // A judge that cannot read the metrics dates the problem from the first failed read.
    if (failed[0]) result.onsetAt = failed[0].gate === 'metrics' && input.metricsError ? input.metricsError.since : estimateOnset(failed[0], input.target, stepStart);
    return result;
  }

  /**
   * Runs `judge` on the whole step and on every restarted window still young enough; a gate
   * fails if any window fails it, and otherwise takes the whole step's verdict.
   */
  private acrossStarts(
    names: string[],
    schedule: Schedule,
    input: LookInput,
    target: Sums,
    source: Sums,
    judge: (w: WindowData) => GateVerdict[],
    needsLatencies = false,
  ): GateVerdict[] {
    const min = this.setup.gates.minRequests;
    const cap = this.setup.analysis.latencySampleCap;
    const bucketMs = this.setup.bucketMs;
    const n = input.target.length;
    const perRestart = Math.round(schedule.restartMs / bucketMs);
    const maxAgeBuckets = Math.round(schedule.maxAgeMs / bucketMs);
    const whole = windowOf(input, target, source, 0, needsLatencies, cap);
    const gateNames = new Map<string, GateVerdict>();
    const wholeTooFew = tooFewRequests('', whole, min);
    for (const name of names) {
      gateNames.set(name, wholeTooFew ? { ...wholeTooFew, gate: name } : { gate: name, verdict: 'inconclusive', reason: '', from: whole.from, to: whole.to, numbers: {} });
    }
    if (wholeTooFew) return [...gateNames.values()];
    for (const v of judge(whole)) gateNames.set(v.gate, v);
    // Restarted windows, youngest last; only failures are taken from them.
    for (let first = perRestart; first < n; first += perRestart) {
      if (n - first > maxAgeBuckets) continue;
      const w = windowOf(input, target, source, first, needsLatencies, cap);
      if (tooFewRequests('', w, min)) continue;
      for (const v of judge(w)) {
        if (v.verdict === 'fail' && gateNames.get(v.gate)?.verdict !== 'fail') gateNames.set(v.gate, v);
      }
    }
    return [...gateNames.values()];
  }
}

interface Sums {
  requests: number[];
  errors: number[];
}

function prefixSums(buckets: Bucket[]): Sums {
  const requests = [0];
  const errors = [0];
  for (const b of buckets) {
    requests.push(requests[requests.length - 1]! + b.requests);
    errors.push(errors[errors.length - 1]! + b.errors);
  }
  return { requests, errors };
}

function windowOf(input: LookInput, target: Sums, source: Sums, first: number, withLatencies: boolean, cap: number): WindowData {
  const n = input.target.length;
  const latencies = (buckets: Bucket[]) => (withLatencies ? thinnedLatencies(buckets, first, cap) : []);
  return {
    from: input.target[first]?.start ?? input.now,
    to: input.now,
    target: { requests: target.requests[n]! - target.requests[first]!, errors: target.errors[n]! - target.errors[first]!, latenciesMs: latencies(input.target), slowerThan: (bound) => countSlower(input.target, first, bound) },
    source: input.baseline ? baselineWindow(input.baseline, source, withLatencies, cap) : { requests: source.requests[n]! - source.requests[first]!, errors: source.errors[n]! - source.errors[first]!, latenciesMs: latencies(input.source), slowerThan: (bound) => countSlower(input.source, first, bound) },
  };
}

/** The whole fixed baseline, whatever window of the target it is compared with. */
function baselineWindow(baseline: Bucket[], sums: Sums, withLatencies: boolean, cap: number): WindowData['source'] {
  const last = baseline.length;
  return {
    requests: sums.requests[last]!,
    errors: sums.errors[last]!,
    latenciesMs: withLatencies ? thinnedLatencies(baseline, 0, cap) : new Float64Array(0),
    slowerThan: (bound) => countSlower(baseline, 0, bound),
  };
}

function countSlower(buckets: Bucket[], first: number, bound: number): { count: number; n: number } {
  let count = 0;
  let n = 0;
  for (let i = first; i < buckets.length; i++) {
    const values = buckets[i]!.latenciesMs;
    n += values.length;
    for (const value of values) if (value > bound) count++;
  }
  return { count, n };
}

/**
 * The latencies of buckets[first..], thinned evenly to at most `cap` without copying the
 * whole window (the rank test's power saturates long before 10⁴ samples; see capSample).
 */
function thinnedLatencies(buckets: Bucket[], first: number, cap: number): Float64Array {
  let total = 0;
  for (let i = first; i < buckets.length; i++) total += buckets[i]!.latenciesMs.length;
  const size = Math.min(total, cap);
  const out = new Float64Array(size);
  const stride = total / Math.max(1, size);
  let k = 0;
  let seen = 0;
  for (let i = first; i < buckets.length && k < size; i++) {
    const values = buckets[i]!.latenciesMs;
    while (k < size) {
      const index = Math.floor(k * stride) - seen;
      if (index >= values.length) break;
      out[k++] = values[index]!;
    }
    seen += values.length;
  }
  return out;
}

function align(schedule: Schedule, bucketMs: number): Schedule {
  const up = (x: number) => Math.max(bucketMs, Math.ceil(x / bucketMs) * bucketMs);
  return { restartMs: up(schedule.restartMs), maxAgeMs: up(schedule.maxAgeMs) };
}

/**
 * Where the change began: Page's CUSUM (Biometrika 41, 1954) run forward over the target's
 * buckets, S_k = max(0, S_{k−1} + bad_k − n_k · p_ref), with p_ref halfway between the rate
 * the gate allows and the rate it saw; the change began just after S was last 0. Unlike an
 * argmax over suffix sums, an early burst (cold connections at step start) followed by
 * healthy minutes is forgotten. "Bad" is an error, or a response slower than the bound.
 */
export function estimateOnset(failed: GateVerdict, target: Bucket[], stepStart: number): number {
  const bound = latencyBoundOf(failed);
  const isLatency = failed.gate.startsWith('latency.');
  const badOf = (b: Bucket) => (isLatency && bound !== undefined ? b.latenciesMs.filter((l) => l > bound).length : b.errors);
  const allowed = isLatency ? 1 - (failed.numbers.percentile ?? 99) / 100 : (failed.numbers.sourceRate ?? 0) + (failed.numbers.maxIncrease ?? 0);
  const seen = isLatency
    ? (failed.numbers.slowerThanBound ?? failed.numbers.slowerThanMax ?? 0) / Math.max(1, failed.numbers.targetRequestsInWindow ?? failed.numbers.targetSamples ?? 1)
    : (failed.numbers.targetRate ?? 0);
  const pRef = (Math.min(allowed, seen) + seen) / 2;
  let onset = stepStart;
  let sum = 0;
  for (const b of target) {
    sum = Math.max(0, sum + badOf(b) - b.requests * pRef);
    if (sum === 0) onset = b.start + (target[1] ? target[1].start - target[0]!.start : 0);
  }
  return onset;
}
