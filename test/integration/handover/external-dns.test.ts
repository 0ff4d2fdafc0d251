/**
 * external-dns ownership handed over: a real PowerDNS holds the zone external-dns writes for
 * both clusters, with the TXT registry records of the adservice slice's names (from its
 * Service's `external-dns.alpha.kubernetes.io/hostname` annotation) owned by the source
 * cluster's owner id — in the registry's original format (the name itself) and in the
 * record-type-prefixed names newer external-dns versions write (`a-`, `cname-`). A `ferry run`
 * of the one-slice plan behind the router (test/integration/run/stage.ts) moves them to the
 * target's owner id at cutover; `ferry rollback` gives them back. Records of other names and
 * other owners are never touched.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPowerdnsServer } from '../traffic/helpers.js';
import { startRunStage, type RunStage } from '../run/stage.js';

const API_KEY = 'pdns-external-dns-test-key-not-secret';
const ZONE = 'example.test.';
const SOURCE_OWNER = 'cluster-source';
const TARGET_OWNER = 'cluster-target';
const registry = (owner: string, resource = 'service/default/adservice') => `"heritage=external-dns,external-dns/owner=${owner},external-dns/resource=${resource}"`;

const dir = mkdtempSync(join(tmpdir(), 'ferry-external-dns-'));
let stage: RunStage;
let pdns: { apiUrl: string; stop(): Promise<void> };

async function txt(): Promise<Record<string, string[]>> {
  const zone = (await (await fetch(`${pdns.apiUrl}/api/v1/servers/localhost/zones/${ZONE}`, { headers: { 'x-api-key': API_KEY } })).json()) as { rrsets: Array<{ name: string; type: string; records: Array<{ content: string }> }> };
  return Object.fromEntries(zone.rrsets.filter((set) => set.type === 'TXT').map((set) => [set.name, set.records.map((record) => record.content)]));
}

function ownersOf(records: Record<string, string[]>, name: string): string[] {
  return (records[name] ?? []).map((content) => /external-dns\/owner=([^,"]*)/.exec(content)?.[1] ?? content);
}

before(async () => {
  pdns = await startPowerdnsServer(dir, API_KEY);
  const record = (name: string, type: string, content: string) => ({ name, type, ttl: 300, records: [{ content, disabled: false }] });
  const created = await fetch(`${pdns.apiUrl}/api/v1/servers/localhost/zones`, {
    method: 'POST',
    headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: ZONE, kind: 'Native', nameservers: [`ns1.${ZONE}`],
      rrsets: [
        record(`ads.${ZONE}`, 'A', '127.0.0.2'),
        record(`ads.${ZONE}`, 'TXT', registry(SOURCE_OWNER)),
        record(`a-ads.${ZONE}`, 'TXT', registry(SOURCE_OWNER)),
        record(`ads-api.${ZONE}`, 'CNAME', `ads.${ZONE}`),
        record(`cname-ads-api.${ZONE}`, 'TXT', registry(SOURCE_OWNER)),
        // A third owner's record at one of the slice's names: never taken over.
        record(`aaaa-ads.${ZONE}`, 'TXT', registry('cluster-other')),
        // Not the slice's name: the same owner, left alone.
        record(`shop.${ZONE}`, 'TXT', registry(SOURCE_OWNER, 'ingress/default/frontend')),
      ],
    }),
  });
  assert.equal(created.status, 201, await created.text());
  stage = await startRunStage();
  const annotated = await stage.lab.kubectl(['annotate', 'service/adservice', '-n', 'default', `external-dns.alpha.kubernetes.io/hostname=ads.example.test,ads-api.example.test`], 'source');
  assert.equal(annotated.code, 0, annotated.stderr);
});
after(async () => {
  await stage?.stop();
  await pdns?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the TXT registry records of a slice\'s names carry the target\'s owner id after cutover and the source\'s again after rollback', async () => {
  const stateDir = join(stage.lab.dir, 'state');
  const plan = await stage.writePlan('external-dns', (plan) => {
    plan.spec.externalDns = { provider: 'powerdns', apiUrl: pdns.apiUrl, zone: 'example.test', apiKeyEnv: 'PDNS_API_KEY', sourceOwnerId: SOURCE_OWNER, targetOwnerId: TARGET_OWNER };
    plan.spec.defaults.decommission.requireIdle = false;
  });

  const preflight = stage.ferry(['preflight', plan, '-o', 'json']);
  await preflight.closed;
  const row = JSON.parse(preflight.stdout).rows.find((candidate: any) => candidate.check === 'external-dns');
  assert.equal(row.severity, 'OK');
  assert.match(row.message, /ads-api\.example\.test, ads\.example\.test moves from owner cluster-source to cluster-target/);

  const users = stage.load({ rate: 50 });
  const running = stage.ferry(['run', plan, '--state-dir', stateDir, '-o', 'json'], { PDNS_API_KEY: API_KEY });
  const code = await running.closed;
  const seen = await users.stop();
  assert.equal(code, 0, running.stderr.slice(-2000));
  const state = JSON.parse(running.stdout);
  assert.equal(state.status, 'completed');
  assert.equal(seen.failed, 0, seen.failures.slice(0, 3).join('; '));

  const afterCutover = await txt();
  for (const name of [`ads.${ZONE}`, `a-ads.${ZONE}`, `cname-ads-api.${ZONE}`]) assert.deepEqual(ownersOf(afterCutover, name), [TARGET_OWNER], name);
  assert.deepEqual(ownersOf(afterCutover, `shop.${ZONE}`), [SOURCE_OWNER]);
  assert.deepEqual(ownersOf(afterCutover, `aaaa-ads.${ZONE}`), ['cluster-other']);
  assert.equal(afterCutover[`ads.${ZONE}`]![0], registry(TARGET_OWNER), 'the rest of the registry text is kept');

  // Moved at cutover (the soak stage, after the ramp reached 100 %), before decommission; journaled.
  const records = stage.journal(stateDir, state.id);
  const moved = records.find((record) => record.type === 'dns-owner-moved');
  assert.deepEqual([moved.data.from, moved.data.to, [...moved.data.moved].sort()], [SOURCE_OWNER, TARGET_OWNER, [`a-ads.${ZONE}`, `ads.${ZONE}`, `cname-ads-api.${ZONE}`]]);
  assert.deepEqual(moved.data.foreign, [{ name: `aaaa-ads.${ZONE}`, owner: 'cluster-other' }]);
  const index = (predicate: (record: any) => boolean) => records.findIndex(predicate);
  assert.ok(index((r) => r.type === 'stage-completed' && r.data.stage === 'ramp') < index((r) => r.type === 'dns-owner-moved'));
  assert.ok(index((r) => r.type === 'dns-owner-moved') < index((r) => r.type === 'stage-started' && r.data.stage === 'decommission'));
  assert.ok(!readFileSync(join(stateDir, 'runs', state.id, 'journal.jsonl'), 'utf8').includes(API_KEY), 'the API key is never journaled');

  const rolledBack = stage.ferry(['rollback', state.id, '--state-dir', stateDir, '-o', 'json'], { PDNS_API_KEY: API_KEY });
  assert.equal(await rolledBack.closed, 0, rolledBack.stderr.slice(-2000));
  const afterRollback = await txt();
  for (const name of [`ads.${ZONE}`, `a-ads.${ZONE}`, `cname-ads-api.${ZONE}`]) assert.deepEqual(ownersOf(afterRollback, name), [SOURCE_OWNER], name);
  assert.deepEqual(ownersOf(afterRollback, `shop.${ZONE}`), [SOURCE_OWNER]);
  assert.deepEqual(ownersOf(afterRollback, `aaaa-ads.${ZONE}`), ['cluster-other']);
});
