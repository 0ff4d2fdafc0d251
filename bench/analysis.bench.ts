/**
 * The bad-canary scenario under Ferry's sequential judge and under a fixed-interval policy
 * like Flagger's defaults, in one run, on the same seeded traffic (common random numbers:
 * every request draws the same routing, error and latency numbers under both policies, so
 * they differ only in when the weight goes back to 0).
 *
 * Scenario: 500 req/s, target at 10 %, source errors 0.5 %; 37 s into the step the target
 * starts failing 20 % of its requests. Flagger: interval 60 s, request-success-rate ≥ 99 %
 * over the last minute, rollback after `threshold` failed checks — 1 (its default when unset)
 * and 5 (its documentation's examples); see /work/shared/design/field-notes.md.
 */
import { runCanary } from '../src/analysis/canary.js';
import { analysisSchema, gatesSchema } from '../src/analysis/gates-schema.js';
import { RouterMetricsProvider } from '../src/analysis/router-metrics.js';
import { SimulatedTraffic, type BackendModel } from '../src/analysis/simulation.js';
import { report, section } from './report.js';

const RPS = 500;
/** Onset at a different phase of Flagger's 60 s interval for each seed. */
const ONSET_AFTER_MS = [37_000, 71_000, 95_000, 128_000, 154_000];
const HORIZON_AFTER_ONSET_MS = 10 * 60_000;
const healthy: BackendModel = { errorRate: 0.005, medianMs: 20, sigma: 0.5 };
const failing: BackendModel = { ...healthy, errorRate: 0.2 };

interface PolicyResult {
  detectedAfterMs: number;
  failedRequests: number;
  /** Errors users got from the bad target after the onset: what the policy's delay cost. */
  badTargetFailures: number;
  totalRequests: number;
}

function world(seed: number) {
  const metrics = new RouterMetricsProvider({ retentionMs: 15 * 60_000 });
  let onset = 0;
  const bad = { failures: 0 };
  const sim = new SimulatedTraffic({
    seed,
    requestsPerSecond: RPS,
    source: healthy,
    target: (t) => (onset > 0 && t >= onset ? failing : healthy),
    observe: (o) => {
      if (o.backend === 'target' && o.at >= onset && o.status >= 500) bad.failures++;
      metrics.record(o);
    },
  });
  const start = sim.now();
  onset = start + ONSET_AFTER_MS[(seed - 1) % ONSET_AFTER_MS.length]!;
  return { metrics, sim, start, onset, bad };
}

function finish(w: ReturnType<typeof world>, detectedAt: number): PolicyResult {
  w.sim.advance(w.onset + HORIZON_AFTER_ONSET_MS);
  const { served } = w.sim;
  return {
    detectedAfterMs: detectedAt - w.onset,
    failedRequests: served.source.errors + served.target.errors,
    badTargetFailures: w.bad.failures,
    totalRequests: served.source.requests + served.target.requests,
  };
}

async function ferry(seed: number): Promise<PolicyResult> {
  const w = world(seed);
  const { metrics, sim } = w;
  const outcome = await runCanary({
    traffic: sim,
    metrics,
    clock: sim,
    source: 'source',
    target: 'target',
    steps: [10, 50, 100],
    holdMs: 15 * 60_000,
    gates: gatesSchema.parse({ minRequests: 50, errorRate: { maxIncrease: 0.01 }, latency: [{ percentile: 99, maxIncrease: 0.2 }] }),
    analysis: analysisSchema.parse({ interval: '250ms' }),
  });
  if (!outcome.rollback) throw new Error(`ferry did not roll back: ${outcome.result}`);
  return finish(w, outcome.rollback.weightZeroAt);
}

async function flagger(seed: number, threshold: number): Promise<PolicyResult> {
  const w = world(seed);
  const { metrics, sim, start } = w;
  await sim.setWeight(10);
  let failedChecks = 0;
  for (let check = start + 60_000; ; check += 60_000) {
    await sim.sleep(check - sim.now());
    const [bucket] = metrics.bucketsNow('target', check - 60_000, check, 60_000);
    const successRate = bucket && bucket.requests > 0 ? 1 - bucket.errors / bucket.requests : 1;
    if (successRate < 0.99) failedChecks++;
    if (failedChecks >= threshold) {
      await sim.setWeight(0);
      return finish(w, check);
    }
  }
}

const seeds = [1, 2, 3, 4, 5];
const runs = { ferry: [] as PolicyResult[], flagger1: [] as PolicyResult[], flagger5: [] as PolicyResult[] };
for (const seed of seeds) {
  runs.ferry.push(await ferry(seed));
  runs.flagger1.push(await flagger(seed, 1));
  runs.flagger5.push(await flagger(seed, 5));
}
const mean = (xs: PolicyResult[], key: keyof PolicyResult) => xs.reduce((sum, x) => sum + x[key], 0) / xs.length;

section(`Bad canary: ${RPS} req/s, target 10 %, target errors 0.5 % → 20 % at ${ONSET_AFTER_MS.map((t) => t / 1000).join('/')} s into the step; mean of ${seeds.length} seeds`);
const ferryDetect = mean(runs.ferry, 'detectedAfterMs') / 1000;
const ferryExcess = mean(runs.ferry, 'badTargetFailures');
report({ name: 'Ferry: onset → weight 0', value: ferryDetect, unit: 's', compare: { kind: 'target', label: 'issue', value: 2, lowerIsBetter: true } });
for (const [label, results] of [
  ['Flagger defaults (60 s, threshold 1)', runs.flagger1],
  ['Flagger docs example (60 s, threshold 5)', runs.flagger5],
] as const) {
  report({ name: 'Ferry: onset → weight 0', value: ferryDetect, unit: 's', compare: { kind: 'reference', label, value: mean(results, 'detectedAfterMs') / 1000, lowerIsBetter: true } });
  report({ name: 'Ferry: user requests failed by the bad target', value: ferryExcess, unit: 'req', compare: { kind: 'reference', label, value: mean(results, 'badTargetFailures'), lowerIsBetter: true } });
}
section('Per policy (mean)');
for (const [label, results] of Object.entries(runs)) {
  const total = mean(results, 'totalRequests');
  process.stdout.write(
    `  ${label.padEnd(10)} detection ${(mean(results, 'detectedAfterMs') / 1000).toFixed(2).padStart(7)} s   failed ${mean(results, 'failedRequests').toFixed(0).padStart(6)} of ${total.toFixed(0)} (${((100 * mean(results, 'failedRequests')) / total).toFixed(3)} %), from the bad target after onset ${mean(results, 'badTargetFailures').toFixed(0)}\n`,
  );
}
process.stdout.write(
  `  ratio Flagger/Ferry: detection ×${(mean(runs.flagger1, 'detectedAfterMs') / mean(runs.ferry, 'detectedAfterMs')).toFixed(0)} (threshold 1), ×${(mean(runs.flagger5, 'detectedAfterMs') / mean(runs.ferry, 'detectedAfterMs')).toFixed(0)} (threshold 5); ` +
    `user requests failed by the bad target ×${(mean(runs.flagger1, 'badTargetFailures') / Math.max(1, ferryExcess)).toFixed(0)} / ×${(mean(runs.flagger5, 'badTargetFailures') / Math.max(1, ferryExcess)).toFixed(0)}\n`,
);
