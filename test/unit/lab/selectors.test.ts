import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, labelSelectorFromObject } from '../../../src/lab/api/selectors.js';

test('label selector syntax: equality, sets, existence', () => {
  const labels = { app: 'web', tier: 'front', env: 'prod' };
  assert.equal(matchesLabels(parseLabelSelector('app=web,tier!=back'), labels), true);
  assert.equal(matchesLabels(parseLabelSelector('env in (dev, staging)'), labels), false);
  assert.equal(matchesLabels(parseLabelSelector('env notin (dev),app'), labels), true);
  assert.equal(matchesLabels(parseLabelSelector('!canary'), labels), true);
  assert.equal(matchesLabels(parseLabelSelector('app==web,!tier'), labels), false);
  assert.throws(() => parseLabelSelector('app in'), /unable to parse/);
});

test('a selector built from matchLabels matches exactly the maps that contain them', () => {
  const map = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.constantFrom('x', 'y'));
  fc.assert(fc.property(map, map, (selector, labels) => {
    const expected = Object.entries(selector).every(([k, v]) => labels[k] === v);
    const text = Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',');
    return matchesLabels(labelSelectorFromObject({ matchLabels: selector }), labels) === expected && matchesLabels(parseLabelSelector(text), labels) === expected;
  }));
});

test('field selectors read dotted paths', () => {
  const pod = { metadata: { name: 'a', namespace: 'default' }, status: { phase: 'Running' } };
  assert.equal(matchesFields(parseFieldSelector('metadata.name=a,status.phase!=Failed'), pod), true);
  assert.equal(matchesFields(parseFieldSelector('spec.nodeName=x'), pod), false);
  assert.equal(matchesFields(parseFieldSelector('spec.nodeName='), pod), true);
});
