import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCanary, type CanaryEvent } from '../../../src/analysis/canary.js';
import { analysisSchema, gatesSchema, promqlGateSchema } from '../../../src/analysis/gates-schema.js';
import { judgePromql } from '../../../src/analysis/gates.js';
import type { JudgeVerdict } from '../../../src/analysis/judge.js';
import type { MetricsProvider } from '../../../src/analysis/metrics-provider.js';
import { RouterMetricsProvider } from '../../../src/analysis/router-metrics.js';
import { SimulatedTraffic, type BackendModel } from '../../../src/analysis/simulation.js';
import { FerryError } from '../../../src/util/errors.js';

// A query that errors is evidence, never "no value" and never zero traffic: the verdicts say
// "query failed: …", count failures in a row, and enough of them fail the step. In simulated
// time over the router's counters; the real-Prometheus cases are in
// test/integration/analysis/provider-metrics.test.ts.
const healthy: BackendModel = { errorRate: 0.002, medianMs: 20, sigma: 0.4 };

/** The router's counters behind a metrics backend that is down between `downFrom` and `downTo` (simulated ms). */
function flaky(inner: RouterMetricsProvider, sim: SimulatedTraffic, down: { from: number; to: number }, extra: { noLatency?: string; queryError?: string } = {}): MetricsProvider {
  const isDown = () => sim.now() >= down.from && sim.now() < down.to;
  return {
    name: 'flaky',
    resolutionMs: inner.resolutionMs,
    ...(extra.noLatency ? { noLatency: extra.noLatency } : {}),
    isOnline: async () => true,
    buckets: async (backend, from, to, width) => {
      if (isDown()) throw new FerryError('analysis.prometheus-unreachable', 'cannot reach Prometheus at http://127.0.0.1:1: connect ECONNREFUSED');
      return inner.buckets(backend, from, to, width);
    },
    query: async () => {
      if (extra.queryError) throw new FerryError('analysis.promql', extra.queryError);
      return 0;
    },
  };
}

async function ramp(options: { down: { from: number; to: number }; gates: unknown; analysis?: unknown; noLatency?: string; queryError?: string; steps?: number[] }) {
  const counters = new RouterMetricsProvider();
  const sim = new SimulatedTraffic({ seed: 7, requestsPerSecond: 400, source: healthy, target: () => healthy, observe: (o) => counters.record(o) });
  const start = sim.now();
  const events: CanaryEvent[] = [];
  const outcome = await runCanary({
    traffic: sim,
    metrics: flaky(counters, sim, { from: start + options.down.from, to: start + options.down.to }, { ...(options.noLatency ? { noLatency: options.noLatency } : {}), ...(options.queryError ? { queryError: options.queryError } : {}) }),
    clock: sim,
    source: 'source',
    target: 'target',
    steps: options.steps ?? [50],
    holdMs: 10_000,
    gates: gatesSchema.parse(options.gates),
    analysis: analysisSchema.parse({ interval: '500ms', maxExtensions: 0, onInconclusive: 'hold', consecutiveErrorLimit: 4, ...(options.analysis as object) }),
    onEvent: (event) => events.push(event),
  });
  const looks = events.filter((e): e is Extract<CanaryEvent, { type: 'look' }> => e.type === 'look').map((e) => e.verdict);
  return { outcome, looks, start };
}

const gateOf = (verdict: JudgeVerdict, name: string) => verdict.gates.find((g) => g.gate === name);

test('a PromQL gate whose query fails says so, counts the failures in a row, and fails at the limit', () => {
  const gate = promqlGateSchema.parse({ name: 'p99', query: 'histogram_quantile(0.99, sum by (le) (rate(x_bucket[1m]))', max: 0.5 });
  const first = judgePromql(gate, { error: 'Prometheus rejected histogram_quantile(...): parse error', consecutive: 1 }, 1000, 3);
  assert.equal(first.verdict, 'inconclusive');
  assert.equal(first.reason, 'query failed (1 in a row, limit 3): Prometheus rejected histogram_quantile(...): parse error');
  assert.equal(first.numbers.consecutiveErrors, 1);
  assert.equal(judgePromql(gate, { error: 'down', consecutive: 3 }, 1000, 3).verdict, 'fail');
  assert.equal(judgePromql(gate, { value: 0.2 }, 1000, 3).verdict, 'pass');
  assert.match(judgePromql(gate, { value: Number.NaN }, 1000, 3).reason, /no value \(NaN\)/);
});

