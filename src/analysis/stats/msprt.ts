/**
 * Mixture sequential probability ratio test (mSPRT) with a normal mixing distribution, and
 * the always-valid p-value and confidence sequence it gives.
 *
 * Method: Johari, Koomen, Pekelis & Walsh, "Always Valid Inference: Continuous Monitoring of
 * A/B Tests", Operations Research 70(3), 2022 (arXiv:1512.04922), section 4: for an estimate
 * θ̂ that is (asymptotically) N(θ, V), the mixture likelihood ratio of H0: θ = θ0 against
 * alternatives θ ~ N(θ0, τ²) is
 *
 *     Λ = sqrt(V / (V + τ²)) · exp( τ² (θ̂ − θ0)² / (2 V (V + τ²)) ).
 *
 * Λ is a non-negative martingale under H0 with mean 1, so by Ville's inequality
 * P(Λ ever ≥ 1/α) ≤ α however often it is looked at. Stopping the first time Λ ≥ 1/α is a
 * level-α test that may be peeked at after every request; p = min over looks of 1/Λ is an
 * always-valid p-value. Inverting the test over θ0 gives the confidence sequence
 * θ̂ ± radius (Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric,
 * nonasymptotic confidence sequences", Annals of Statistics 2021, eq. (14), normal mixture).
 *
 * The guarantee is exact for Gaussian increments and asymptotic for the proportions and rank
 * statistics Ferry feeds in (plug-in variance); the minimum request count keeps the normal
 * approximation honest, and the simulated-ramp tests measure the real false-rollback rate.
 */

export interface SequentialTest {
  /** The estimate θ̂ and its variance V under the null boundary. */
  estimate: number;
  variance: number;
  /** The null boundary θ0 (e.g. the allowed increase of the error rate). */
  null: number;
  /** Mixing scale τ: the size of effect the test is most sensitive to. */
  tau: number;
  /** Level for this one test, after the judge has split the ramp's budget. */
  alpha: number;
}

export interface SequentialResult {
  /** log Λ: evidence against θ = θ0 (natural log). */
  logLikelihoodRatio: number;
  /** log(1/α): the threshold log Λ must reach. */
  logThreshold: number;
  /** min(1, 1/Λ) at this look. */
  alwaysValidP: number;
  /** θ̂ ± radius: the always-valid confidence interval at level α. */
  lower: number;
  upper: number;
  /** Λ ≥ 1/α and θ̂ above the null: the data says the effect is above θ0. */
  above: boolean;
  /** Λ ≥ 1/α and θ̂ below the null: the data says the effect is below θ0. */
  below: boolean;
}

export function mixtureLogLikelihoodRatio(estimate: number, nullValue: number, variance: number, tau: number): number {
  if (!(variance > 0) || !(tau > 0)) return 0;
  const tau2 = tau * tau;
  const d = estimate - nullValue;
  return 0.5 * Math.log(variance / (variance + tau2)) + (tau2 * d * d) / (2 * variance * (variance + tau2));
}

/** Half-width of the always-valid (1 − α) confidence interval for θ. */
export function confidenceRadius(variance: number, tau: number, alpha: number): number {
  if (!(variance > 0)) return 0;
  const tau2 = tau * tau;
  return Math.sqrt(((variance * (variance + tau2)) / tau2) * (2 * Math.log(1 / alpha) + Math.log((variance + tau2) / variance)));
}

export function runSequentialTest(test: SequentialTest): SequentialResult {
  const logLikelihoodRatio = mixtureLogLikelihoodRatio(test.estimate, test.null, test.variance, test.tau);
  const logThreshold = Math.log(1 / test.alpha);
  const radius = confidenceRadius(test.variance, test.tau, test.alpha);
  const decided = logLikelihoodRatio >= logThreshold;
  return {
    logLikelihoodRatio,
    logThreshold,
    alwaysValidP: Math.min(1, Math.exp(-logLikelihoodRatio)),
    lower: test.estimate - radius,
    upper: test.estimate + radius,
    above: decided && test.estimate > test.null,
    below: decided && test.estimate < test.null,
  };
}
