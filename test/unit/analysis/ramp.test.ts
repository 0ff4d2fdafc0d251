import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCanary, type CanaryOutcome } from '../../../src/analysis/canary.js';
import { analysisSchema, gatesSchema, type AnalysisConfigInput } from '../../../src/analysis/gates-schema.js';
import { RouterMetricsProvider } from '../../../src/analysis/router-metrics.js';
import { SimulatedTraffic, type BackendModel } from '../../../src/analysis/simulation.js';

// The canary loop and the judge in simulated time (seeded, reproducible), on the same
// sliding-window counters the router feeds. The real-router scenarios are in
// test/integration/analysis.
const healthy: BackendModel = { errorRate: 0.005, medianMs: 20, sigma: 0.5 };
const gates = gatesSchema.parse({ minRequests: 50, errorRate: { maxIncrease: 0.01 }, latency: [{ percentile: 99, maxIncrease: 0.2 }] });
const ramp30 = Array.from({ length: 30 }, (_, i) => Math.round((100 * (i + 1)) / 30));

async function simulate(seed: number, target: (t: number) => BackendModel, steps: number[], holdMs: number, analysis: AnalysisConfigInput, rps: number) {
  const metrics = new RouterMetricsProvider({ retentionMs: 5 * 60_000 });
  const sim = new SimulatedTraffic({ seed, requestsPerSecond: rps, source: healthy, target, observe: (o) => metrics.record(o) });
  const start = sim.now();
  const outcome = await runCanary({ traffic: sim, metrics, clock: sim, source: 'source', target: 'target', steps, holdMs, gates, analysis: analysisSchema.parse(analysis) });
  return { outcome, sim, start };
}

