import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTrafficProvider } from '../../../src/traffic/index.js';
import { luaContent, parseLuaWeights } from '../../../src/traffic/powerdns.js';
import { nginxCanaryIngress, readCanaryWeight } from '../../../src/traffic/ingress-nginx.js';
import { ingressNginxProviderSchema, powerdnsProviderSchema } from '../../../src/traffic/provider-config.js';
import type { Route53Provider } from '../../../src/traffic/route53.js';
import { FerryError } from '../../../src/util/errors.js';

test('LUA pickwrandom content round-trips the weights, with several addresses per side and zero weights left out', () => {
  const config = powerdnsProviderSchema.parse({ type: 'powerdns', apiUrl: 'http://127.0.0.1:8081', zone: 'example.test', record: 'shop.example.test', source: ['192.0.2.1', '192.0.2.2'], target: ['198.51.100.1'] });
  for (const weight of [0, 1, 10, 33, 50, 99, 100]) assert.deepEqual(parseLuaWeights(luaContent(config, weight), config), { source: 100 - weight, target: weight });
  assert.equal(luaContent(config, 0), `A "pickwrandom({{100,'192.0.2.1'},{100,'192.0.2.2'}})"`);
  assert.equal(luaContent(config, 10), `A "pickwrandom({{90,'192.0.2.1'},{90,'192.0.2.2'},{20,'198.51.100.1'}})"`);
});

test('the nginx canary weight reads back honouring canary-weight-total and canary: "false"', () => {
  const config = ingressNginxProviderSchema.parse({ type: 'ingress-nginx', namespace: 'shop', name: 'web', host: 'shop.example.com', source: { service: 'web', port: 80 }, target: { service: 'web-new', port: 80 } });
  const canary = nginxCanaryIngress(config, 25);
  assert.equal(readCanaryWeight(canary), 25);
  canary.metadata.annotations!['nginx.ingress.kubernetes.io/canary-weight-total'] = '1000';
  assert.equal(readCanaryWeight(canary), 3);
  canary.metadata.annotations!['nginx.ingress.kubernetes.io/canary'] = 'false';
  assert.equal(readCanaryWeight(canary), 0);
});

test('Route 53: the first batch swaps the simple record for weighted ones atomically; every step is written to a file', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'ferry-route53-'));
  try {
    const provider = createTrafficProvider({
      type: 'route53', hostedZoneId: 'Z123', record: 'shop.example.com', originalTtl: 3600, rampTtl: 60,
      source: { values: ['192.0.2.1'] }, target: { values: ['198.51.100.1'] }, outDir,
    }) as Route53Provider;
    assert.deepEqual(await provider.reconcile(), { settleMs: 3_600_000 });
    for (const step of [1, 10, 50, 100]) await provider.setWeight(step);
    assert.deepEqual(await provider.getWeights(), { source: 0, target: 100 });
    const files = readdirSync(outDir).sort();
    assert.deepEqual(files, ['001-lower-ttl.json', '002-weight-1.json', '003-weight-10.json', '004-weight-50.json', '005-weight-100.json']);
    const first = JSON.parse(readFileSync(join(outDir, files[0]!), 'utf8')) as { HostedZoneId: string; ChangeBatch: { Changes: Array<{ Action: string; ResourceRecordSet: { SetIdentifier?: string; Weight?: number; TTL: number } }> } };
    assert.equal(first.HostedZoneId, 'Z123');
    assert.deepEqual(first.ChangeBatch.Changes.map((c) => [c.Action, c.ResourceRecordSet.SetIdentifier ?? 'simple', c.ResourceRecordSet.Weight ?? '-', c.ResourceRecordSet.TTL]), [
      ['DELETE', 'simple', '-', 3600],
      ['CREATE', 'ferry-source', 100, 60],
      ['CREATE', 'ferry-target', 0, 60],
    ]);
    await assert.rejects(provider.setMirror({ enabled: true, percent: 10 }), /cannot mirror/);
    await assert.rejects(provider.setWeight(12.5), /whole percentage/);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
});

test('the factory names the field of a bad provider block and refuses cluster providers without a cluster', () => {
  assert.throws(() => createTrafficProvider({ type: 'haproxy', socket: '/run/haproxy.sock' }), (error: unknown) => {
    assert.ok(error instanceof FerryError);
    assert.equal(error.location.field, 'traffic.provider.backend');
    return true;
  });
  assert.throws(() => createTrafficProvider({ type: 'istio', namespace: 'a', name: 'b', hosts: ['h'], source: { host: 's' }, target: { host: 't' } }), /needs a cluster/);
});
