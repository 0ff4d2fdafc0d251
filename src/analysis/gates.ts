/**
 * One function per gate: the numbers of one window in, a verdict with the evidence out.
 * Pure: the judge (judge.ts) decides which windows to look at and at which level α.
 */
import type { ErrorRateGate, LatencyGate, PromqlGate } from './gates-schema.js';
import { parseDuration } from './gates-schema.js';
import { capSample, mannWhitney, tieGroupsOfSamples } from './stats/mann-whitney.js';
import { quantileSorted } from './stats/percentile.js';
import { testRateBelow, testRateIncrease, type ProportionEvidence } from './stats/proportions.js';
import { runSequentialTest } from './stats/msprt.js';

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface GateVerdict {
  gate: string;
  verdict: Verdict;
  /** One sentence a person can read in the journal. */
  reason: string;
  /** The window judged, epoch ms. */
  from: number;
  to: number;
  /** Every number behind the verdict: counts, rates, statistics, thresholds, α. */
  numbers: Record<string, number>;
}

/** Everything one window holds for target and source. */
export interface WindowData {
  from: number;
  to: number;
  /** `latenciesMs` may be thinned for the rank test; `slowerThan` counts over every response. */
  target: { requests: number; errors: number; latenciesMs: ArrayLike<number>; slowerThan?: (boundMs: number) => { count: number; n: number } };
  source: { requests: number; errors: number; latenciesMs: ArrayLike<number>; slowerThan?: (boundMs: number) => { count: number; n: number } };
}

/** Responses slower than `bound` over the whole window, or over the thinned sample if that is all there is. */
function slowerThan(side: WindowData['target'], sorted: Float64Array, bound: number): { count: number; n: number } {
  return side.slowerThan ? side.slowerThan(bound) : { count: countAboveSorted(sorted, bound), n: sorted.length };
}

/** Mixing scale for rate tests: sensitive from small shifts up; see stats/msprt.ts. */
function rateTau(threshold: number): number {
  return Math.min(0.25, Math.max(0.05, 2 * threshold));
}

function evidenceNumbers(prefix: string, e: ProportionEvidence, alpha: number): Record<string, number> {
  return {
    [`${prefix}.logLR`]: e.logLikelihoodRatio,
    [`${prefix}.logThreshold`]: e.logThreshold,
    [`${prefix}.pAlwaysValid`]: e.alwaysValidP,
    [`${prefix}.lower`]: e.lower,
    [`${prefix}.upper`]: e.upper,
    [`${prefix}.z`]: e.z,
    [`${prefix}.pFixed`]: e.fixedP,
    [`${prefix}.alpha`]: alpha,
  };
}

function verdictOf(above: boolean, below: boolean): Verdict {
  return above ? 'fail' : below ? 'pass' : 'inconclusive';
}

export function tooFewRequests(gate: string, w: WindowData, minRequests: number): GateVerdict | undefined {
  if (w.target.requests >= minRequests && w.source.requests >= minRequests) return undefined;
  return {
    gate,
    verdict: 'inconclusive',
    reason: `waiting for ${minRequests} requests per backend (target ${w.target.requests}, source ${w.source.requests})`,
    from: w.from,
    to: w.to,
    numbers: { targetRequests: w.target.requests, sourceRequests: w.source.requests, minRequests },
  };
}

