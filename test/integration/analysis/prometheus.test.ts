import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { startRouter, type Router } from '../../../src/traffic/index.js';
import { SequentialJudge } from '../../../src/analysis/judge.js';
import { analysisSchema, gatesSchema } from '../../../src/analysis/gates-schema.js';
import { PrometheusMetricsProvider } from '../../../src/analysis/prometheus.js';
import { observeRouter, RouterMetricsProvider } from '../../../src/analysis/router-metrics.js';
import { driveLoad, startLabBackend, startPrometheus, type LabBackend, type PrometheusProcess } from './helpers.js';

// A real Prometheus (Debian's) scraping the embedded router's /metrics every 500 ms; the
// Prometheus provider must give the same counts the router saw, and the judge must reach the
// same verdict from them.
const SCRAPE_MS = 500;
const backends: LabBackend[] = [];
let router: Router | undefined;
let prometheus: PrometheusProcess | undefined;
let pool: Pool | undefined;
after(async () => {
  await pool?.close();
  await prometheus?.stop();
  await router?.close();
  for (const backend of backends) await backend.kill();
});

test('Prometheus provider over a real Prometheus scraping the router agrees with the router and fails a bad target', async () => {
  const source = await startLabBackend('source', ['--seed', '3']);
  const target = await startLabBackend('target', ['--seed', '4']);
  backends.push(source, target);
  router = await startRouter(
    {
      listen: '127.0.0.1:0',
      admin: { listen: '127.0.0.1:0', tokenEnv: 'UNUSED' },
      timeoutMs: 10_000,
      maxRequestBodyBytes: 1024,
      backends: { source: { url: source.url, connections: 16 }, target: { url: target.url, connections: 16 } },
      routes: [
        {
          name: 'shop',
          match: { pathPrefix: '/' },
          source: 'source',
          target: 'target',
          weight: 20,
          stickiness: { mode: 'none', name: 'ferry_user', maxAgeSeconds: 60 },
          mirror: { enabled: false, percent: 0, allowNonIdempotent: false, compare: { headers: [], ignorePaths: [], maxBodyBytes: 1024, sampleSize: 0 } },
        },
      ],
    },
    { adminToken: 'unused-token-not-secret' },
  );
  const own = new RouterMetricsProvider();
  observeRouter(router, own, 'shop');
  prometheus = await startPrometheus(new URL(router.adminUrl!).host, SCRAPE_MS);
  const provider = new PrometheusMetricsProvider({ url: prometheus.url, route: 'shop', scrapeIntervalMs: SCRAPE_MS });
  assert.equal(await provider.isOnline(), true);

  pool = new Pool(router.url, { connections: 16 });
  const client = pool;
  const send = async () => {
    const response = await client.request({ method: 'GET', path: '/' });
    await response.body.dump();
    return response.statusCode;
  };
  // Align to the scrape grid so both providers judge the same interval.
  const from = Math.ceil((Date.now() + SCRAPE_MS) / SCRAPE_MS) * SCRAPE_MS;
  await new Promise((resolve) => setTimeout(resolve, from - Date.now()));
  await driveLoad(send, 300, 4000, () => false);
  await target.set({ errorRate: 0.25 });
  await driveLoad(send, 300, 4000, () => false);
  const to = Math.floor(Date.now() / SCRAPE_MS) * SCRAPE_MS + SCRAPE_MS;
  // Let at least two more scrapes land before reading.
  await new Promise((resolve) => setTimeout(resolve, to - Date.now() + 3 * SCRAPE_MS));

  const sum = (buckets: { requests: number; errors: number; latenciesMs: number[] }[]) =>
    buckets.reduce((acc, b) => ({ requests: acc.requests + b.requests, errors: acc.errors + b.errors, latencies: acc.latencies + b.latenciesMs.length }), { requests: 0, errors: 0, latencies: 0 });
  const totals: Record<string, unknown> = {};
  for (const backend of ['source', 'target']) {
    const fromPrometheus = sum(await provider.buckets(backend, from, to, SCRAPE_MS));
    const fromRouter = sum(await own.buckets(backend, from, to, SCRAPE_MS));
    totals[backend] = { prometheus: fromPrometheus, router: fromRouter };
    // The router stamps a response when it ends and Prometheus when it scrapes: a response
    // finishing during a scrape can land one bucket apart, so compare the totals.
    assert.equal(fromPrometheus.requests, fromRouter.requests, `${backend} requests`);
    assert.equal(fromPrometheus.errors, fromRouter.errors, `${backend} errors`);
    assert.equal(fromPrometheus.latencies, fromPrometheus.requests, `${backend} histogram count`);
  }
  process.stdout.write(`# totals over ${(to - from) / 1000} s: ${JSON.stringify(totals)}\n`);

  // A custom PromQL gate, and the judge on Prometheus' buckets.
  const errorQuery = 'sum(rate(ferry_router_errors_total{route="shop",backend="target"}[3s])) / sum(rate(ferry_router_requests_total{route="shop",backend="target"}[3s]))';
  const errorRatio = await provider.query(errorQuery, to);
  assert.ok(errorRatio > 0.1 && errorRatio < 0.45, `target error ratio ${errorRatio}`);
  const gates = gatesSchema.parse({ errorRate: { maxIncrease: 0.01 }, latency: [{ percentile: 99, maxIncrease: 0.5 }], promql: [{ name: 'target-errors', query: errorQuery, max: 0.05 }] });
  const judge = new SequentialJudge({ gates, analysis: analysisSchema.parse({}), steps: 4, maxStepMs: 60_000, bucketMs: SCRAPE_MS });
  const verdict = judge.look({
    now: to,
    target: await provider.buckets('target', from, to, SCRAPE_MS),
    source: await provider.buckets('source', from, to, SCRAPE_MS),
    promql: { 'target-errors': { value: errorRatio } },
  });
  for (const gate of verdict.gates) process.stdout.write(`# ${gate.gate}: ${gate.verdict}: ${gate.reason}\n`);
  assert.equal(verdict.verdict, 'fail');
  assert.ok(verdict.gates.some((g) => g.gate === 'errorRate.maxIncrease' && g.verdict === 'fail'));
  assert.ok(verdict.gates.some((g) => g.gate === 'promql.target-errors' && g.verdict === 'fail'));
  assert.equal(verdict.gates.find((g) => g.gate.startsWith('latency'))?.verdict === 'fail', false, 'latency is unchanged');
});
