/**
 * Lab API server: list latency for 10,000 objects over HTTPS, 1,000 server-side applies,
 * and watch fan-out (100 watchers receiving every change).
 */
import { request, Agent } from 'node:https';
import { startLabCluster } from '../src/lab/cluster.js';
import { report, section } from './report.js';

const cluster = await startLabCluster({ name: 'bench' });
const agent = new Agent({ keepAlive: true, ca: cluster.caPem, maxSockets: 200 });

function call(method: string, path: string, body?: string, contentType = 'application/json'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, cluster.url), { method, agent, headers: { Authorization: `Bearer ${cluster.token}`, 'Content-Type': contentType } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const configMap = (i: number) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, labels: { app: `a${i % 10}` } }, data: { key: `value-${i}`, other: 'x'.repeat(100) } });

try {
  section('list');
  const type = cluster.service.typeOf('v1', 'ConfigMap');
  for (let i = 0; i < 10_000; i++) cluster.service.create(type, 'v1', 'default', JSON.parse(configMap(i)), { fieldManager: 'bench' });
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const start = performance.now();
    const res = await call('GET', '/api/v1/namespaces/default/configmaps');
    times.push(performance.now() - start);
    if (res.status !== 200) throw new Error(`list failed: ${res.status}`);
  }
  times.sort((a, b) => a - b);
  report({ name: 'list 10,000 ConfigMaps over HTTPS (median of 7)', value: times[3]!, unit: 'ms', compare: { kind: 'target', label: '300 ms', value: 300, lowerIsBetter: true }, previous: { label: 'session 1, 2026-11', value: 210 } });
  const selStart = performance.now();
  await call('GET', '/api/v1/namespaces/default/configmaps?labelSelector=app%3Da3&limit=500');
  report({ name: 'list with label selector + limit=500', value: performance.now() - selStart, unit: 'ms' });

  section('server-side apply');
  const applyStart = performance.now();
  for (let i = 0; i < 1000; i++) {
    const body = JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: `d-${i}` }, spec: { replicas: 0, selector: { matchLabels: { app: `d-${i}` } }, template: { metadata: { labels: { app: `d-${i}` } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27', ports: [{ containerPort: 80 }], env: [{ name: 'A', value: '1' }] }] } } } });
    const res = await call('PATCH', `/apis/apps/v1/namespaces/default/deployments/d-${i}?fieldManager=bench&force=true`, body, 'application/apply-patch+yaml');
    if (res.status >= 300) throw new Error(`apply failed: ${res.status} ${res.text}`);
  }
  report({ name: '1,000 server-side applies of Deployments (sequential)', value: (performance.now() - applyStart) / 1000, unit: 's', compare: { kind: 'target', label: '10 s', value: 10, lowerIsBetter: true }, previous: { label: 'session 1, 2026-11', value: 7.87 } });
  await cluster.settled();

  section('watch fan-out');
  const watchers = 100;
  const changes = 200;
  let received = 0;
  const requests = [];
  const rv = JSON.parse((await call('GET', '/api/v1/namespaces/default/configmaps?limit=1')).text).metadata.resourceVersion as string;
  for (let w = 0; w < watchers; w++) {
    requests.push(new Promise<void>((resolve) => {
      const req = request(new URL(`/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}&fieldSelector=metadata.name%3Dhot`, cluster.url), { agent, headers: { Authorization: `Bearer ${cluster.token}` } }, (res) => {
        res.on('data', (chunk: Buffer) => {
          for (const byte of chunk) if (byte === 10) received++;
        });
        res.on('close', () => resolve());
        resolve();
      });
      req.end();
    }));
  }
  await Promise.all(requests);
  await new Promise((r) => setTimeout(r, 200));
  const watchStart = performance.now();
  await call('POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hot' }, data: { n: '0' } }));
  for (let i = 1; i < changes; i++) {
    await call('PATCH', '/api/v1/namespaces/default/configmaps/hot', JSON.stringify({ data: { n: String(i) } }), 'application/merge-patch+json');
  }
  const expected = watchers * changes;
  const deadline = Date.now() + 20_000;
  while (received < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const seconds = (performance.now() - watchStart) / 1000;
  report({ name: `watch fan-out: ${watchers} watchers × ${changes} changes, events delivered`, value: received, unit: 'events', compare: { kind: 'target', label: 'all', value: expected, lowerIsBetter: false } });
  report({ name: 'watch fan-out: events delivered per second', value: received / seconds, unit: 'events/s' });
} finally {
  agent.destroy();
  await cluster.stop();
}
