/**
 * Bridges carry real calls: two lab clusters with pods as processes and the lab's service
 * networking (src/lab/network/). A call on one cluster to a Service that serves only on the
 * other — through that cluster's service proxy by name, and at the bridge Service's ClusterIP —
 * is answered by the other cluster's pods through its east-west gateway, found the way a run
 * finds it (the published `ferry-system/east-west-gateway`). Both directions, a headless
 * StatefulSet by pod DNS, and nothing left answering once the bridge is removed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { ResourcePaths } from '../../../src/apply/resources.js';
import { kubeBridgeObjects, type BridgeClusters } from '../../../src/bridge/cluster.js';
import { createServiceBridge } from '../../../src/bridge/factory.js';
import { plannedBridges, type PlannedBridge } from '../../../src/bridge/plan.js';
import { resolveBridgeSpec } from '../../../src/bridge/resolve.js';
import type { ClusterSide } from '../../../src/bridge/bridge.js';
import type { LabCluster } from '../../../src/lab/cluster.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';

let lab: TestLab;
let clients: Record<ClusterSide, KubeClient>;
let clusters: BridgeClusters;
let labOf: Record<ClusterSide, LabCluster>;
let team: Record<ClusterSide, (object: KubeObject) => Promise<void>>;

before(async () => {
  lab = await startTestLab(['source', 'target'], 'processes');
  labOf = { source: lab.clusters[0]!, target: lab.clusters[1]! };
  clients = {
    source: new KubeClient(loadKubeConfig({ kubeconfig: lab.kubeconfigFile, context: 'source' })),
    target: new KubeClient(loadKubeConfig({ kubeconfig: lab.kubeconfigFile, context: 'target' })),
  };
  clusters = { source: kubeBridgeObjects(clients.source), target: kubeBridgeObjects(clients.target) };
  const teamOf = (client: KubeClient) => {
    const paths = new ResourcePaths(client);
    return async (object: KubeObject) => {
      await paths.refresh();
      await client.request({ method: 'PATCH', path: paths.pathOf(object), query: { fieldManager: 'team-shop-ci', force: true }, body: JSON.stringify(object), contentType: 'application/apply-patch+yaml' });
    };
  };
  team = { source: teamOf(clients.source), target: teamOf(clients.target) };
  for (const side of ['source', 'target'] as const) await team[side]({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  await deploy('source', 'cartservice', 1);
  await team.source({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'db', namespace: 'shop' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }] } });
  await team.source({
    apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'shop' },
    spec: { replicas: 2, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [echo('db')] } } },
  });
  await readyEndpoints('source', 'cartservice', 1);
  await readyEndpoints('source', 'db', 2);
});

after(async () => {
  clients?.source.close();
  clients?.target.close();
  await lab?.stop();
});

function echo(tag: string): Record<string, unknown> {
  return { name: 'main', image: `ferry.dev/echo:${tag}`, ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 1 } };
}

async function deploy(side: ClusterSide, name: string, replicas: number): Promise<void> {
  await scale(side, name, replicas);
  await team[side]({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop' }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 7070, targetPort: 'http', protocol: 'TCP' }] } });
}

async function scale(side: ClusterSide, name: string, replicas: number): Promise<void> {
  const labels = { app: name };
  await team[side]({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'shop' }, spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [echo(side)] } } } });
}

async function readyEndpoints(side: ClusterSide, name: string, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const endpoints = await clusters[side].get({ apiVersion: 'v1', kind: 'Endpoints', namespace: 'shop', name });
    const ready = ((endpoints?.subsets ?? []) as Array<{ addresses?: unknown[] }>).reduce((sum, subset) => sum + (subset.addresses?.length ?? 0), 0);
    if (ready === count) return;
    assert.ok(Date.now() < deadline, `${side} ${name}: ${ready} ready endpoints, waiting for ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function planned(direction: 'target→source' | 'source→target', service: string): PlannedBridge {
  return plannedBridges([{ name: 'wave-1', crossClusterCalls: [{ from: 'frontend', to: service, direction, via: [`Deployment/shop/frontend → Service/shop/${service}`] }] }])[0]!.bridges[0]!;
}

/** A pod-less call: absolute-form HTTP through a cluster's service proxy (or straight to an address), bounded in time. */
function call(url: string, proxy?: string): Promise<{ status: number; json: any; body: string }> {
  const via = proxy ? new URL(proxy) : new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: via.hostname, port: via.port, path: proxy ? url : new URL(url).pathname, headers: { host: new URL(url).host }, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

test('target→source: the target\'s callers reach the source\'s cartservice through the bridge, by name and at its ClusterIP; nothing once it is removed', async () => {
  const proxy = labOf.target.network!.proxyUrl;
  const url = 'http://cartservice.shop.svc.cluster.local:7070/';
  assert.equal((await call(url, proxy)).status, 502, 'before the bridge the name means nothing on the target');

  const spec = await resolveBridgeSpec(planned('target→source', 'cartservice'), clusters);
  assert.deepEqual(spec.gateway, labOf.source.network!.eastWest, 'the gateway the source publishes');
  const bridge = createServiceBridge('endpoints', clusters);
  const record = await bridge.ensure(spec);
  await labOf.target.network!.settled();
  for (let index = 0; index < 5; index++) {
    const answer = await call(url, proxy);
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.json.cluster, 'source');
    assert.equal(answer.json.namespace, 'shop');
  }
  const clusterIP = ((await clusters.target.get({ apiVersion: 'v1', kind: 'Service', namespace: 'shop', name: 'cartservice' }))!.spec as { clusterIP: string }).clusterIP;
  if (labOf.target.network!.clusterIpRange) {
    const direct = await call(`http://${clusterIP}:7070/`);
    assert.equal(direct.status, 200, direct.body);
    assert.equal(direct.json.cluster, 'source', 'kube-proxy style: the ClusterIP forwards to the gateway endpoint');
  }

  await bridge.remove(record);
  await labOf.target.network!.settled();
  assert.equal((await call(url, proxy)).status, 502, 'removed: the name means nothing again');
});

