import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BUCKETS, bucketOf, percentToBasisPoints, readCookie, sideForBucket } from '../../../src/traffic/proxy/buckets.js';

test('a user keeps the same bucket, and buckets lie in [0, 10000)', () => {
  fc.assert(fc.property(fc.string(), (user) => {
    const bucket = bucketOf(user);
    return Number.isInteger(bucket) && bucket >= 0 && bucket < BUCKETS && bucket === bucketOf(user);
  }));
});

test('raising the weight never moves a user from target back to source (any user, any rising ramp)', () => {
  const rampArbitrary = fc.array(fc.integer({ min: 0, max: 10_000 }).map((bp) => bp / 100), { minLength: 2, maxLength: 8 }).map((steps) => [...steps].sort((a, b) => a - b));
  fc.assert(fc.property(fc.string({ minLength: 1 }), rampArbitrary, (user, ramp) => {
    const bucket = bucketOf(user);
    let wasTarget = false;
    for (const percent of ramp) {
      const side = sideForBucket(bucket, percentToBasisPoints(percent));
      if (wasTarget && side === 'source') return false;
      wasTarget ||= side === 'target';
    }
    return true;
  }), { numRuns: 2000 });
});

test('the share of users on the target matches the weight (10,000 users, 1/10/50/100%)', () => {
  const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
  for (const percent of [1, 10, 50, 100]) {
    const onTarget = users.filter((user) => sideForBucket(bucketOf(user), percentToBasisPoints(percent)) === 'target').length;
    const expected = percent * 100;
    // 4 standard deviations of a binomial(10000, p).
    const tolerance = 4 * Math.sqrt(10_000 * (percent / 100) * (1 - percent / 100)) + 1;
    assert.ok(Math.abs(onTarget - expected) <= tolerance, `${percent}%: ${onTarget} users on target, expected ${expected} ± ${tolerance.toFixed(0)}`);
  }
});

test('readCookie finds one cookie among many and ignores look-alikes', () => {
  assert.equal(readCookie('a=1; ferry_user=abc; b=2', 'ferry_user'), 'abc');
  assert.equal(readCookie('xferry_user=no; ferry_user=yes', 'ferry_user'), 'yes');
  assert.equal(readCookie('ferry_user=', 'ferry_user'), undefined);
  assert.equal(readCookie(undefined, 'ferry_user'), undefined);
});
