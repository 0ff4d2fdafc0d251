import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { createTrafficProvider, startRouter, type Router } from '../../../src/traffic/index.js';
import { runCanary } from '../../../src/analysis/canary.js';
import { systemClock } from '../../../src/analysis/clock.js';
import { analysisSchema, gatesSchema } from '../../../src/analysis/gates-schema.js';
import { observeRouter, RouterMetricsProvider } from '../../../src/analysis/router-metrics.js';
import { driveLoad, startLabBackend, type LabBackend } from './helpers.js';

// The embedded router in front of two real backend processes at ~500 req/s, target at 10 %.
// Five seconds into the step the target starts failing 20 % of its requests; the judge must
// have the weight back at 0 (read back from the router's admin API) within 2 s of that onset.
const TOKEN = 'analysis-test-token-not-secret';
const backends: LabBackend[] = [];
const routers: Router[] = [];
const pools: Pool[] = [];
after(async () => {
  for (const pool of pools) await pool.close();
  for (const router of routers) await router.close();
  for (const backend of backends) await backend.kill();
});

interface Scenario {
  change: { errorRate?: number; latencyFactor?: number };
  seeds: [number, number];
}

/** Router + two backends at ~500 req/s, target at 10 %; `change` hits the target 5 s into the step. */
async function runScenario(scenario: Scenario) {
  const source = await startLabBackend('source', ['--seed', String(scenario.seeds[0])]);
  const target = await startLabBackend('target', ['--seed', String(scenario.seeds[1])]);
  backends.push(source, target);
  const r = await startRouter(
    {
      listen: '127.0.0.1:0',
      admin: { listen: '127.0.0.1:0', tokenEnv: 'UNUSED' },
      timeoutMs: 10_000,
      maxRequestBodyBytes: 1024,
      backends: { source: { url: source.url, connections: 32 }, target: { url: target.url, connections: 32 } },
      routes: [
        {
          name: 'shop',
          match: { pathPrefix: '/' },
          source: 'source',
          target: 'target',
          weight: 0,
          stickiness: { mode: 'none', name: 'ferry_user', maxAgeSeconds: 60 },
          mirror: { enabled: false, percent: 0, allowNonIdempotent: false, compare: { headers: [], ignorePaths: [], maxBodyBytes: 1024, sampleSize: 0 } },
        },
      ],
    },
    { adminToken: TOKEN },
  );
  routers.push(r);
  const metrics = new RouterMetricsProvider();
  observeRouter(r, metrics, 'shop');
  const traffic = createTrafficProvider({ type: 'router', adminUrl: r.adminUrl, route: 'shop', tokenEnv: 'FERRY_TEST_ROUTER_TOKEN' }, { env: { FERRY_TEST_ROUTER_TOKEN: TOKEN } });
  const client = new Pool(r.url, { connections: 32, pipelining: 1 });
  pools.push(client);

  let onsetAt = 0;
  let done = false;
  const load = driveLoad(
    async () => {
      const response = await client.request({ method: 'GET', path: '/' });
      await response.body.dump();
      return response.statusCode;
    },
    500,
    40_000,
    () => done,
  );
  const outcome = await runCanary({
    traffic,
    metrics,
    clock: systemClock,
    source: 'source',
    target: 'target',
    steps: [10, 50, 100],
    holdMs: 30_000,
    gates: gatesSchema.parse({ minRequests: 50, errorRate: { maxIncrease: 0.01 }, latency: [{ percentile: 99, maxIncrease: 0.2 }] }),
    analysis: analysisSchema.parse({ interval: '200ms' }),
    onEvent: (event) => {
      if (event.type === 'step-started' && event.step === 0) {
        setTimeout(() => {
          void target.set(scenario.change).then((at) => (onsetAt = at));
        }, 5000);
      }
    },
  }).finally(() => setTimeout(() => (done = true), 1000));
  const users = await load;
  const weights = await traffic.getWeights();
  const rollback = outcome.rollback;
  if (rollback) {
    const failing = rollback.evidence.gates[0]!;
    process.stdout.write(
      `# ${JSON.stringify(scenario.change)}: observed onset ${rollback.onsetAt - onsetAt} ms from true onset; detected +${rollback.detectedAt - onsetAt} ms; weight 0 read back +${rollback.weightZeroAt - onsetAt} ms\n` +
        `# gate ${failing.gate}: ${failing.reason}\n`,
    );
  }
  process.stdout.write(
    `# user requests: ${users.requests} in ${(users.durationMs / 1000).toFixed(1)} s (${((users.requests * 1000) / users.durationMs).toFixed(0)} req/s), failed ${users.failed} = ${((100 * users.failed) / users.requests).toFixed(3)} % of all requests\n`,
  );
  return { outcome, rollback, onsetAt, users, weights };
}

test('a target that starts failing 20 % of requests at 10 % weight is back at 0 within 2 s of onset', async () => {
  const { outcome, rollback, onsetAt, users, weights } = await runScenario({ change: { errorRate: 0.2 }, seeds: [1, 2] });
  assert.equal(outcome.result, 'rolled-back', `expected a rollback, got ${outcome.result}`);
  assert.ok(rollback && onsetAt > 0);
  assert.deepEqual(weights, { source: 100, target: 0 });
  assert.equal(rollback.step, 0);
  assert.equal(rollback.decision, 'fail');
  assert.ok(rollback.evidence.gates[0]!.gate.startsWith('errorRate'), `failed on ${rollback.evidence.gates[0]!.gate}`);
  assert.ok(rollback.detectedAt >= onsetAt, 'no rollback before the fault');
  assert.ok(rollback.weightZeroAt - onsetAt <= 2000, `weight reached 0 ${rollback.weightZeroAt - onsetAt} ms after onset`);
  assert.ok(Math.abs(rollback.onsetAt - onsetAt) <= 1000, `observed onset off by ${rollback.onsetAt - onsetAt} ms`);
  assert.ok(users.requests / (users.durationMs / 1000) > 350, 'load stayed near 500 req/s');
});

test('a latency-only regression (target ×1.5, so p99 +50 %, errors unchanged) is caught through the real router', async () => {
  const { outcome, rollback, onsetAt, weights } = await runScenario({ change: { latencyFactor: 1.5 }, seeds: [5, 6] });
  assert.equal(outcome.result, 'rolled-back', `expected a rollback, got ${outcome.result}`);
  assert.ok(rollback && onsetAt > 0);
  assert.deepEqual(weights, { source: 100, target: 0 });
  assert.match(rollback.evidence.gates[0]!.gate, /^latency\.p99/);
  assert.ok(rollback.detectedAt >= onsetAt, 'no rollback before the fault');
  assert.ok(rollback.detectedAt - onsetAt <= 15_000, `detected ${rollback.detectedAt - onsetAt} ms after onset`);
});