/** Error rate: absolute maximum (one-sample) and target-minus-source maximum (two-proportion). */
export function judgeErrorRate(gate: ErrorRateGate, w: WindowData, alpha: number): GateVerdict[] {
  const target = { events: w.target.errors, n: w.target.requests };
  const source = { events: w.source.errors, n: w.source.requests };
  const base = {
    targetRequests: w.target.requests,
    targetErrors: w.target.errors,
    targetRate: target.events / target.n,
    sourceRequests: w.source.requests,
    sourceErrors: w.source.errors,
    sourceRate: source.events / source.n,
  };
  const out: GateVerdict[] = [];
  if (gate.max !== undefined) {
    const e = testRateBelow(target, gate.max, rateTau(gate.max), alpha);
    const verdict = verdictOf(e.above, e.below);
    out.push({
      gate: 'errorRate.max',
      verdict,
      reason: `target error rate ${pct(base.targetRate)} (${w.target.errors}/${w.target.requests}), always-valid ${pct(1 - alpha)} interval ${pct(e.lower)}–${pct(e.upper)} against max ${pct(gate.max)}`,
      from: w.from,
      to: w.to,
      numbers: { ...base, max: gate.max, ...evidenceNumbers('test', e, alpha) },
    });
  }
  if (gate.maxIncrease !== undefined) {
    const e = testRateIncrease(target, source, gate.maxIncrease, rateTau(gate.maxIncrease), alpha);
    out.push({
      gate: 'errorRate.maxIncrease',
      verdict: verdictOf(e.above, e.below),
      reason: `target ${pct(base.targetRate)} (${w.target.errors}/${w.target.requests}) vs source ${pct(base.sourceRate)} (${w.source.errors}/${w.source.requests}): increase ${pct(e.lower)}…${pct(e.upper)} against allowed ${pct(gate.maxIncrease)}`,
      from: w.from,
      to: w.to,
      numbers: { ...base, maxIncrease: gate.maxIncrease, increase: base.targetRate - base.sourceRate, ...evidenceNumbers('test', e, alpha) },
    });
  }
  return out;
}

/** Sorted copies of both latency samples, thinned to `cap`; computed once per window. */
export interface SortedLatencies {
  target: Float64Array;
  source: Float64Array;
}

export function sortLatencies(w: WindowData, cap: number): SortedLatencies {
  return {
    target: Float64Array.from(capSample(w.target.latenciesMs, cap)).sort(),
    source: Float64Array.from(capSample(w.source.latenciesMs, cap)).sort(),
  };
}

function countAboveSorted(sorted: Float64Array, bound: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= bound) lo = mid + 1;
    else hi = mid;
  }
  return sorted.length - lo;
}

/** How many statistical tests a latency gate runs per window (for the α split). */
export function latencyTestCount(gate: LatencyGate): number {
  return (gate.max !== undefined ? 1 : 0) + (gate.maxIncrease !== undefined ? 2 : 0);
}

/**
 * Latency at a percentile q. Absolute: the share of target responses slower than `max` must
 * not exceed 1 − q (a one-sample test on that share). Relative, with L = source pq × (1 +
 * maxIncrease): fail when the target's share of responses above L exceeds the source's by
 * more than 1 − q (the tail moved), or when the Mann-Whitney test says the target is slower
 * and its observed pq is above L (the whole distribution moved — Kayenta's test, which
 * needs far fewer samples than a tail count). Pass needs the tail test to say "below":
 * proving a p99 is within bounds takes thousands of responses, and the judge says so
 * (inconclusive) rather than guessing.
 */
