/**
 * The Online Boutique-shaped call graph (src/lab/workloads/topologies.ts) on a lab cluster
 * whose pods are processes: every workload becomes ready, the StatefulSet's pod has its
 * ordinal name, and the calls are wired as written (checkout's from its ConfigMap).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startLabCluster, type LabCluster } from '../../../src/lab/cluster.js';
import { ControllerClient } from '../../../src/lab/controllers/client.js';
import { serviceEndpoints } from '../../../src/lab/ingress-wiring.js';
import { callGraphEdges, callGraphManifests, callGraphServices } from '../../../src/lab/workloads/topologies.js';
import { waitFor } from './workloads-helpers.js';

let cluster: LabCluster | undefined;
after(async () => {
  await cluster?.stop();
});

test('the call-graph topology: eleven workloads ready, redis-cart-0 behind a headless Service, CALLS wired as written', async () => {
  cluster = await startLabCluster({ name: 'source', pods: 'processes', runtimeOptions: { timeScale: 0.2 } });
  const client = new ControllerClient(cluster.service);
  client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  const manifests = callGraphManifests({ namespace: 'shop' });
  for (const object of manifests) client.create(object);

  assert.ok(callGraphServices().length >= 11);
  assert.equal(callGraphEdges().filter((edge) => edge.caller === 'frontend').length, 7);
  const workloads = manifests.filter((object) => object.kind === 'Deployment' || object.kind === 'StatefulSet');
  assert.equal(workloads.length, 11);
  await waitFor('every workload ready', () => workloads.every((workload) => {
    const current = client.get('apps/v1', workload.kind, 'shop', workload.metadata.name);
    return (current?.status as { readyReplicas?: number } | undefined)?.readyReplicas === 1;
  }), 90_000, 250);
  assert.ok(client.get('v1', 'Pod', 'shop', 'redis-cart-0'), 'the StatefulSet pod has its ordinal name');
  assert.equal((client.get('v1', 'Service', 'shop', 'redis-cart')?.spec as { clusterIP?: string }).clusterIP, 'None');

  // Call checkoutservice at its pod: it calls the six URLs of its ConfigMap. Without lab
  // service networking those names do not resolve and it names the first as the failing hop.
  const [endpoint] = serviceEndpoints(client, 'shop', 'checkoutservice', 5050);
  assert.ok(endpoint);
  const response = await fetch(`http://${endpoint.host}:${endpoint.port}/`);
  const body = (await response.json()) as { service: string; calls?: Array<{ service: string }>; failedHop?: string };
  assert.equal(body.service, 'checkoutservice');
  if (response.status === 200) {
    assert.deepEqual(body.calls?.map((call) => call.service), ['paymentservice', 'emailservice', 'shippingservice', 'currencyservice', 'cartservice', 'productcatalogservice']);
  } else {
    assert.equal(response.status, 502);
    assert.match(body.failedHop ?? '', /^http:\/\/(paymentservice\.shop|emailservice\.shop\.svc\.cluster\.local|shippingservice|currencyservice\.shop\.svc|cartservice|productcatalogservice\.shop):\d+$/);
  }
});
