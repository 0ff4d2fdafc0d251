import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import autocannon from 'autocannon';
import { createTrafficProvider, setAndVerifyWeight } from '../../../src/traffic/index.js';
import { startBackend, startRouterProcess, type BackendProcess, type RouterProcess } from './helpers.js';

// Weights change under load 0→1→10→50→100→0 through the provider (admin API), then the
// source process is killed while it serves everyone: no request may fail.
const started: Array<BackendProcess | RouterProcess> = [];
after(async () => {
  for (const item of started.reverse()) await ('stop' in item ? item.stop() : item.kill());
});

test('weights ramp 0→1→10→50→100→0 under load and the source dies at the end: zero failed requests', async () => {
  const source = await startBackend('source');
  const target = await startBackend('target');
  started.push(source, target);
  const router = await startRouterProcess({
    backends: { source: { url: source.url }, target: { url: target.url } },
    routes: [{ name: 'shop', source: 'source', target: 'target', weight: 0, stickiness: { mode: 'none' } }],
  });
  started.push(router);
  const provider = createTrafficProvider({ type: 'router', adminUrl: router.adminUrl, route: 'shop' }, { env: { FERRY_ROUTER_TOKEN: router.token } });
  await provider.reconcile();

  const durationSeconds = 14;
  const load = autocannon({ url: `${router.url}/shop`, connections: 16, duration: durationSeconds, overallRate: 1500 });
  const steps = [1, 10, 50, 100, 0];
  const applied: number[] = [];
  for (const step of steps) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    applied.push((await setAndVerifyWeight(provider, step)).target);
  }
  // All traffic is on the source now; kill it mid-load.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await source.kill('SIGKILL');
  const result = await load;

  const metrics = (await (await fetch(`${router.adminUrl}/metrics.json`)).json()) as { backends: Array<{ backend: string; role: string; requests: number; errors: number; byStatusClass: Record<string, number> }> };
  const served = (name: string) => metrics.backends.filter((b) => b.backend === name).reduce((sum, b) => sum + (b.byStatusClass['2xx'] ?? 0), 0);
  const refused = metrics.backends.filter((b) => b.backend === 'source').reduce((sum, b) => sum + (b.byStatusClass.none ?? 0), 0);
  process.stdout.write(
    `# load: ${result.requests.total} requests in ${durationSeconds} s (${result.requests.average.toFixed(0)} req/s), ` +
      `errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}; ` +
      `served by source ${served('source')}, target ${served('target')}; attempts on the dead source retried on the target: ${refused}\n`,
  );
  assert.deepEqual(applied, steps);
  assert.ok(result.requests.total > 5000, `only ${result.requests.total} requests were sent`);
  assert.equal(result.errors, 0, 'connection errors seen by clients');
  assert.equal(result.timeouts, 0, 'timeouts seen by clients');
  assert.equal(result.non2xx, 0, 'non-2xx responses seen by clients');
  assert.ok(served('target') > 0 && served('source') > 0);
  assert.ok(refused > 0, 'the source was killed while receiving traffic');
});