export function judgeLatency(gate: LatencyGate, w: WindowData, sorted: SortedLatencies, alpha: number): GateVerdict[] {
  const q = gate.percentile;
  const tailShare = 1 - q / 100;
  const tau = Math.min(0.25, Math.max(0.02, 2 * tailShare));
  const name = `latency.p${q}`;
  const targetQ = quantileSorted(sorted.target, q);
  const sourceQ = quantileSorted(sorted.source, q);
  const base = { percentile: q, targetMs: targetQ, sourceMs: sourceQ, targetSamples: sorted.target.length, sourceSamples: sorted.source.length };
  const out: GateVerdict[] = [];
  if (sorted.target.length === 0 || sorted.source.length === 0) {
    // Requests without latencies (a histogram missing on one side): nothing to rank, nothing to pass.
    const reason = `no latency observations (target ${sorted.target.length} for ${w.target.requests} requests, source ${sorted.source.length} for ${w.source.requests})`;
    if (gate.max !== undefined) out.push(latencyUnavailable(`${name}.max`, reason, w));
    if (gate.maxIncrease !== undefined) out.push(latencyUnavailable(`${name}.maxIncrease`, reason, w));
    return out;
  }
  if (gate.max !== undefined) {
    const maxMs = parseDuration(gate.max);
    const { count: slow, n } = slowerThan(w.target, sorted.target, maxMs);
    const e = testRateBelow({ events: slow, n }, tailShare, tau, alpha);
    out.push({
      gate: `${name}.max`,
      verdict: verdictOf(e.above, e.below),
      reason: `target p${q} ${ms(targetQ)}; ${pct(slow / n)} of target responses slower than ${ms(maxMs)} (allowed ${pct(tailShare)}, interval ${pct(e.lower)}…${pct(e.upper)})`,
      from: w.from,
      to: w.to,
      numbers: { ...base, maxMs, slowerThanMax: slow, ...evidenceNumbers('tail', e, alpha) },
    });
  }
  if (gate.maxIncrease !== undefined) {
    const bound = sourceQ * (1 + gate.maxIncrease);
    const t = slowerThan(w.target, sorted.target, bound);
    const so = slowerThan(w.source, sorted.source, bound);
    const slow = t.count;
    const sourceSlow = so.count;
    // Two-sample on purpose: the bound comes from the source's own sample, whose p99 is noisy
    // when the source is small (late in a ramp); a one-sample test would take that noise for
    // a target regression. The allowed increase is the tail share itself: "target pq ≤ L"
    // means at most 1 − q of the target above L, where the source has ≈ 0 beyond its own pq.
    const tail = testRateIncrease({ events: slow, n: t.n }, { events: sourceSlow, n: so.n }, tailShare, tau, alpha);
    const mw = mannWhitney(tieGroupsOfSamples(sorted.target, sorted.source));
    const rank = runSequentialTest({ estimate: mw.effect, variance: mw.variance, null: 0, tau: 0.1, alpha });
    const ratio = targetQ / sourceQ;
    const shifted = rank.above && targetQ > bound;
    const fail = tail.above || shifted;
    const pass = !fail && tail.below;
    out.push({
      gate: `${name}.maxIncrease`,
      verdict: fail ? 'fail' : pass ? 'pass' : 'inconclusive',
      reason:
        `target p${q} ${ms(targetQ)} vs source ${ms(sourceQ)} (×${ratio.toFixed(2)}, allowed ×${(1 + gate.maxIncrease).toFixed(2)}); ` +
        `${pct(slow / t.n)} of target and ${pct(sourceSlow / so.n)} of source slower than ${ms(bound)} (allowed difference ${pct(tailShare)}, interval ${pct(tail.lower)}…${pct(tail.upper)}); ` +
        `Mann-Whitney effect ${mw.effect.toFixed(3)} (z ${mw.z.toFixed(2)}, interval ${rank.lower.toFixed(3)}…${rank.upper.toFixed(3)})`,
      from: w.from,
      to: w.to,
      numbers: {
        ...base,
        ratio,
        maxIncrease: gate.maxIncrease,
        boundMs: bound,
        slowerThanBound: slow,
        targetRequestsInWindow: t.n,
        sourceSlowerThanBound: sourceSlow,
        ...evidenceNumbers('tail', tail, alpha),
        'mannWhitney.u': mw.u,
        'mannWhitney.effect': mw.effect,
        'mannWhitney.z': mw.z,
        'mannWhitney.logLR': rank.logLikelihoodRatio,
        'mannWhitney.pAlwaysValid': rank.alwaysValidP,
        'mannWhitney.lower': rank.lower,
        'mannWhitney.upper': rank.upper,
      },
    });
  }
  return out;
}

/** The latency bound a latency verdict was about (for onset estimation). */
export function latencyBoundOf(verdict: GateVerdict): number | undefined {
  return verdict.numbers.boundMs ?? verdict.numbers.maxMs;
}

/** Shadow comparison: mismatched / compared against `maxRate` (one-sample, sequential). */
export function judgeShadow(maxRate: number, stats: { compared: number; mismatched: number } | undefined, minRequests: number, alpha: number, at: number): GateVerdict {
  if (!stats || stats.compared < minRequests) {
    return { gate: 'shadowMismatch', verdict: 'inconclusive', reason: `waiting for ${minRequests} compared requests (have ${stats?.compared ?? 0})`, from: at, to: at, numbers: { compared: stats?.compared ?? 0, minRequests } };
  }
  const e = testRateBelow({ events: stats.mismatched, n: stats.compared }, maxRate, rateTau(maxRate), alpha);
  return {
    gate: 'shadowMismatch',
    verdict: verdictOf(e.above, e.below),
    reason: `${stats.mismatched}/${stats.compared} mirrored responses differ (${pct(stats.mismatched / stats.compared)}, interval ${pct(e.lower)}…${pct(e.upper)}, allowed ${pct(maxRate)})`,
    from: at,
    to: at,
    numbers: { compared: stats.compared, mismatched: stats.mismatched, maxRate, ...evidenceNumbers('test', e, alpha) },
  };
}

