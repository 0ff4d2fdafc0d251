/**
 * `--observed router=ADMIN-URL` end to end: the real router process in front of two backends,
 * users' requests through its route (named after the slice), and `ferry graph` reading the
 * router's admin /metrics directly: users → the slice, with its rate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { ROUTER_AS_COMPONENT, startRouterProcess } from '../traffic/helpers.js';
import { driveLoad, startLabBackend } from '../analysis/helpers.js';
import { ferryAsync } from '../../helpers/cli.js';

const MANIFESTS = `apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec: {containers: [{name: app, image: example.com/frontend:v1}]}
---
apiVersion: v1
kind: Service
metadata: {name: frontend, namespace: shop}
spec: {type: LoadBalancer, selector: {app: frontend}, ports: [{port: 80}]}
`;

test('router: users → the slice its route carries, with the rate the router counted between two reads of its metrics', async () => {
  const [source, target] = await Promise.all([startLabBackend('source'), startLabBackend('target')]);
  const router = await startRouterProcess({
    backends: { source: { url: source.url }, target: { url: target.url } },
    routes: [{ name: 'frontend', source: 'source', target: 'target', weight: 0, stickiness: { mode: 'none' } }],
  }, undefined, ROUTER_AS_COMPONENT);
  try {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-observed-router-'));
    writeFileSync(join(dir, 'app.yaml'), MANIFESTS);
    let stop = false;
    const load = driveLoad(async () => {
      const response = await request(`${router.url}/frontend`);
      await response.body.dump();
      return response.statusCode;
    }, 50, 8000, () => stop);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const result = await ferryAsync(['graph', '--manifests', join(dir, 'app.yaml'), '--observed', `router=${router.adminUrl}`, '--observed-sample', '2s', '-o', 'json']);
    stop = true;
    const stats = await load;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(stats.failed, 0);
    const graph = JSON.parse(result.stdout) as { observed: { outside: Array<{ from: unknown; to: unknown; requests: number; requestsPerSecond: number; evidence: string; source: string }>; sources: string[] } };
    const [edge, ...others] = graph.observed.outside;
    assert.equal(others.length, 0);
    assert.deepEqual([edge!.from, edge!.to, edge!.source], [{ outside: 'users' }, { slice: 'frontend' }, `router=${router.adminUrl}`]);
    assert.ok(edge!.requests >= 50, `${edge!.requests} requests`);
    assert.ok(edge!.requestsPerSecond > 30 && edge!.requestsPerSecond < 70, `${edge!.requestsPerSecond}/s at 50/s`);
    assert.match(edge!.evidence, /^ferry_router_requests_total\{route="frontend",role=~"source\|target"\}$/);
  } finally {
    await router.stop();
    await Promise.all([source.kill(), target.kill()]);
  }
});
