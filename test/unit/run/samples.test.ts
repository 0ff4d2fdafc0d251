import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bucket } from '../../../src/analysis/metrics-provider.js';
import { RampSampler, type RampSample } from '../../../src/run/samples.js';
import { openTestJournal } from '../../helpers/journal.js';

const bucket = (start: number, requests: number, errors: number, latency: number): Bucket => ({ start, requests, errors, latenciesMs: Array.from({ length: requests }, () => latency) });

test('samples cover each whole bucket the judge saw exactly once, at most one a second, per side', async () => {
  const journal = openTestJournal('ferry-samples-');
  const sampler = new RampSampler('cart', journal);
  sampler.stepStarted(25);
  const t0 = 1_000_000;
  const target: Bucket[] = [];
  const source: Bucket[] = [];
  // Looks every 250 ms over 500 ms buckets, for 5 s: each look re-reads the buckets since the step started.
  for (let now = t0 + 250; now <= t0 + 5000; now += 250) {
    const start = Math.floor((now - 1) / 500) * 500;
    if (!target.some((b) => b.start === start)) {
      target.push(bucket(start, 10, start === t0 + 2000 ? 3 : 0, 12));
      source.push(bucket(start, 30, 0, 8));
    }
    sampler.look({ now, target: [...target], source: [...source] }, 500);
  }
  const samples = journal.records.filter((r) => r.type === 'ramp-sample').map((r) => r.data as RampSample);
  assert.ok(samples.length >= 4 && samples.length <= 5, `${samples.length} samples`);
  for (const sample of samples) assert.ok(Date.parse(sample.to) - Date.parse(sample.from) >= 1000);
  for (const [i, sample] of samples.entries()) if (i > 0) assert.equal(sample.from, samples[i - 1]!.to, 'samples are contiguous');
  const whole = target.filter((b) => b.start + 500 <= t0 + 5000);
  const sum = (side: 'target' | 'source', key: 'requests' | 'errors') => samples.reduce((n, s) => n + s[side][key], 0);
  assert.equal(sum('target', 'requests'), samples.length ? (Date.parse(samples.at(-1)!.to) - t0) / 500 * 10 : 0);
  assert.ok(sum('target', 'requests') <= whole.length * 10);
  assert.equal(sum('target', 'errors'), 3);
  assert.equal(sum('source', 'requests'), 3 * sum('target', 'requests'));
  assert.equal(samples[0]!.weight, 25);
  assert.equal(samples[0]!.target.p99Ms, 12);
  assert.equal(samples[0]!.source.p50Ms, 8);
  await journal.close();
});

test('a look whose metrics failed leaves no sample (never zero traffic)', async () => {
  const journal = openTestJournal('ferry-samples-');
  const sampler = new RampSampler('cart', journal);
  sampler.look({ now: 5000, target: [], source: [], metricsError: { message: 'down', consecutive: 1, since: 4000 } }, 500);
  assert.equal(journal.records.length, 0);
  await journal.close();
});
