import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferryAsync } from '../../helpers/cli.js';

test('ferry demo migrates the shop and an eleven-service application under load, wave by wave: every stage done, no failed request, no lost order, the calls crossing clusters at each wave as planned', { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-demo-'));
  // The demo moves two applications (thirteen slices); it takes two to three minutes beside the rest of the suite.
  const result = await ferryAsync(['demo', '--dir', dir, '--rate', '80', '-o', 'json'], { timeoutMs: 540_000 });
  const card = JSON.parse(result.stdout);
  const failedStages = (card.stages ?? []).filter((s: any) => String(s.detail).startsWith('FAILED'));
  assert.equal(result.code, 0, `${result.stderr}\nerror: ${card.error}\n${JSON.stringify(failedStages)}\n${JSON.stringify(card.customers?.failures)}`);
  assert.equal(card.status, 'completed');
  assert.deepEqual(card.stages.filter((s: any) => s.slice === 'shop').map((s: any) => s.stage), ['apply', 'data-sync', 'parity', 'shadow', 'ramp', 'data-cutover', 'soak', 'decommission']);
  assert.deepEqual(card.ramp.filter((r: any) => r.slice === 'shop').map((r: any) => r.weight), [5, 25, 50, 100]);
  // The boutique: its frontend ramps at the edge, the services it calls ramp inside the target's mesh.
  assert.deepEqual(card.ramp.filter((r: any) => r.slice === 'cartservice').map((r: any) => r.weight), [50, 100]);
  assert.ok(card.calls.requests > 100, `only ${card.calls.requests} boutique requests`);
  assert.equal(card.calls.failed, 0, JSON.stringify(card.calls.failures));
  assert.ok(card.calls.bridges > 0);
  assert.equal(card.calls.onTargetAtEnd, true);
  const seen = card.calls.waves.filter((wave: any) => wave.answers > 0);
  assert.ok(seen.length >= 2, JSON.stringify(card.calls.waves));
  for (const wave of seen) assert.deepEqual(wave.observed, wave.planned, wave.wave);
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
  const texts = [result.stdout, result.stderr, plan, readFileSync(card.files.journal, 'utf8'), readFileSync(card.files.report, 'utf8'), ...readdirSync(join(dir, 'logs')).map((f) => readFileSync(join(dir, 'logs', f), 'utf8'))];
  for (const text of texts) assert.doesNotMatch(text, /postgresql:\/\/[^:\s]+:[0-9a-f]{16,}@/, 'a connection string with its password leaked');
});
