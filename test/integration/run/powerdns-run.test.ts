/**
 * `ferry run` through real PowerDNS, judged from the clusters' ingress metrics through a real
 * Prometheus: a plan generated with `ferry plan --from source --traffic powerdns --prometheus …`
 * (narrowed to the edge slice); the slice's name starts as a plain A record with a 5 s TTL
 * pointing at the source cluster's ingress. Each cluster's ingress (the lab's, exporting
 * ingress-nginx's series) listens on its own loopback address and the same port, so the
 * address DNS answers decides the side; Prometheus labels them `cluster: source|target`.
 * Customers resolve the name through PowerDNS with TTL-honouring caches. The run must wait
 * out the old TTL before its first step (journaled), complete with no failed request, and
 * leave a plain A record of the target at the original TTL.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClusterIngress, type ClusterIngress } from '../../../src/lab/workloads/ingress.js';
import { BOUTIQUE, startFerry } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { startLabBackend, startPrometheus, type LabBackend, type PrometheusProcess } from '../analysis/helpers.js';
import { startPowerdnsServer } from '../traffic/helpers.js';
import { startDnsCustomers } from './dns-customers.js';
import { generatedPlan, readOnlyJournal, sleep } from './ramp-helpers.js';

const SCRAPE_MS = 500;
const API_KEY = 'pdns-run-test-key-not-secret';
const ZONE = 'example.test.';
const NAME = 'frontend.example.test'; // `ferry plan`: a slice without a host of its own is SLICE.ZONE
const SOURCE_ADDRESS = '127.0.0.2';
const TARGET_ADDRESS = '127.0.0.3';
const ORIGINAL_TTL = 5;

const dir = mkdtempSync(join(tmpdir(), 'ferry-pdns-run-'));
let lab: TestLab;
let backends: LabBackend[] = [];
let ingresses: ClusterIngress[] = [];
let stopPdns: (() => Promise<void>) | undefined;
let prometheus: PrometheusProcess;
let apiUrl: string;
let dnsPort: number;

async function startPowerdns(): Promise<void> {
  ({ apiUrl, dnsPort, stop: stopPdns } = await startPowerdnsServer(dir, API_KEY));
  // Where a user starts: a plain A record for the source cluster, with a TTL resolvers honour.
  const created = await fetch(`${apiUrl}/api/v1/servers/localhost/zones`, {
    method: 'POST',
    headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ name: ZONE, kind: 'Native', nameservers: [`ns1.${ZONE}`], rrsets: [{ name: `${NAME}.`, type: 'A', ttl: ORIGINAL_TTL, records: [{ content: SOURCE_ADDRESS, disabled: false }] }] }),
  });
  assert.equal(created.status, 201, await created.text());
}

before(async () => {
  lab = await startTestLab(['source', 'target']);
  const applied = await lab.kubectl(['apply', '--server-side', '-f', BOUTIQUE], 'source');
  assert.equal(applied.code, 0, applied.stderr);
  backends = await Promise.all([startLabBackend('source', ['--error-rate', '0', '--seed', '31']), startLabBackend('target', ['--error-rate', '0', '--seed', '32'])]);
  // Each cluster's ingress on its own address, the same port: the A record picks the cluster.
  const ingressFor = (cluster: string, backend: LabBackend, host: string, port?: number) =>
    startClusterIngress({
      cluster,
      host,
      ...(port ? { port } : {}),
      resolve: (requestHost) => (requestHost === NAME ? { endpoints: [{ host: '127.0.0.1', port: Number(new URL(backend.url).port) }], namespace: 'default', ingress: 'frontend', service: 'frontend' } : undefined),
    });
  const sourceIngress = await ingressFor('source', backends[0]!, SOURCE_ADDRESS);
  ingresses = [sourceIngress, await ingressFor('target', backends[1]!, TARGET_ADDRESS, sourceIngress.port)];
  await startPowerdns();
  prometheus = await startPrometheus(
    ingresses.map((ingress, i) => ({ job: `ingress-${i === 0 ? 'source' : 'target'}`, targets: [new URL(ingress.metricsUrl).host], labels: { cluster: i === 0 ? 'source' : 'target' } })),
    SCRAPE_MS,
  );
});

after(async () => {
  await prometheus?.stop();
  await stopPdns?.();
  for (const ingress of ingresses) await ingress.close();
  await Promise.all(backends.map((backend) => backend.kill()));
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function rrsets(): Promise<Array<{ name: string; type: string; ttl: number; records: Array<{ content: string }> }>> {
  const zone = (await (await fetch(`${apiUrl}/api/v1/servers/localhost/zones/${ZONE}`, { headers: { 'x-api-key': API_KEY } })).json()) as { rrsets: Array<{ name: string; type: string; ttl: number; records: Array<{ content: string }> }> };
  return zone.rrsets.filter((set) => set.name === `${NAME}.`);
}

test('a DNS ramp through PowerDNS waits out the old TTL, ramps to 100 % judged from both clusters\' ingress metrics, and leaves a plain record of the target', async () => {
  assert.equal(ingresses[0]!.port, ingresses[1]!.port);
  const plan = await generatedPlan(
    ['--from', 'source', '--to', 'target', '--name', 'dns', '--kubeconfig', lab.kubeconfigFile, '--traffic', 'powerdns', '--pdns-api-url', apiUrl, '--pdns-zone', ZONE, '--source-address', SOURCE_ADDRESS, '--target-address', TARGET_ADDRESS, '--prometheus', prometheus.url, '--scrape-interval', `${SCRAPE_MS}ms`],
    'frontend',
    (plan, slice) => {
      assert.equal(slice.traffic.provider.type, 'powerdns');
      assert.equal(slice.traffic.provider.record, NAME);
      slice.traffic.provider.rampTtl = 1;
      plan.spec.defaults.traffic.steps = [50, 100];
      plan.spec.defaults.traffic.stepWindow = '5s';
      plan.spec.defaults.gates.minRequests = 20;
      // An error budget a few seconds of traffic can prove (the generated 1 % needs minutes).
      plan.spec.defaults.gates.errorRate = { max: 0.05, maxIncrease: 0.05 };
      // No latency gate here: both ingresses, the customers and the lab share this process, so
      // on a loaded machine the side that traffic just moved to showed p90 ×2.5–×5 of the other
      // in the step's first seconds (new connections, one event loop), and the gate failed a
      // healthy target in 2 of 16 runs beside another test. Latency from the ingresses'
      // histograms is covered by test/integration/analysis/provider-metrics.test.ts.
      delete plan.spec.defaults.gates.latency;
      plan.spec.defaults.analysis = { ...plan.spec.defaults.analysis, onInconclusive: 'advance', maxExtensions: 1 };
      plan.spec.defaults.decommission.after = '0s';
      plan.spec.defaults.rollback.keepSourceFor = '0s';
    },
  );
  const planFile = join(dir, 'plan.json');
  writeFileSync(planFile, JSON.stringify(plan));
  const stateDir = join(dir, 'state');

  const customers = startDnsCustomers({ dnsServer: `127.0.0.1:${dnsPort}`, name: NAME, port: ingresses[0]!.port, users: 20, rate: 200, durationMs: 90_000 });
  // Customers resolve and cache the plain record before anything changes.
  await sleep(1000);
  const started = Date.now();
  const running = startFerry(['run', planFile, '--kubeconfig', lab.kubeconfigFile, '--state-dir', stateDir, '-o', 'json'], { PDNS_API_KEY: API_KEY });
  let code: number | null;
  try {
    code = await running.closed;
  } finally {
    customers.stop();
    if (running.child.exitCode === null) running.child.kill('SIGKILL');
  }
  const runMs = Date.now() - started;
  const users = await customers.done;
  const records = readOnlyJournal(stateDir);
  const rolledBack = records.find((r) => r.type === 'rolled-back');
  assert.equal(code, 0, `${running.stderr}\n${JSON.parse(running.stdout).error}\nevidence: ${JSON.stringify(rolledBack?.data.evidence)}`);
  assert.equal(JSON.parse(running.stdout).status, 'completed');

  const settleAt = records.findIndex((r) => r.type === 'traffic-settle');
  const firstWeightAt = records.findIndex((r) => r.type === 'weight-set');
  assert.notEqual(settleAt, -1, 'the journal shows the wait for the old TTL');
  assert.notEqual(firstWeightAt, -1);
  const settle = records[settleAt]!;
  const firstWeight = records[firstWeightAt]!;
  assert.ok(settleAt < firstWeightAt, 'the TTL wait comes before the first step');
  assert.equal(settle.data.settleMs, ORIGINAL_TTL * 1000);
  const waitedMs = Date.parse(firstWeight.at) - Date.parse(settle.at);
  assert.ok(Date.parse(firstWeight.at) >= Date.parse(settle.data.until), `first weight-set at ${firstWeight.at}, before the old TTL ran out at ${settle.data.until}`);
  assert.ok(waitedMs >= ORIGINAL_TTL * 1000 - 5, `first step ${waitedMs} ms after the TTL wait began`);
  assert.deepEqual(records.filter((r) => r.type === 'weight-set').map((r) => r.data.weight), [50, 100]);
  const passed = records.filter((r) => r.type === 'ramp-step-passed').map((r) => r.data.weight);

  // complete(): a plain record of the target at the original TTL; the LUA record is gone.
  const sets = await rrsets();
  assert.deepEqual(sets.map((set) => ({ type: set.type, ttl: set.ttl, records: set.records.map((record) => record.content) })), [{ type: 'A', ttl: ORIGINAL_TTL, records: [TARGET_ADDRESS] }]);
  const resolver = new Resolver();
  resolver.setServers([`127.0.0.1:${dnsPort}`]);
  assert.deepEqual(await resolver.resolve4(NAME, { ttl: true }), [{ address: TARGET_ADDRESS, ttl: ORIGINAL_TTL }]);

  process.stdout.write(
    `# powerdns: TTL wait ${settle.data.settleMs} ms, first step ${waitedMs} ms after it began; steps passed by the judge ${JSON.stringify(passed)} of [50,100]; run ${(runMs / 1000).toFixed(1)} s; customers ${users.requests} requests, ${users.failed} failed, by address ${JSON.stringify(users.byAddress)}\n`,
  );
  assert.equal(users.failed, 0, `${users.failed} of ${users.requests} customer requests failed: ${users.failures.slice(0, 5).join('; ')}`);
  assert.ok((users.byAddress[SOURCE_ADDRESS] ?? 0) > 0 && (users.byAddress[TARGET_ADDRESS] ?? 0) > 0, 'customers were served by both clusters');
});