test('healthy target, same distributions as the source: 100 runs of a 30-step ramp roll back at most once', async () => {
  const outcomes: CanaryOutcome[] = [];
  const started = Date.now();
  for (let seed = 1; seed <= 100; seed++) {
    // Every step is looked at every second for up to 20 s (one extension); still-unclear
    // steps advance, so each run exposes the judge to all 30 steps' worth of looks.
    const { outcome } = await simulate(seed, () => healthy, ramp30, 8_000, { interval: '1s', maxExtensions: 1, onInconclusive: 'advance', latencySampleCap: 500 }, Number(process.env.FERRY_SIM_RPS ?? 150));
    outcomes.push(outcome);
  }
  const rollbacks = outcomes.filter((o) => o.result === 'rolled-back');
  const steps = outcomes.flatMap((o) => o.steps);
  const looks = steps.reduce((sum, s) => sum + s.looks, 0);
  process.stdout.write(
    `# 100 ramps × 30 steps: ${rollbacks.length} rollbacks; ${looks} looks; steps passed ${steps.filter((s) => s.outcome === 'pass').length}, ` +
      `advanced inconclusive ${steps.filter((s) => s.outcome === 'advanced-inconclusive').length}; α per test ${outcomes[0]!.alphaPerTest.toExponential(2)}; ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  for (const r of rollbacks) process.stdout.write(`#   rollback: ${r.rollback!.evidence.gates[0]!.reason}\n`);
  assert.ok(rollbacks.length <= 1, `${rollbacks.length} false rollbacks`);
});

test('a latency-only regression (target p99 +50 %, same error rate) is caught at 10 % weight', async () => {
  const slower = { ...healthy, medianMs: healthy.medianMs * 1.5 };
  for (const seed of [1, 2, 3]) {
    const onset = 1_700_000_000_000 + 5000;
    const { outcome } = await simulate(seed, (t) => (t >= onset ? slower : healthy), [10, 50, 100], 60_000, { interval: '250ms' }, 500);
    assert.equal(outcome.result, 'rolled-back');
    const rollback = outcome.rollback!;
    const gate = rollback.evidence.gates[0]!;
    process.stdout.write(`# seed ${seed}: ${gate.gate} after ${((rollback.detectedAt - onset) / 1000).toFixed(2)} s (observed onset ${rollback.onsetAt - onset} ms): ${gate.reason}\n`);
    assert.match(gate.gate, /^latency\.p99/);
    assert.ok(gate.numbers.ratio! > 1.2);
    assert.ok(rollback.detectedAt > onset && rollback.detectedAt - onset < 15_000);
  }
});

test('an error regression in simulated time is called within 2 s and the weight is back at 0', async () => {
  const onset = 1_700_000_000_000 + 7_300;
  const { outcome, sim } = await simulate(11, (t) => (t >= onset ? { ...healthy, errorRate: 0.2 } : healthy), [10, 50, 100], 60_000, { interval: '250ms' }, 500);
  assert.equal(outcome.result, 'rolled-back');
  const rollback = outcome.rollback!;
  assert.ok(rollback.detectedAt - onset <= 2000, `detected after ${rollback.detectedAt - onset} ms`);
  assert.deepEqual(sim.weightLog.at(-1)?.target, 0);
  assert.ok(Math.abs(rollback.onsetAt - onset) <= 500, `observed onset ${rollback.onsetAt - onset} ms off`);
  // Every number behind the verdict is recorded.
  for (const key of ['targetRequests', 'targetErrors', 'sourceRequests', 'sourceErrors', 'test.logLR', 'test.logThreshold', 'test.pAlwaysValid', 'test.alpha', 'maxIncrease']) {
    assert.ok(key in rollback.evidence.gates[0]!.numbers, key);
  }
});

test('a healthy target passes 10 % and 50 % steps held 5 minutes each at 500 req/s; a 1 % step is held, not guessed', async () => {
  const { outcome } = await simulate(3, () => healthy, [10, 50], 300_000, { interval: '1s' }, 500);
  assert.equal(outcome.result, 'completed');
  assert.deepEqual(outcome.steps.map((s) => [s.weight, s.outcome, s.extensions]), [[10, 'pass', 0], [50, 'pass', 0]]);
  const small = await simulate(3, () => healthy, [1], 60_000, { interval: '1s', maxExtensions: 1 }, 500);
  assert.equal(small.outcome.result, 'held');
  assert.equal(small.outcome.steps[0]!.extensions, 1);
});

test('the 100 % step is judged against the source of the step before: healthy passes (default hold policy), a target that fails under full load is rolled back', async () => {
  const { outcome } = await simulate(5, () => healthy, [50, 100], 30_000, { interval: '1s' }, 500);
  assert.equal(outcome.result, 'completed', JSON.stringify(outcome.steps));
  const full = outcome.steps.at(-1)!;
  assert.equal(full.outcome, 'pass');
  assert.deepEqual(full.baseline, { from: outcome.steps[0]!.startedAt, to: outcome.steps[0]!.endedAt, weight: 50 });

  // Fine at half the traffic, 5 % errors once it takes all of it (capacity): caught at 100 %.
  const metrics = new RouterMetricsProvider({ retentionMs: 5 * 60_000 });
  const atFullWeight = () => sim.weightLog.at(-1)?.target === 100;
  const sim: SimulatedTraffic = new SimulatedTraffic({ seed: 6, requestsPerSecond: 500, source: healthy, target: () => (atFullWeight() ? { ...healthy, errorRate: 0.05 } : healthy), observe: (o) => metrics.record(o) });
  const overloaded = await runCanary({ traffic: sim, metrics, clock: sim, source: 'source', target: 'target', steps: [50, 100], holdMs: 30_000, gates, analysis: analysisSchema.parse({ interval: '1s' }) });
  assert.equal(overloaded.result, 'rolled-back', JSON.stringify(overloaded.steps));
  assert.equal(overloaded.rollback!.weightBefore, 100);
  assert.match(overloaded.rollback!.evidence.gates[0]!.gate, /^errorRate/);
  assert.ok(overloaded.rollback!.detectedAt - overloaded.steps[1]!.startedAt < 5_000, 'called within seconds of taking all traffic');
});