/** What one PromQL gate query gave at a look: a number, or the failure and how many looks in a row failed. */
export type PromqlReading = { value: number } | { error: string; consecutive: number };

/**
 * A custom PromQL gate. A query that fails is evidence, never "no value": the verdict says
 * why, and after `errorLimit` failures in a row the gate fails (the judge cannot see, so the
 * weight goes back), as Argo Rollouts' consecutiveErrorLimit does.
 */
export function judgePromql(gate: PromqlGate, reading: PromqlReading | undefined, at: number, errorLimit: number): GateVerdict {
  const name = `promql.${gate.name}`;
  if (reading && 'error' in reading) {
    const failed = reading.consecutive >= errorLimit;
    return {
      gate: name,
      verdict: failed ? 'fail' : 'inconclusive',
      reason: `query failed (${reading.consecutive} in a row, limit ${errorLimit}): ${reading.error}`,
      from: at,
      to: at,
      numbers: { consecutiveErrors: reading.consecutive, errorLimit },
    };
  }
  const value = reading?.value;
  if (value === undefined || Number.isNaN(value)) {
    return { gate: name, verdict: 'inconclusive', reason: `query returned no value (NaN): ${gate.query}`, from: at, to: at, numbers: {} };
  }
  const tooHigh = gate.max !== undefined && value > gate.max;
  const tooLow = gate.min !== undefined && value < gate.min;
  const limits = { ...(gate.max !== undefined ? { max: gate.max } : {}), ...(gate.min !== undefined ? { min: gate.min } : {}) };
  return {
    gate: name,
    verdict: tooHigh || tooLow ? 'fail' : 'pass',
    reason: `${gate.query} = ${value}${tooHigh ? ` > max ${gate.max}` : tooLow ? ` < min ${gate.min}` : ' within bounds'}`,
    from: at,
    to: at,
    numbers: { value, ...limits },
  };
}

/** The per-backend series could not be read: no traffic gate can be judged at this look. */
export interface MetricsReadError {
  message: string;
  /** Looks in a row whose bucket queries failed. */
  consecutive: number;
  /** When the first of them failed, epoch ms. */
  since: number;
}

export function judgeMetricsRead(error: MetricsReadError, errorLimit: number, at: number): GateVerdict {
  const failed = error.consecutive >= errorLimit;
  return {
    gate: 'metrics',
    verdict: failed ? 'fail' : 'inconclusive',
    reason: `query failed (${error.consecutive} in a row, limit ${errorLimit}): ${error.message}`,
    from: error.since,
    to: at,
    numbers: { consecutiveErrors: error.consecutive, errorLimit },
  };
}

/** A latency gate the metrics cannot feed: inconclusive with the reason, so it is never passed blind. */
export function latencyUnavailable(gateName: string, reason: string, w: { from: number; to: number }): GateVerdict {
  return { gate: gateName, verdict: 'inconclusive', reason: `no latencies: ${reason}`, from: w.from, to: w.to, numbers: {} };
}

export function judgeReplicationLag(max: string, lagMs: number | undefined, at: number): GateVerdict {
  const maxMs = parseDuration(max);
  if (lagMs === undefined) return { gate: 'replicationLag', verdict: 'inconclusive', reason: 'no replication lag measured yet', from: at, to: at, numbers: { maxMs } };
  return { gate: 'replicationLag', verdict: lagMs <= maxMs ? 'pass' : 'fail', reason: `replication lag ${ms(lagMs)} (max ${ms(maxMs)})`, from: at, to: at, numbers: { lagMs, maxMs } };
}

export function judgeDataParity(parity: { ok: boolean; differences: number } | undefined, at: number): GateVerdict {
  if (!parity) return { gate: 'dataParity', verdict: 'inconclusive', reason: 'no parity check has finished yet', from: at, to: at, numbers: {} };
  return {
    gate: 'dataParity',
    verdict: parity.ok ? 'pass' : 'fail',
    reason: parity.ok ? 'last parity check found no difference' : `last parity check found ${parity.differences} differences`,
    from: at,
    to: at,
    numbers: { differences: parity.differences },
  };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

function ms(x: number): string {
  return `${x.toFixed(1)}ms`;
}
