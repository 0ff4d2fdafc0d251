import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferryAsync } from '../../helpers/cli.js';

test('ferry demo migrates the shop under load: every stage done, no failed request, no lost order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-demo-'));
  const result = await ferryAsync(['demo', '--dir', dir, '--rate', '80', '-o', 'json']);
  const card = JSON.parse(result.stdout);
  const failedStages = (card.stages ?? []).filter((s: any) => String(s.detail).startsWith('FAILED'));
  assert.equal(result.code, 0, `${result.stderr}\nerror: ${card.error}\n${JSON.stringify(failedStages)}\n${JSON.stringify(card.customers?.failures)}`);
  assert.equal(card.status, 'completed');
  assert.deepEqual(card.stages.map((s: any) => s.stage), ['apply', 'data-sync', 'parity', 'shadow', 'ramp', 'data-cutover', 'soak', 'decommission']);
  assert.deepEqual(card.ramp.map((r: any) => r.weight), [5, 25, 50, 100]);
  assert.ok(card.customers.requests > 1000, `only ${card.customers.requests} requests`);
  assert.equal(card.customers.failed, 0);
  assert.ok(card.customers.servedBy.source > 0 && card.customers.servedBy.target > 0);
  assert.ok(card.data.acknowledgedOrders > 100);
  assert.equal(card.data.ordersFoundOnTarget, card.data.acknowledgedOrders);
  assert.ok(card.data.writePauseMs < 1000, `write pause ${card.data.writePauseMs} ms`);
  assert.equal(card.journal.intact, true);
  // Progress went to stderr, and no database password reached any output or file.
  assert.match(result.stderr, /shop: ramp 25%/);
  const plan = readFileSync(card.files.plan, 'utf8');
  assert.match(plan, /source: env:FERRY_DEMO_SOURCE_DB/);
  const texts = [result.stdout, result.stderr, plan, readFileSync(card.files.journal, 'utf8'), ...readdirSync(join(dir, 'logs')).map((f) => readFileSync(join(dir, 'logs', f), 'utf8'))];
  for (const text of texts) assert.doesNotMatch(text, /postgresql:\/\/[^:\s]+:[0-9a-f]{16,}@/, 'a connection string with its password leaked');
});