test('source→target: once the callee moved and its source pods are retired, the source\'s callers reach the target through the taken-over Service; the selector back, the source answers again', async () => {
  await deploy('target', 'cartservice', 1);
  await readyEndpoints('target', 'cartservice', 1);
  const bridge = createServiceBridge('endpoints', clusters);
  const record = await bridge.ensure(await resolveBridgeSpec(planned('source→target', 'cartservice'), clusters));
  await scale('source', 'cartservice', 0); // decommission: the source's pods retired
  const proxy = labOf.source.network!.proxyUrl;
  const url = 'http://cartservice.shop.svc.cluster.local:7070/';
  for (let index = 0; index < 5; index++) {
    const answer = await call(url, proxy);
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.json.cluster, 'target');
  }

  // Rollback: the source's pods back, the bridge removed, its selector restored.
  await scale('source', 'cartservice', 1);
  await bridge.remove(record);
  await readyEndpoints('source', 'cartservice', 1);
  const answer = await call(url, proxy);
  assert.equal(answer.status, 200, answer.body);
  assert.equal(answer.json.cluster, 'source');
});

test('a headless StatefulSet bridged to the target answers by Service name and by each pod\'s DNS name', async () => {
  const spec = await resolveBridgeSpec(planned('target→source', 'db'), clusters);
  assert.deepEqual(spec.headless, { hostnames: ['db-0', 'db-1'] });
  const bridge = createServiceBridge('endpoints', clusters);
  const record = await bridge.ensure(spec);
  await labOf.target.network!.settled();
  const proxy = labOf.target.network!.proxyUrl;
  for (const pod of ['db-0', 'db-1']) {
    const answer = await call(`http://${pod}.db.shop.svc.cluster.local:8080/`, proxy);
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.json.cluster, 'source');
    assert.equal(answer.json.pod, pod, 'that exact pod');
  }
  const byService = await call('http://db.shop.svc.cluster.local:8080/', proxy);
  assert.equal(byService.status, 200, byService.body);
  await bridge.remove(record);
});
