import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPodRuntime } from '../../../src/lab/runtime.js';
import { clearPodFaults, getAppFaults, setPodFaults } from '../../../src/lab/workloads/faults.js';
import { echoContainer, pod, waitFor } from './workloads-helpers.js';

const runtime = createPodRuntime({ cluster: 'target', timeScale: 0.1 });
after(() => runtime.stopAll());

test('an app fault returns errors at the configured rate, within sampling error', async () => {
  const running = await runtime.start(pod({ containers: [echoContainer()] }));
  await waitFor('ready', () => running.ready);
  const port = running.hostPort('http') as number;
  await setPodFaults(running, { errorRate: 0.3, errorStatus: 503 });
  const requests = 400;
  let errors = 0;
  for (let i = 0; i < requests; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/item/${i}`);
    await response.arrayBuffer();
    if (response.status === 503) errors++;
    else assert.equal(response.status, 200);
  }
  // Binomial(400, 0.3): standard deviation 0.023; 4 of them keeps flakes below 1 in 10,000.
  const rate = errors / requests;
  assert.ok(Math.abs(rate - 0.3) < 4 * Math.sqrt((0.3 * 0.7) / requests), `observed error rate ${rate}`);
  const { stats } = await getAppFaults({ host: running.host, port });
  assert.equal(stats.injectedErrors, errors);
  // Probes are exempt from traffic faults: the pod stays ready.
  assert.equal(running.ready, true);
  await clearPodFaults(running);
  assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200);
});

test('an app fault adds latency to the configured share of requests', async () => {
  const running = await runtime.start(pod({ containers: [echoContainer()] }));
  await waitFor('ready', () => running.ready);
  const port = running.hostPort('http') as number;
  await setPodFaults(running, { latencyMs: 200, latencyRate: 1 });
  const started = performance.now();
  await (await fetch(`http://127.0.0.1:${port}/`)).arrayBuffer();
  assert.ok(performance.now() - started >= 190, 'the request waited for the injected latency');
  await clearPodFaults(running);
});

test('a readiness fault makes the pod unready without restarting it, and clearing it brings it back', async () => {
  const running = await runtime.start(
    pod({ containers: [echoContainer({ livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 20, periodSeconds: 1 } })] }),
  );
  await waitFor('ready', () => running.ready);
  const pid = running.pid;
  await setPodFaults(running, { ready: false });
  await waitFor('unready', () => !running.ready);
  assert.equal(running.pid, pid, 'liveness still passes: the process was not restarted');
  assert.equal((await fetch(`http://127.0.0.1:${running.hostPort('http')}/readyz`)).status, 503);
  await setPodFaults(running, { ready: true });
  await waitFor('ready again', () => running.ready);
});
