import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { createPodRuntime, type RunningPod } from '../../../src/lab/runtime.js';
import { startClusterIngress, type ClusterIngress } from '../../../src/lab/workloads/ingress.js';
import { matchIngress } from '../../../src/lab/workloads/ingress-routes.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { echoContainer, pod, waitFor } from './workloads-helpers.js';

const runtime = createPodRuntime({ cluster: 'source', timeScale: 0.1 });
let ingress: ClusterIngress | undefined;
after(async () => {
  await ingress?.close();
  await runtime.stopAll();
});

const ingresses: KubeObject[] = [
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'shop', namespace: 'default' },
    spec: {
      rules: [
        { host: 'shop.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }, { path: '/api', pathType: 'Prefix', backend: { service: { name: 'api', port: { number: 80 } } } }] } },
        { host: 'empty.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'nothing', port: { number: 80 } } } }] } },
      ],
    },
  },
];

test('the cluster ingress routes by Host and path prefix to the ready endpoints of the Service', async () => {
  const services = new Map<string, RunningPod[]>();
  for (const service of ['web', 'api']) {
    const pods = await Promise.all([1, 2].map(() => runtime.start(pod({ containers: [echoContainer()] }, { labels: { app: service } }))));
    services.set(service, pods);
  }
  await waitFor('all pods ready', () => runtime.list().every((p) => p.ready));
  ingress = await startClusterIngress({
    cluster: 'source',
    // What the API server wires: Ingress rules, then the Service's Endpoints (ready pods).
    resolve(host, path) {
      const ref = matchIngress(ingresses, host, path);
      if (!ref) return undefined;
      return (services.get(ref.service) ?? []).filter((p) => p.ready).map((p) => ({ host: p.host, port: p.hostPort(8080) as number }));
    },
  });
  const get = async (host: string, path: string) => {
    // fetch() drops a Host header (a forbidden header name); undici's request sends it.
    const response = await request(`${ingress?.url}${path}`, { headers: { host } });
    const text = await response.body.text();
    return { status: response.statusCode, cluster: response.headers['x-ferry-cluster'], body: response.statusCode === 200 ? (JSON.parse(text) as Record<string, string>) : undefined };
  };
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const web = await get('shop.example.com', '/cart');
    assert.equal(web.status, 200);
    assert.equal(web.body?.service, 'web');
    assert.equal(web.body?.host, 'shop.example.com');
    assert.equal(web.cluster, 'source');
    seen.add(web.body?.pod as string);
    const api = await get('shop.example.com', '/api/orders');
    assert.equal(api.body?.service, 'api');
    assert.equal(api.body?.path, '/api/orders');
  }
  assert.equal(seen.size, 2, 'requests are balanced over both web pods');
  assert.equal((await get('other.example.com', '/')).status, 404);
  assert.equal((await get('empty.example.com', '/')).status, 503);
});
