import 'reflect-metadata'; // @peculiar/x509 (lab TLS) needs the Reflect polyfill loaded first
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Pool, request } from 'undici';
import { runCanary, type CanaryEvent } from '../../../src/analysis/canary.js';
import { systemClock } from '../../../src/analysis/clock.js';
import { analysisSchema, gatesSchema } from '../../../src/analysis/gates-schema.js';
import { metricsForSlice } from '../../../src/analysis/index.js';
import type { Bucket, MetricsProvider } from '../../../src/analysis/metrics-provider.js';
import { startLab, type Lab } from '../../../src/lab/cluster.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { kubeClusterObjects } from '../../../src/traffic/cluster-objects.js';
import { runtimeCommand } from '../../../src/traffic/haproxy.js';
import { createTrafficProvider, setAndVerifyWeight } from '../../../src/traffic/index.js';
import { trafficProviderSchema } from '../../../src/traffic/provider-config.js';
import { freePort, startProgram } from '../traffic/helpers.js';
import { driveLoad, startLabBackend, startPrometheus, type LabBackend, type PrometheusProcess } from './helpers.js';

// The judge's numbers from each product's own metrics, through a real Prometheus: HAProxy's
// built-in exporter (per server), and the lab's ingress in ingress-nginx's shape (a canary
// Ingress written by the ingress-nginx provider; two clusters told apart by the `cluster`
// label for DNS ramps). Counts must equal what the clients saw.
const SCRAPE_MS = 500;
const dir = mkdtempSync(join(tmpdir(), 'ferry-provider-metrics-'));
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Resolves once Prometheus has scraped every job at least once. */
async function scraped(prometheus: PrometheusProcess, jobs: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const reply = (await (await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent('sum(up)')}`)).json()) as { data: { result: Array<{ value: [number, string] }> } };
    if (Number(reply.data.result[0]?.value[1] ?? 0) >= jobs) return;
    await sleep(200);
  }
  throw new Error('Prometheus did not scrape every job');
}

/** A window on the scrape grid bracketing `work`: idle before, idle after, so the counters' differences are exact. */
async function measured(work: () => Promise<void>): Promise<{ from: number; to: number }> {
  const from = Math.ceil((Date.now() + SCRAPE_MS) / SCRAPE_MS) * SCRAPE_MS;
  await sleep(from - Date.now() + 50);
  await work();
  const to = Math.ceil(Date.now() / SCRAPE_MS) * SCRAPE_MS + 2 * SCRAPE_MS;
  await sleep(to - Date.now() + 3 * SCRAPE_MS);
  return { from, to };
}

function total(buckets: Bucket[]): { requests: number; errors: number; latencies: number } {
  return buckets.reduce((sum, b) => ({ requests: sum.requests + b.requests, errors: sum.errors + b.errors, latencies: sum.latencies + b.latenciesMs.length }), { requests: 0, errors: 0, latencies: 0 });
}

interface Seen {
  requests: number;
  errors: number;
}

/** Sends one request through `pool` and books it to the side `sideOf` names. */
function sender(pool: Pool, seen: Record<string, Seen>, sideOf: (status: number, body: Record<string, unknown>) => string, headers: Record<string, string> = {}) {
  return async () => {
    const response = await pool.request({ method: 'GET', path: '/', headers });
    const body = (await response.body.json().catch(() => ({}))) as Record<string, unknown>;
    const side = sideOf(response.statusCode, body);
    seen[side] ??= { requests: 0, errors: 0 };
    seen[side].requests++;
    if (response.statusCode >= 500) seen[side].errors++;
    return response.statusCode;
  };
}

// ---------------------------------------------------------------- HAProxy
let haproxy: { url: string; socket: string; backends: LabBackend[] } | undefined;
let haproxyPrometheus: PrometheusProcess | undefined;

async function startHaproxy(): Promise<NonNullable<typeof haproxy>> {
  const source = await startLabBackend('source', ['--seed', '11', '--error-rate', '0']);
  const target = await startLabBackend('target', ['--seed', '12', '--error-rate', '0']);
  cleanups.push(() => source.kill(), () => target.kill());
  const port = await freePort();
  const metricsPort = await freePort();
  const socket = join(dir, 'haproxy.sock');
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    `global
    stats socket ${socket} mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:${port}
    default_backend be_app
frontend exporter
    bind 127.0.0.1:${metricsPort}
    http-request use-service prometheus-exporter if { path /metrics }
backend be_app
    balance roundrobin
    server source ${new URL(source.url).host} weight 70
    server target ${new URL(target.url).host} weight 30
`,
  );
  const program = await startProgram('/usr/sbin/haproxy', ['-db', '-f', config], async () => existsSync(socket) && (await runtimeCommand(socket, 'show info')).includes('Name: HAProxy'), 'haproxy');
  cleanups.push(() => program.stop());
  haproxyPrometheus = await startPrometheus([{ job: 'haproxy', targets: [`127.0.0.1:${metricsPort}`], metricsPath: '/metrics' }], SCRAPE_MS);
  cleanups.push(() => haproxyPrometheus!.stop());
  await scraped(haproxyPrometheus, 1);
  return { url: `http://127.0.0.1:${port}`, socket, backends: [source, target] };
}

const haproxyTraffic = { type: 'haproxy' as const, backend: 'be_app', sourceServer: 'source', targetServer: 'target' };

test('HAProxy\'s exporter through Prometheus: per-server buckets equal what clients saw, and a failing server\'s 5xx are its errors', async () => {
  haproxy = await startHaproxy();
  const traffic = trafficProviderSchema.parse({ ...haproxyTraffic, socket: haproxy.socket });
  const { provider, source, target } = metricsForSlice({ metrics: { provider: 'prometheus', url: haproxyPrometheus!.url, scrapeInterval: `${SCRAPE_MS}ms` }, traffic, clusters: {}, sliceName: 'shop' });
  assert.deepEqual([source, target], ['source', 'target']);
  assert.equal(await provider.isOnline(), true);

  const pool = new Pool(haproxy.url, { connections: 16 });
  cleanups.push(() => pool.close());
  const seen: Record<string, Seen> = {};
  const send = sender(pool, seen, (_status, body) => String(body.backend));
  const window = await measured(async () => {
    await driveLoad(send, 200, 2500, () => false);
    await haproxy!.backends[1]!.set({ errorRate: 0.3 });
    await driveLoad(send, 200, 2500, () => false);
  });
  await haproxy.backends[1]!.set({ errorRate: 0 });
  const got = { source: total(await provider.buckets(source, window.from, window.to, SCRAPE_MS)), target: total(await provider.buckets(target, window.from, window.to, SCRAPE_MS)) };
  process.stdout.write(`# haproxy over ${(window.to - window.from) / 1000} s: clients ${JSON.stringify(seen)}, prometheus ${JSON.stringify(got)}\n`);
  for (const side of ['source', 'target'] as const) {
    assert.equal(got[side].requests, seen[side]!.requests, `${side} requests`);
    assert.equal(got[side].errors, seen[side]!.errors, `${side} errors`);
    assert.equal(got[side].latencies, 0, 'HAProxy 2.6 exports no per-server histogram');
  }
  assert.ok(seen.target!.errors > 50, `the failing server answered ${seen.target!.errors} 5xx`);
  assert.equal(seen.source!.errors, 0);
  assert.match(provider.noLatency ?? '', /no latency histogram per server/);
});

test('through real HAProxy and Prometheus: a PromQL gate with bad PromQL, then Prometheus going down mid-ramp, are verdicts saying the query failed, and the weight returns to 0', async () => {
  assert.ok(haproxy, 'runs after the HAProxy test');
  const trafficConfig = trafficProviderSchema.parse({ ...haproxyTraffic, socket: haproxy.socket });
  const traffic = createTrafficProvider(trafficConfig);
  await traffic.reconcile();
  const { provider, source, target } = metricsForSlice({ metrics: { provider: 'prometheus', url: haproxyPrometheus!.url, scrapeInterval: `${SCRAPE_MS}ms` }, traffic: trafficConfig, clusters: {}, sliceName: 'shop' });
  const pool = new Pool(haproxy.url, { connections: 8 });
  cleanups.push(() => pool.close());
  let stop = false;
  const load = driveLoad(sender(pool, {}, () => 'any'), 150, 30_000, () => stop);
  const ramp = (metrics: MetricsProvider, gates: unknown, events: CanaryEvent[]) =>
    runCanary({
      traffic,
      metrics,
      clock: systemClock,
      source,
      target,
      steps: [20, 50],
      holdMs: 20_000,
      gates: gatesSchema.parse(gates),
      analysis: analysisSchema.parse({ interval: '500ms', consecutiveErrorLimit: 3, maxExtensions: 0 }),
      onEvent: (event) => events.push(event),
    });
  try {
    // 1. Bad PromQL: Prometheus answers, and says what is wrong.
    const badEvents: CanaryEvent[] = [];
    const bad = await ramp(provider, { minRequests: 20, errorRate: { max: 0.5 }, promql: [{ name: 'target-5xx', query: 'sum(rate(haproxy_server_http_responses_total{server="$target",code="5xx"}[5s]', max: 1 }] }, badEvents);
    assert.equal(bad.result, 'rolled-back');
    const gate = bad.rollback!.evidence.gates[0]!;
    assert.equal(gate.gate, 'promql.target-5xx');
    assert.match(gate.reason, /^query failed \(3 in a row, limit 3\): Prometheus rejected sum\(rate\(haproxy_server_http_responses_total\{server="target",code="5xx"\}\[5s\]: .*parse error/);
    assert.deepEqual(await traffic.getWeights(), { source: 100, target: 0 });

    // 2. Prometheus goes down mid-ramp: never zero traffic, never a pass.
    const downEvents: CanaryEvent[] = [];
    const running = ramp(provider, { minRequests: 20, errorRate: { max: 0.5 }, latency: [{ percentile: 99, maxIncrease: 0.5 }] }, downEvents);
    await sleep(2500);
    const downAt = Date.now();
    await haproxyPrometheus!.stop();
    const down = await running;
    assert.equal(down.result, 'rolled-back');
    const evidence = down.rollback!.evidence.gates[0]!;
    assert.equal(evidence.gate, 'metrics');
    assert.match(evidence.reason, /^query failed \(3 in a row, limit 3\): cannot reach Prometheus at http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(down.rollback!.onsetAt >= downAt - SCRAPE_MS, 'onset is the first failed read');
    assert.deepEqual(await traffic.getWeights(), { source: 100, target: 0 });
    // Before the outage, latency gates said why they could not be judged.
    const latency = downEvents.flatMap((e) => (e.type === 'look' ? e.verdict.gates : [])).find((g) => g.gate === 'latency.p99.maxIncrease' && g.reason.startsWith('no latencies'));
    assert.match(latency?.reason ?? '', /HAProxy 2\.6's exporter has no latency histogram per server/);
    process.stdout.write(`# bad PromQL: ${gate.reason}\n# Prometheus down: ${evidence.reason}; weight 0 read back ${down.rollback!.weightZeroAt - downAt} ms after the kill\n`);
  } finally {
    stop = true;
    await load;
  }
});

// ---------------------------------------------------------------- lab ingress
const HOST = 'shop.example.com';

function app(name: string): KubeObject[] {
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'default' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'ferry.dev/echo:v1', ports: [{ containerPort: 8080 }], readinessProbe: { httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 1 } }] } },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] } },
  ];
}

