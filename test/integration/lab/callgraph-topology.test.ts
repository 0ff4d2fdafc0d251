/**
 * The Online Boutique-shaped call graph (src/lab/workloads/topologies.ts) on a lab cluster
 * whose pods are processes: every workload becomes ready, and a user at frontend-external's
 * load-balancer address gets the whole tree of answers — every hop called by the DNS form
 * its CALLS spell (short, svc.ns, svc.ns.svc, FQDN, the StatefulSet pod's name) through the
 * lab's service networking, over HTTP and over gRPC; a failing hop deep in the tree is named.
 */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startLabCluster, type LabCluster } from '../../../src/lab/cluster.js';
import { ControllerClient } from '../../../src/lab/controllers/client.js';
import { serviceEndpoints } from '../../../src/lab/ingress-wiring.js';
import { setAppFaults } from '../../../src/lab/workloads/faults.js';
import { callGraphEdges, callGraphManifests, callGraphServices } from '../../../src/lab/workloads/topologies.js';
import { waitFor } from './workloads-helpers.js';

let cluster: LabCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

interface Answer {
  service: string;
  protocol: string;
  calls?: Answer[];
  failedHop?: string;
  chain?: string[];
}

async function deploy(protocol: 'http' | 'grpc'): Promise<{ client: ControllerClient; frontend: string }> {
  cluster = await startLabCluster({ name: 'source', pods: 'processes', runtimeOptions: { timeScale: 0.2 } });
  const client = new ControllerClient(cluster.service);
  client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  const manifests = callGraphManifests({ namespace: 'shop', protocol });
  for (const object of manifests) client.create(object);
  const workloads = manifests.filter((object) => object.kind === 'Deployment' || object.kind === 'StatefulSet');
  assert.equal(workloads.length, 11);
  await waitFor('every workload ready', () => workloads.every((workload) => {
    const current = client.get('apps/v1', workload.kind, 'shop', workload.metadata.name);
    return (current?.status as { readyReplicas?: number } | undefined)?.readyReplicas === 1;
  }), 90_000, 250);
  const ip = await waitFor('frontend-external\'s address', () => (client.get('v1', 'Service', 'shop', 'frontend-external')?.status as any)?.loadBalancer?.ingress?.[0]?.ip as string | undefined);
  return { client, frontend: `http://${ip}:80/` };
}

/** Every caller → callee pair in an answer tree. */
function edges(answer: Answer, into: Set<string> = new Set()): Set<string> {
  for (const call of answer.calls ?? []) {
    into.add(`${answer.service}->${call.service}`);
    edges(call, into);
  }
  return into;
}

test('over HTTP: eleven workloads ready, redis-cart-0 behind a headless Service, and the whole call tree answered through frontend-external', async () => {
  const { client, frontend } = await deploy('http');
  assert.ok(client.get('v1', 'Pod', 'shop', 'redis-cart-0'), 'the StatefulSet pod has its ordinal name');
  assert.equal((client.get('v1', 'Service', 'shop', 'redis-cart')?.spec as { clusterIP?: string }).clusterIP, 'None');
  assert.equal(callGraphServices().length, 11);

  const response = await fetch(frontend);
  const tree = (await response.json()) as Answer;
  assert.equal(response.status, 200, JSON.stringify(tree));
  assert.equal(tree.service, 'frontend');
  assert.deepEqual(tree.calls?.map((call) => call.service), ['productcatalogservice', 'currencyservice', 'cartservice', 'recommendationservice', 'shippingservice', 'checkoutservice', 'adservice']);
  const checkout = tree.calls?.find((call) => call.service === 'checkoutservice');
  assert.deepEqual(checkout?.calls?.map((call) => call.service), ['paymentservice', 'emailservice', 'shippingservice', 'currencyservice', 'cartservice', 'productcatalogservice'], 'checkout called the URLs of its ConfigMap');
  const expected = new Set(callGraphEdges().map((edge) => `${edge.caller}->${edge.callee}`));
  assert.deepEqual([...edges(tree)].sort(), [...expected].sort(), 'every edge of the graph was called, and no other');
});

test('over gRPC: the same tree, and a failing payment hop is named at the edge', async () => {
  const { client, frontend } = await deploy('grpc');
  const response = await fetch(frontend);
  const tree = (await response.json()) as Answer;
  assert.equal(response.status, 200, JSON.stringify(tree));
  const checkout = tree.calls?.find((call) => call.service === 'checkoutservice');
  assert.equal(checkout?.protocol, 'grpc');
  assert.equal(checkout?.calls?.length, 6);
  assert.equal(edges(tree).size, callGraphEdges().length);

  for (const endpoint of serviceEndpoints(client, 'shop', 'paymentservice', 50051)) await setAppFaults(endpoint, { errorRate: 1 });
  const failed = await fetch(frontend);
  const body = (await failed.json()) as Answer;
  assert.equal(failed.status, 502);
  assert.equal(body.failedHop, 'grpc://paymentservice.shop:50051');
  assert.deepEqual(body.chain, ['grpc://checkoutservice.shop.svc.cluster.local:5050', 'grpc://paymentservice.shop:50051']);
});
