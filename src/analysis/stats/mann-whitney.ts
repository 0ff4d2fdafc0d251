/**
 * Mann-Whitney U rank test, as Kayenta's judge uses it (Netflix/Spinnaker Kayenta,
 * `MannWhitney` in kayenta-judge), with the tie correction and the normal approximation.
 *
 * Inputs are tie groups in increasing order of value, each with how many of the target's and
 * the source's observations fall in it. Raw samples become one group per distinct value;
 * a Prometheus histogram becomes one group per bucket — ties are exactly what a histogram is.
 *
 * Effect reported as θ = U / (n_t·n_s) − ½ = P(target slower) + ½P(tie) − ½ (the "common
 * language effect size", 0 when the distributions are equal).
 */
export interface TieGroup {
  target: number;
  source: number;
}

export interface MannWhitneyResult {
  nTarget: number;
  nSource: number;
  /** U of the target: pairs where the target is slower, ties counting ½. */
  u: number;
  /** U/(n_t n_s) − ½. */
  effect: number;
  /** Variance of `effect` under H0, tie-corrected. */
  variance: number;
  /** (U − n_t n_s / 2) / σ_U. */
  z: number;
}

export function mannWhitney(groups: readonly TieGroup[]): MannWhitneyResult {
  let nTarget = 0;
  let nSource = 0;
  for (const g of groups) {
    nTarget += g.target;
    nSource += g.source;
  }
  let u = 0;
  let sourceBelow = 0;
  let tieTerm = 0;
  for (const g of groups) {
    u += g.target * (sourceBelow + g.source / 2);
    sourceBelow += g.source;
    const t = g.target + g.source;
    tieTerm += t * t * t - t;
  }
  const n = nTarget + nSource;
  const pairs = nTarget * nSource;
  if (pairs === 0 || n < 2) return { nTarget, nSource, u, effect: 0, variance: 0, z: 0 };
  // σ²_U = n_t n_s / 12 · ((n + 1) − Σ(t³ − t) / (n (n − 1))): the standard tie correction.
  const varianceU = (pairs / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const effect = u / pairs - 0.5;
  const variance = varianceU / (pairs * pairs);
  const z = varianceU > 0 ? (u - pairs / 2) / Math.sqrt(varianceU) : 0;
  return { nTarget, nSource, u, effect, variance, z };
}

/** Tie groups of two raw samples (any order). */
export function tieGroupsOfSamples(target: ArrayLike<number>, source: ArrayLike<number>): TieGroup[] {
  const t = Float64Array.from(target).sort();
  const s = Float64Array.from(source).sort();
  const groups: TieGroup[] = [];
  let i = 0;
  let j = 0;
  while (i < t.length || j < s.length) {
    const value = Math.min(i < t.length ? t[i]! : Infinity, j < s.length ? s[j]! : Infinity);
    let ct = 0;
    let cs = 0;
    while (i < t.length && t[i] === value) {
      ct++;
      i++;
    }
    while (j < s.length && s[j] === value) {
      cs++;
      j++;
    }
    groups.push({ target: ct, source: cs });
  }
  return groups;
}

/**
 * At most `cap` observations, evenly spaced through the sample (which is in arrival order).
 * The rank test's cost is n log n per look and its power saturates long before 10⁴ samples;
 * keeping the spacing even keeps the subsample representative of the whole window.
 */
export function capSample(sample: ArrayLike<number>, cap: number): ArrayLike<number> {
  if (sample.length <= cap) return sample;
  const out = new Float64Array(cap);
  const stride = sample.length / cap;
  for (let k = 0; k < cap; k++) out[k] = sample[Math.floor(k * stride)]!;
  return out;
}
