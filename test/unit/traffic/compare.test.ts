import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareResponses, type CapturedResponse } from '../../../src/traffic/proxy/compare.js';
import { MirrorLedger } from '../../../src/traffic/proxy/mirror.js';
import { compareSchema } from '../../../src/traffic/proxy/config.js';

function json(value: unknown, status = 200, type = 'application/json; charset=utf-8'): CapturedResponse {
  const body = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
  return { status, headers: { 'content-type': type }, body, truncated: false, length: body.length };
}

const options = { headers: ['content-type'], ignorePaths: ['meta.at', 'items.*.updatedAt'] };

test('JSON bodies are compared structurally: key order and whitespace do not matter', () => {
  assert.deepEqual(compareResponses(json('{"a":1,"b":[1,2]}'), json('{ "b": [1, 2], "a": 1 }'), options), []);
});

test('ignored paths (with * for any key or index) do not count as differences', () => {
  const left = json({ meta: { at: 1 }, items: [{ id: 1, updatedAt: 'x' }, { id: 2, updatedAt: 'y' }] });
  const right = json({ meta: { at: 2 }, items: [{ id: 1, updatedAt: 'z' }, { id: 2, updatedAt: 'w' }] });
  assert.deepEqual(compareResponses(left, right, options), []);
});

test('a changed value, a missing key, a status and a header are reported with their path', () => {
  const differences = compareResponses(json({ items: [{ id: 1, price: 3 }], total: 3 }, 200), json({ items: [{ id: 1, price: 4 }] }, 500, 'text/plain'), options);
  assert.deepEqual(differences.map((d) => `${d.reason}:${d.path}`), ['status:', 'header:content-type', 'body:']);
  const body = compareResponses(json({ items: [{ id: 1, price: 3 }], total: 3 }), json({ items: [{ id: 1, price: 4 }] }), options);
  assert.deepEqual(body.map((d) => `${d.reason}:${d.path}`), ['body:items.0.price', 'body:total']);
});

test('non-JSON bodies are compared byte for byte; charset spelling in content-type does not matter', () => {
  assert.equal(compareResponses(json('hello', 200, 'text/plain'), json('hello', 200, 'text/plain'), options).length, 0);
  assert.equal(compareResponses(json('hello', 200, 'text/plain'), json('hellO', 200, 'text/plain'), options)[0]?.reason, 'body');
  assert.equal(compareResponses(json({}, 200, 'application/json; charset=utf-8'), json({}, 200, 'application/json;charset=UTF-8'), options).length, 0);
});

test('the ledger counts mismatches, estimates the rate and keeps a bounded sample', () => {
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const ledger = new MirrorLedger('shop', random);
  const compare = compareSchema.parse({ sampleSize: 5 });
  for (let i = 0; i < 1000; i++) ledger.record(i, 'GET', `/p/${i}`, json({ n: 1 }), json({ n: i % 100 === 0 ? 2 : 1 }), compare);
  const stats = ledger.stats(true, 100);
  assert.equal(stats.compared, 1000);
  assert.equal(stats.mismatched, 10);
  assert.equal(stats.mismatchRate, 0.01);
  assert.equal(stats.samples.length, 5);
  assert.ok(stats.samples.every((pair) => pair.differences[0]?.path === 'n'));
});

test('non-idempotent requests are not mirrored unless allowed', () => {
  const ledger = new MirrorLedger('shop', () => 0);
  assert.equal(ledger.shouldMirror('POST', 100, false), false);
  assert.equal(ledger.shouldMirror('POST', 100, true), true);
  assert.equal(ledger.shouldMirror('GET', 100, false), true);
  assert.equal(ledger.stats(true, 100).skippedNonIdempotent, 1);
});
