import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mannWhitney, tieGroupsOfSamples, capSample } from '../../../src/analysis/stats/mann-whitney.js';
import { confidenceRadius, mixtureLogLikelihoodRatio, runSequentialTest } from '../../../src/analysis/stats/msprt.js';
import { normalCdf } from '../../../src/analysis/stats/normal.js';
import { testRateBelow, testRateIncrease } from '../../../src/analysis/stats/proportions.js';
import { seededRandom } from '../../../src/util/random.js';

const latencies = fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 40 });

test('Mann-Whitney U equals the brute-force count of slower pairs (ties ½), and U + U′ = n_t n_s', () => {
  fc.assert(
    fc.property(latencies, latencies, (t, s) => {
      let pairs = 0;
      for (const a of t) for (const b of s) pairs += a > b ? 1 : a === b ? 0.5 : 0;
      const forward = mannWhitney(tieGroupsOfSamples(t, s));
      const backward = mannWhitney(tieGroupsOfSamples(s, t));
      assert.equal(forward.u, pairs);
      assert.equal(forward.u + backward.u, t.length * s.length);
      assert.ok(Math.abs(forward.effect + backward.effect) < 1e-12);
      assert.ok(Math.abs(forward.variance - backward.variance) < 1e-12);
    }),
  );
});

test('the tie correction only ever lowers the variance of U', () => {
  fc.assert(
    fc.property(latencies, latencies, (t, s) => {
      const n = t.length + s.length;
      const untied = 1 / (12 * t.length * s.length) * (n + 1);
      assert.ok(mannWhitney(tieGroupsOfSamples(t, s)).variance <= untied + 1e-15);
    }),
  );
});

test('Mann-Whitney on known data: z matches the textbook normal approximation', () => {
  // No ties: the target is slower in 2 of 12 pairs (4>2, 6>2), σ² = 3·4·8/12 = 8, z = (2 − 6)/√8.
  const result = mannWhitney(tieGroupsOfSamples([1, 4, 6], [2, 7, 8, 9]));
  assert.equal(result.u, 2);
  assert.ok(Math.abs(result.z - -4 / Math.sqrt(8)) < 1e-12);
});

test('capSample keeps at most cap observations, evenly spaced, in order', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ noNaN: true }), { maxLength: 500 }), fc.integer({ min: 1, max: 100 }), (sample, cap) => {
      const out = capSample(sample, cap);
      assert.equal(out.length, Math.min(cap, sample.length));
      if (sample.length <= cap) assert.equal(out, sample);
    }),
  );
});

test('mSPRT: the always-valid interval excludes the null exactly when log Λ reaches log(1/α)', () => {
  fc.assert(
    fc.property(
      fc.double({ min: -1, max: 1, noNaN: true }),
      fc.double({ min: 1e-8, max: 1, noNaN: true }),
      fc.double({ min: 0.001, max: 1, noNaN: true }),
      fc.double({ min: 1e-9, max: 0.2, noNaN: true }),
      (estimate, variance, tau, alpha) => {
        const r = runSequentialTest({ estimate, variance, null: 0, tau, alpha });
        const excluded = r.lower > 0 || r.upper < 0;
        const decided = r.logLikelihoodRatio >= r.logThreshold;
        // Equal up to rounding at the boundary.
        if (Math.abs(r.logLikelihoodRatio - r.logThreshold) > 1e-6) assert.equal(excluded, decided);
        assert.ok(!(r.above && r.below));
        assert.ok(Math.abs(confidenceRadius(variance, tau, alpha) - (r.upper - estimate)) < 1e-12);
      },
    ),
  );
});

test('mSPRT evidence grows with the distance from the null', () => {
  fc.assert(
    fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 1e-6, max: 1, noNaN: true }), (a, b, v) => {
      const [near, far] = a < b ? [a, b] : [b, a];
      assert.ok(mixtureLogLikelihoodRatio(near, 0, v, 0.1) <= mixtureLogLikelihoodRatio(far, 0, v, 0.1) + 1e-12);
    }),
  );
});

test("Ville's inequality in practice: a null Gaussian walk looked at 1,000 times crosses 1/α in at most α of 4,000 runs", () => {
  const random = seededRandom(7);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const alpha = 0.05;
  let crossed = 0;
  for (let run = 0; run < 4000; run++) {
    let sum = 0;
    for (let n = 1; n <= 1000; n++) {
      sum += gaussian();
      if (runSequentialTest({ estimate: sum / n, variance: 1 / n, null: 0, tau: 0.3, alpha }).logLikelihoodRatio >= Math.log(1 / alpha)) {
        crossed++;
        break;
      }
    }
  }
  // Checking a fixed-sample z-test at every look would cross in well over half the runs.
  assert.ok(crossed / 4000 <= alpha, `crossed in ${crossed} of 4000 runs`);
});

test('two proportions: identical counts never fail, and more target errors never make it pass', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 5000 }), fc.double({ min: 0, max: 0.3, noNaN: true }), (nt, ns, p) => {
      const et = Math.round(p * nt);
      const es = Math.round(p * ns);
      const same = testRateIncrease({ events: Math.round((es / ns) * nt), n: nt }, { events: es, n: ns }, 0.01, 0.05, 1e-6);
      assert.equal(same.above && Math.round((es / ns) * nt) / nt - es / ns <= 0.01, false);
      const worse = testRateIncrease({ events: Math.min(nt, et + Math.ceil(nt / 10)), n: nt }, { events: es, n: ns }, 0.01, 0.05, 1e-6);
      const base = testRateIncrease({ events: et, n: nt }, { events: es, n: ns }, 0.01, 0.05, 1e-6);
      if (base.above) assert.ok(worse.above);
    }),
  );
});

test('one proportion against a bound: 0 errors in 10,000 is a pass for max 1 %, 30 % of 200 a fail', () => {
  assert.equal(testRateBelow({ events: 0, n: 10_000 }, 0.01, 0.05, 1e-4).below, true);
  assert.equal(testRateBelow({ events: 60, n: 200 }, 0.01, 0.05, 1e-4).above, true);
  assert.ok(Math.abs(normalCdf(1.959964) - 0.975) < 1e-6);
});
