import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTrafficProvider, setAndVerifyWeight } from '../../../src/traffic/index.js';
import { startPowerdnsServer } from './helpers.js';

// A real PowerDNS Authoritative server (Debian pdns-server + gsqlite3) on loopback ports;
// weights are written as a LUA pickwrandom record through its HTTP API and the effect is
// read back by counting the answers to many DNS queries.
const dir = mkdtempSync(join(tmpdir(), 'ferry-pdns-'));
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const API_KEY = 'pdns-test-key-not-secret';
const SOURCE = '192.0.2.10';
const TARGET = '198.51.100.20';

/** Counts answers over `queries` queries; a fresh resolver channel each time so c-ares' own cache cannot repeat an answer. */
async function countAnswers(port: number, name: string, queries: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let start = 0; start < queries; start += 50) {
    const answers = await Promise.all(Array.from({ length: Math.min(50, queries - start) }, async () => {
      const resolver = new Resolver({ timeout: 2000, tries: 2 });
      resolver.setServers([`127.0.0.1:${port}`]);
      return (await resolver.resolve4(name))[0]!;
    }));
    for (const answer of answers) counts[answer] = (counts[answer] ?? 0) + 1;
  }
  return counts;
}

test('PowerDNS LUA pickwrandom weights: TTL lowered first, answers follow the weights, finalize restores the record', async () => {
  const { apiUrl, dnsPort, stop } = await startPowerdnsServer(dir, API_KEY);
  const headers = { 'x-api-key': API_KEY, 'content-type': 'application/json' };
  cleanups.push(stop);

  // The starting point a user has: a plain A record with a long TTL.
  const created = await fetch(`${apiUrl}/api/v1/servers/localhost/zones`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      name: 'example.test.', kind: 'Native', nameservers: ['ns1.example.test.'],
      rrsets: [{ name: 'shop.example.test.', type: 'A', ttl: 3600, records: [{ content: SOURCE, disabled: false }] }],
    }),
  });
  assert.equal(created.status, 201, await created.text());

  const provider = createTrafficProvider(
    { type: 'powerdns', apiUrl, zone: 'example.test', record: 'shop.example.test', source: [SOURCE], target: [TARGET], rampTtl: 30 },
    { env: { PDNS_API_KEY: API_KEY } },
  );
  const { settleMs } = await provider.reconcile();
  assert.equal(settleMs, 3600 * 1000, 'the old TTL must pass before the first step');
  const resolver = new Resolver();
  resolver.setServers([`127.0.0.1:${dnsPort}`]);
  const [answer] = await resolver.resolve4('shop.example.test', { ttl: true });
  assert.deepEqual(answer, { address: SOURCE, ttl: 30 });
  assert.equal((await provider.reconcile()).settleMs, 0, 'reconcile again: TTL already low, nothing to wait for');

  const measured: Record<number, number> = {};
  for (const step of [10, 50, 100]) {
    await setAndVerifyWeight(provider, step);
    const counts = await countAnswers(dnsPort, 'shop.example.test', 1000);
    measured[step] = (counts[TARGET] ?? 0) / 1000;
  }
  process.stdout.write(`# powerdns: share of 1000 answers naming the target: ${JSON.stringify(measured)}\n`);
  for (const step of [10, 50]) {
    const p = step / 100;
    assert.ok(Math.abs(measured[step]! - p) <= 4 * Math.sqrt((p * (1 - p)) / 1000), `at ${step}% the target got ${measured[step]}`);
  }
  assert.equal(measured[100], 1);

  const status = await provider.status();
  assert.equal(status.detail.originalTtl, 3600);
  await provider.finalize();
  const [restored] = await resolver.resolve4('shop.example.test', { ttl: true });
  assert.deepEqual(restored, { address: SOURCE, ttl: 3600 });
});

test('an unreachable PowerDNS API is reported with the fix', async () => {
  const provider = createTrafficProvider({ type: 'powerdns', apiUrl: 'http://127.0.0.1:9', zone: 'example.test', record: 'shop.example.test', source: [SOURCE], target: [TARGET] }, { env: {} });
  await assert.rejects(provider.getWeights(), /cannot reach the PowerDNS API/);
});