test('metrics unreadable for a moment: looks say "query failed", nothing is taken for zero traffic, and the step passes once they read again', async () => {
  const { outcome, looks } = await ramp({ down: { from: 2_000, to: 3_000 }, gates: { minRequests: 50, errorRate: { max: 0.05 } }, analysis: { consecutiveErrorLimit: 4 } });
  const failedLooks = looks.filter((v) => gateOf(v, 'metrics'));
  assert.equal(failedLooks.length, 2, 'two looks in the 1 s outage at 500 ms');
  for (const [i, verdict] of failedLooks.entries()) {
    const metrics = gateOf(verdict, 'metrics')!;
    assert.equal(metrics.verdict, 'inconclusive');
    assert.match(metrics.reason, new RegExp(`^query failed \\(${i + 1} in a row, limit 4\\): cannot reach Prometheus`));
    assert.equal(gateOf(verdict, 'errorRate.max'), undefined, 'no error-rate verdict from unread buckets');
  }
  assert.equal(outcome.result, 'completed');
  assert.equal(outcome.steps[0]!.outcome, 'pass');
});

test('metrics unreadable past the limit: the step fails, the weight goes to 0, and the evidence says the query failed', async () => {
  const { outcome, start } = await ramp({ down: { from: 3_000, to: 60_000 }, gates: { minRequests: 50, errorRate: { max: 0.05 } } });
  assert.equal(outcome.result, 'rolled-back');
  const evidence = outcome.rollback!.evidence;
  assert.equal(evidence.gates[0]!.gate, 'metrics');
  assert.equal(evidence.gates[0]!.verdict, 'fail');
  assert.match(evidence.gates[0]!.reason, /^query failed \(4 in a row, limit 4\): cannot reach Prometheus/);
  assert.ok(outcome.rollback!.onsetAt >= start + 3_000 && outcome.rollback!.onsetAt <= start + 3_500, `onset at the first failed read (${outcome.rollback!.onsetAt - start} ms)`);
});

test('a custom PromQL gate with bad PromQL rolls back at the limit with "query failed" in the journal evidence', async () => {
  const { outcome, looks } = await ramp({ down: { from: 0, to: 0 }, gates: { minRequests: 50, promql: [{ name: 'ratio', query: 'sum(rate(x[1m]', max: 1 }] }, queryError: 'Prometheus rejected sum(rate(x[1m]: 1:14: parse error: unclosed left parenthesis' });
  assert.match(gateOf(looks[0]!, 'promql.ratio')!.reason, /^query failed \(1 in a row, limit 4\): Prometheus rejected .*parse error/);
  assert.equal(outcome.result, 'rolled-back');
  assert.equal(outcome.rollback!.evidence.gates[0]!.gate, 'promql.ratio');
  assert.match(outcome.rollback!.evidence.gates[0]!.reason, /query failed \(4 in a row/);
});

test('a provider without latencies (HAProxy): latency gates are inconclusive with the reason, never passed', async () => {
  const reason = 'HAProxy 2.6\'s exporter has no latency histogram per server';
  const { outcome, looks } = await ramp({ down: { from: 0, to: 0 }, noLatency: reason, gates: { minRequests: 50, errorRate: { max: 0.05 }, latency: [{ percentile: 99, maxIncrease: 0.2 }] } });
  const last = looks.at(-1)!;
  assert.equal(gateOf(last, 'errorRate.max')!.verdict, 'pass');
  const latency = gateOf(last, 'latency.p99.maxIncrease')!;
  assert.equal(latency.verdict, 'inconclusive');
  assert.equal(latency.reason, `no latencies: ${reason}`);
  assert.equal(last.verdict, 'inconclusive');
  assert.equal(outcome.result, 'held', 'onInconclusive: hold — the ramp waits for a person');
});