async function ready(url: string, headers: Record<string, string>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    // fetch() drops a Host header (a forbidden header name); undici's request sends it.
    const status = await request(url, { headers }).then(async (r) => (await r.body.dump(), r.statusCode), () => 0);
    if (status === 200) return;
    await sleep(250);
  }
  throw new Error(`${url} never answered 200`);
}

/** Sets faults on the pod behind the route, through the ingress itself (a sample app's /__ferry/faults). */
async function faults(pool: Pool, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<void> {
  const response = await pool.request({ method: 'POST', path: '/__ferry/faults', headers: { host: HOST, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  await response.body.dump();
  assert.equal(response.statusCode, 200);
}

test('the lab ingress exports ingress-nginx\'s metrics: a canary split read with the ingress-nginx defaults, two clusters told apart by the cluster label for DNS', async () => {
  const lab: Lab = await startLab({ clusters: ['old', 'new'], pods: 'processes' });
  cleanups.push(() => lab.stop());
  const [old, next] = lab.clusters as [Lab['clusters'][number], Lab['clusters'][number]];
  const objectsOf = (cluster: typeof old) => {
    const config = new KubeConfig();
    config.loadFromString(cluster.kubeconfig);
    return kubeClusterObjects(config);
  };
  const oldObjects = objectsOf(old);
  const newObjects = objectsOf(next);
  // old: shop and shop-next behind the ingress-nginx provider's primary and canary Ingresses.
  for (const object of [...app('shop'), ...app('shop-next')]) await oldObjects.apply(object);
  const nginxConfig = trafficProviderSchema.parse({ type: 'ingress-nginx', namespace: 'default', name: 'shop', host: HOST, source: { service: 'shop', port: 80 }, target: { service: 'shop-next', port: 80 } });
  const nginx = createTrafficProvider(nginxConfig, { cluster: oldObjects });
  await nginx.reconcile();
  await setAndVerifyWeight(nginx, 30);
  // new: shop behind a plain Ingress, as a DNS ramp's target cluster.
  for (const object of app('shop')) await newObjects.apply(object);
  // (Its own name: the ingress-nginx defaults select by namespace and Ingress, not by cluster.)
  await newObjects.apply({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'shop-new', namespace: 'default' }, spec: { rules: [{ host: HOST, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'shop', port: { number: 80 } } } }] } }] } });
  await ready(old.ingress!.url, { host: HOST, cookie: 'ferry_canary=always' });
  await ready(old.ingress!.url, { host: HOST, cookie: 'ferry_canary=never' });
  await ready(next.ingress!.url, { host: HOST });

  const metricsText = await (await fetch(old.ingress!.metricsUrl)).text();
  // As ingress-nginx labels a canary: the primary Ingress, the canary's upstream in `canary`.
  assert.match(metricsText, /nginx_ingress_controller_requests\{namespace="default",ingress="shop",service="shop-next",canary="default-shop-next-80",host="shop.example.com",method="GET",status="200"\} \d+/);
  assert.match(metricsText, /nginx_ingress_controller_requests\{namespace="default",ingress="shop",service="shop",canary="",host="shop.example.com",method="GET",status="200"\} \d+/);
  assert.match(metricsText, /nginx_ingress_controller_request_duration_seconds_bucket\{le="0.005",namespace="default",ingress="shop"/);

  const prometheus = await startPrometheus(
    [
      { job: 'ingress-old', targets: [new URL(old.ingress!.metricsUrl).host], labels: { cluster: 'old' } },
      { job: 'ingress-new', targets: [new URL(next.ingress!.metricsUrl).host], labels: { cluster: 'new' } },
    ],
    SCRAPE_MS,
  );
  cleanups.push(() => prometheus.stop());
  await scraped(prometheus, 2);
  const metrics = { provider: 'prometheus' as const, url: prometheus.url, scrapeInterval: `${SCRAPE_MS}ms` };

  const oldPool = new Pool(old.ingress!.url, { connections: 16 });
  const newPool = new Pool(next.ingress!.url, { connections: 16 });
  cleanups.push(() => oldPool.close(), () => newPool.close());
  // The canary (shop-next) and the new cluster's shop fail a share of requests.
  await faults(oldPool, { errorRate: 0.3, errorStatus: 503 }, { cookie: 'ferry_canary=always' });
  await faults(newPool, { errorRate: 0.2, errorStatus: 500 });

  const canary: Record<string, Seen> = {};
  const clusters: Record<string, Seen> = {};
  const byPod = (_status: number, body: Record<string, unknown>) => (String(body.pod).startsWith('shop-next-') ? 'target' : 'source');
  const toOld = sender(oldPool, canary, byPod, { host: HOST });
  const toNew = sender(newPool, clusters, () => 'new', { host: HOST });
  const window = await measured(async () => {
    await Promise.all([driveLoad(toOld, 200, 4000, () => false), driveLoad(toNew, 80, 4000, () => false)]);
  });

  // ingress-nginx: primary vs canary on the old cluster.
  const nginxMetrics = metricsForSlice({ metrics, traffic: nginxConfig, clusters: { source: 'old', target: 'new' }, sliceName: 'shop' });
  const nginxGot = {
    source: total(await nginxMetrics.provider.buckets(nginxMetrics.source, window.from, window.to, SCRAPE_MS)),
    target: total(await nginxMetrics.provider.buckets(nginxMetrics.target, window.from, window.to, SCRAPE_MS)),
  };
  process.stdout.write(`# ingress-nginx canary over ${(window.to - window.from) / 1000} s: clients ${JSON.stringify(canary)}, prometheus ${JSON.stringify(nginxGot)}\n`);
  for (const side of ['source', 'target'] as const) {
    assert.equal(nginxGot[side].requests, canary[side]!.requests, `${side} requests`);
    assert.equal(nginxGot[side].errors, canary[side]!.errors, `${side} errors`);
    assert.equal(nginxGot[side].latencies, nginxGot[side].requests, `${side}: one latency per request`);
  }
  const share = canary.target!.requests / (canary.target!.requests + canary.source!.requests);
  assert.ok(share > 0.2 && share < 0.4, `canary weight 30 %: the canary took ${(100 * share).toFixed(1)} %`);
  assert.ok(canary.target!.errors > 20 && canary.source!.errors === 0);

  // PowerDNS: the same host on each cluster's ingress, by the cluster label.
  const dns = trafficProviderSchema.parse({ type: 'powerdns', apiUrl: 'http://127.0.0.1:8081', zone: 'example.com.', record: `${HOST}.`, source: ['127.0.0.1'], target: ['127.0.0.2'] });
  const dnsMetrics = metricsForSlice({ metrics, traffic: dns, clusters: { source: 'old', target: 'new' }, sliceName: 'shop' });
  assert.deepEqual([dnsMetrics.source, dnsMetrics.target], ['old', 'new']);
  const dnsGot = { old: total(await dnsMetrics.provider.buckets('old', window.from, window.to, SCRAPE_MS)), new: total(await dnsMetrics.provider.buckets('new', window.from, window.to, SCRAPE_MS)) };
  process.stdout.write(`# powerdns by cluster label: clients old ${JSON.stringify({ requests: canary.source!.requests + canary.target!.requests, errors: canary.target!.errors })} new ${JSON.stringify(clusters.new)}, prometheus ${JSON.stringify(dnsGot)}\n`);
  assert.equal(dnsGot.old.requests, canary.source!.requests + canary.target!.requests);
  assert.equal(dnsGot.old.errors, canary.target!.errors);
  assert.equal(dnsGot.new.requests, clusters.new!.requests);
  assert.equal(dnsGot.new.errors, clusters.new!.errors);
  assert.ok(clusters.new!.errors > 20);
});
