/**
 * Sequential tests on proportions (error rates, shadow mismatch rates, the share of requests
 * slower than a bound). Pure functions of counts.
 */
import { runSequentialTest, type SequentialResult } from './msprt.js';
import { twoSidedP } from './normal.js';

export interface ProportionEvidence extends SequentialResult {
  /** z = (θ̂ − θ0) / √V, and its fixed-sample two-sided p-value, for readers used to them. */
  z: number;
  fixedP: number;
  variance: number;
}

/**
 * Variance floor for an estimated rate: with zero events the plug-in variance is 0 and any
 * difference would look infinitely significant. Half an event (the usual continuity
 * correction) keeps small samples honest.
 */
function floorRate(events: number, n: number): number {
  return Math.min(1 - 0.5 / n, Math.max(events, 0.5) / n);
}

/**
 * Target-minus-source difference of two rates against an allowed increase `maxIncrease`
 * (H0: p_target − p_source = maxIncrease). The variance is taken at the null boundary: the
 * pooled rate for the source and pooled + maxIncrease for the target — the score-test
 * choice (Farrington & Manning, Statistics in Medicine 9(12), 1990, simplified), which is
 * what keeps a few early errors from looking significant.
 */
export function testRateIncrease(
  target: { events: number; n: number },
  source: { events: number; n: number },
  maxIncrease: number,
  tau: number,
  alpha: number,
): ProportionEvidence {
  const pt = target.events / target.n;
  const ps = source.events / source.n;
  const pooled = floorRate(target.events + source.events, target.n + source.n);
  const pt0 = Math.min(1 - 1e-9, pooled + maxIncrease);
  const variance = (pt0 * (1 - pt0)) / target.n + (pooled * (1 - pooled)) / source.n;
  return withZ(runSequentialTest({ estimate: pt - ps, variance, null: maxIncrease, tau, alpha }), pt - ps, maxIncrease, variance);
}

/** One rate against a fixed bound (H0: p = max), variance at the bound (a score test). */
export function testRateBelow(sample: { events: number; n: number }, max: number, tau: number, alpha: number): ProportionEvidence {
  const p = sample.events / sample.n;
  const p0 = Math.min(1 - 1e-9, Math.max(max, 0.5 / sample.n));
  const variance = (p0 * (1 - p0)) / sample.n;
  return withZ(runSequentialTest({ estimate: p, variance, null: max, tau, alpha }), p, max, variance);
}

function withZ(result: SequentialResult, estimate: number, nullValue: number, variance: number): ProportionEvidence {
  const z = variance > 0 ? (estimate - nullValue) / Math.sqrt(variance) : 0;
  return { ...result, z, fixedP: twoSidedP(z), variance };
}
