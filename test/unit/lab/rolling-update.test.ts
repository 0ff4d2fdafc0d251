/**
 * RollingUpdate bounds as apps/v1 resolves and validates them: percentages of replicas,
 * surge rounded up, unavailable rounded down, never both zero.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveFenceposts, rollingUpdateProblems } from '../../../src/lab/api/rolling-update.js';

const rolling = (maxSurge?: unknown, maxUnavailable?: unknown) => ({ type: 'RollingUpdate', rollingUpdate: { ...(maxSurge === undefined ? {} : { maxSurge }), ...(maxUnavailable === undefined ? {} : { maxUnavailable }) } });

test('percentages: surge rounds up, unavailable rounds down; the default is 25%/25%', () => {
  assert.deepEqual(resolveFenceposts(rolling('50%', '50%'), 3), { maxSurge: 2, maxUnavailable: 1 });
  assert.deepEqual(resolveFenceposts(undefined, 10), { maxSurge: 3, maxUnavailable: 2 });
  assert.deepEqual(resolveFenceposts(rolling(1, 0), 3), { maxSurge: 1, maxUnavailable: 0 });
});

test('both resolving to zero (small replica counts) makes maxUnavailable 1, as upstream; Recreate has neither', () => {
  assert.deepEqual(resolveFenceposts(rolling('10%', '10%'), 2), { maxSurge: 1, maxUnavailable: 0 });
  assert.deepEqual(resolveFenceposts(rolling(0, '10%'), 2), { maxSurge: 0, maxUnavailable: 1 });
  assert.deepEqual(resolveFenceposts({ type: 'Recreate' }, 5), { maxSurge: 0, maxUnavailable: 0 });
});

test('validation: both zero, negative numbers, bad percent strings, over 100% unavailable', () => {
  const messages = (strategy: unknown) => rollingUpdateProblems({ strategy }).map((c) => `${c.field}: ${c.message}`);
  assert.deepEqual(messages(rolling(0, 0)), ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: may not be 0 when `maxSurge` is 0']);
  assert.deepEqual(messages(rolling('0%', 1)), []);
  assert.match(messages(rolling(-1, 1))[0]!, /maxSurge: Invalid value: -1: must be greater than or equal to 0/);
  assert.match(messages(rolling('half', 1))[0]!, /maxSurge: Invalid value: "half": a valid percent string must be a numeric string followed by an ending '%'/);
  assert.match(messages(rolling(1, '150%'))[0]!, /maxUnavailable: Invalid value: "150%": must not be greater than 100%/);
  assert.deepEqual(messages(undefined), []);
});
