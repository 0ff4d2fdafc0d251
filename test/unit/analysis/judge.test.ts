import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { analysisSchema, gatesSchema, parseDuration } from '../../../src/analysis/gates-schema.js';
import { SequentialJudge } from '../../../src/analysis/judge.js';
import type { Bucket } from '../../../src/analysis/metrics-provider.js';
import { RouterMetricsProvider } from '../../../src/analysis/router-metrics.js';

const T0 = 1_700_000_000_000;

function buckets(count: number, perBucket: number, errorsEvery: number, latency: (i: number) => number): Bucket[] {
  let k = 0;
  return Array.from({ length: count }, (_, b) => {
    const latenciesMs = Array.from({ length: perBucket }, () => latency(k++));
    return { start: T0 + b * 100, requests: perBucket, errors: Math.floor(((b + 1) * perBucket) / errorsEvery) - Math.floor((b * perBucket) / errorsEvery), latenciesMs };
  });
}

const gates = gatesSchema.parse({ minRequests: 50, errorRate: { max: 0.05, maxIncrease: 0.01 }, latency: [{ percentile: 99, max: '500ms', maxIncrease: 0.2 }] });
const judge = new SequentialJudge({ gates, analysis: analysisSchema.parse({}), steps: 4, maxStepMs: 60_000, bucketMs: 100 });

test('no verdict before the minimum request count: inconclusive, saying how many are missing', () => {
  const verdict = judge.look({ now: T0 + 1000, target: buckets(10, 2, 1000, () => 10), source: buckets(10, 20, 1000, () => 10) });
  assert.equal(verdict.verdict, 'inconclusive');
  for (const gate of verdict.gates) {
    assert.equal(gate.verdict, 'inconclusive');
    assert.match(gate.reason, /waiting for 50 requests per backend \(target 20, source 200\)/);
  }
});

test('a healthy target with plenty of data passes every gate, with the numbers behind it', () => {
  const latency = (k: number) => 10 + ((k * 7919) % 100) / 10;
  const verdict = judge.look({ now: T0 + 60_000, target: buckets(600, 40, 500, latency), source: buckets(600, 40, 500, latency) });
  assert.equal(verdict.verdict, 'pass', JSON.stringify(verdict.gates.map((g) => [g.gate, g.verdict, g.reason])));
  const error = verdict.gates.find((g) => g.gate === 'errorRate.maxIncrease')!;
  assert.equal(error.numbers.targetRequests, 24_000);
  assert.ok(error.numbers['test.upper']! < 0.01);
  assert.ok(verdict.alphaPerTest < 0.001 / 4);
});

test('a clear failure is a fail with the evidence, the bound it broke and an onset inside the window', () => {
  const healthy = buckets(100, 40, 500, () => 10);
  const bad = healthy.map((b, i) => (i >= 60 ? { ...b, errors: 12 } : b));
  const verdict = judge.look({ now: T0 + 10_000, target: bad, source: healthy });
  assert.equal(verdict.verdict, 'fail');
  assert.equal(verdict.gates[0]!.gate, 'errorRate.max');
  assert.ok(verdict.gates[0]!.numbers['test.lower']! > 0.05);
  assert.ok(verdict.onsetAt! >= T0 + 5_500 && verdict.onsetAt! <= T0 + 6_500, `onset ${verdict.onsetAt! - T0}`);
});

test('the α budget is split over steps, gates and restarted windows', () => {
  // 2 error tests × (1 + 60 restarts) + 3 latency tests × (1 + 12 restarts) = 161 per step.
  assert.equal(judge.testsPerStep(), 2 * 61 + 3 * 13);
  assert.equal(judge.alphaPerTest, 0.001 / (4 * 161));
});

test('gate schema: rejects gates without a bound and durations without a unit, and exports JSON Schema', () => {
  assert.equal(gatesSchema.safeParse({ errorRate: {} }).success, false);
  assert.equal(gatesSchema.safeParse({ latency: [{ percentile: 99, max: '500' }] }).success, false);
  assert.equal(gatesSchema.safeParse({ replicationLag: { max: '2s' }, dataParity: {}, shadowMismatch: { maxRate: 0.001 } }).success, true);
  assert.equal(parseDuration('1.5s'), 1500);
  const schema = z.toJSONSchema(gatesSchema) as { properties: Record<string, unknown> };
  assert.ok('errorRate' in schema.properties && 'promql' in schema.properties);
});

test('router counters: sliding windows per backend, merged to any multiple of the resolution, old buckets dropped', async () => {
  const counters = new RouterMetricsProvider({ resolutionMs: 100, retentionMs: 1000 });
  for (let t = 0; t < 2000; t += 10) counters.record({ backend: 'target', status: t % 100 === 0 ? 503 : 200, latencyMs: 5, at: T0 + t });
  const merged = await counters.buckets('target', T0 + 1000, T0 + 2000, 500);
  assert.deepEqual(merged.map((b) => [b.requests, b.errors, b.latenciesMs.length]), [[50, 5, 50], [50, 5, 50]]);
  const dropped = await counters.buckets('target', T0, T0 + 500, 500);
  assert.equal(dropped[0]!.requests, 0);
  assert.deepEqual(counters.backends(), ['target']);
  await assert.rejects(counters.query('up'), /cannot evaluate/);
});
