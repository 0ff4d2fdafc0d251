/**
 * Internal ramps in the lab as multi-primary Istio does them: on the target, the callee's
 * Service selects its own pods and keeps the bridge's EndpointSlice to the source's east-west
 * gateway, so its endpoints are both clusters'; a VirtualService with subsets by
 * `topology.istio.io/cluster` (written by Ferry's istio traffic provider) splits a caller's
 * calls by weight — per request, over HTTP and over gRPC (HTTP/2 through CONNECT is terminated
 * and each call routed, as a sidecar does) — and telemetry says which cluster answered, with
 * gRPC's status, which the judge's Istio queries read through a real Prometheus.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { credentials, makeGenericClientConstructor, Metadata, status as GrpcStatus, type Client, type ServiceError } from '@grpc/grpc-js';
import { parseAllDocuments } from 'yaml';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { ResourcePaths } from '../../../src/apply/resources.js';
import { kubeBridgeObjects, type BridgeClusters } from '../../../src/bridge/cluster.js';
import { createServiceBridge } from '../../../src/bridge/factory.js';
import { plannedBridges } from '../../../src/bridge/plan.js';
import { resolveBridgeSpec } from '../../../src/bridge/resolve.js';
import type { ClusterSide } from '../../../src/bridge/bridge.js';
import { metricsForSlice } from '../../../src/analysis/index.js';
import { ControllerClient } from '../../../src/lab/controllers/client.js';
import { clearPodFaults, setPodFaults } from '../../../src/lab/workloads/faults.js';
import type { LabCluster } from '../../../src/lab/cluster.js';
import { CALLGRAPH_GRPC_DEFINITION, CALLGRAPH_GRPC_SERVICE, type CallGraphMessage } from '../../../src/lab/workloads/callgraph-grpc.js';
import { istioDestinationRules, istioVirtualService } from '../../../src/traffic/istio.js';
import type { IstioProviderConfig } from '../../../src/traffic/provider-config.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { startPrometheus } from '../analysis/helpers.js';
import { waitFor } from './workloads-helpers.js';

let lab: TestLab;
let labOf: Record<ClusterSide, LabCluster>;
let kube: Record<ClusterSide, ControllerClient>;
let clients: KubeClient[] = [];
let team: Record<ClusterSide, (object: KubeObject) => Promise<void>>;

const HOST = 'cart.shop.svc.cluster.local';
const ISTIO: IstioProviderConfig = {
  type: 'istio', namespace: 'shop', name: 'cart', hosts: [HOST],
  source: { host: HOST, subset: 'ferry-source', labels: { 'topology.istio.io/cluster': 'source' } },
  target: { host: HOST, subset: 'ferry-target', labels: { 'topology.istio.io/cluster': 'target' } },
};

function callgraph(name: string, version: string, env: Record<string, string> = {}): KubeObject {
  const labels = { app: name, version };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'shop' },
    spec: {
      replicas: 1, selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels },
        spec: { containers: [{
          name: 'main', image: `ferry.dev/callgraph:${version}`, ports: [{ name: 'http', containerPort: 8080 }],
          env: Object.entries({ SERVICE_NAME: name, ...env }).map(([key, value]) => ({ name: key, value })),
          readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 1 },
        }] },
      },
    },
  };
}

const cartService: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'cart', namespace: 'shop' }, spec: { selector: { app: 'cart' }, ports: [{ name: 'http', port: 7070, targetPort: 'http', protocol: 'TCP' }] } };

function readyCount(side: ClusterSide, name: string): number {
  const endpoints = kube[side].get('v1', 'Endpoints', 'shop', name) as (KubeObject & { subsets?: Array<{ addresses?: unknown[] }> }) | undefined;
  return (endpoints?.subsets ?? []).reduce((sum, subset) => sum + (subset.addresses?.length ?? 0), 0);
}

/** Creates or replaces an object through the lab's own API (CRDs and Istio objects). */
function put(side: ClusterSide, object: KubeObject): void {
  const existing = kube[side].get(object.apiVersion, object.kind, object.metadata.namespace, object.metadata.name);
  if (existing) kube[side].update({ ...object, metadata: { ...object.metadata, resourceVersion: existing.metadata.resourceVersion } });
  else kube[side].create(object);
}

function setWeight(targetPercent: number): void {
  put('target', istioVirtualService(ISTIO, targetPercent, { enabled: false, percent: 0 }));
}

function callerPod(): { name: string; port: number } {
  const pod = kube.target.list('v1', 'Pod', 'shop').find((p) => p.metadata.labels?.app === 'frontend')!;
  return { name: pod.metadata.name, port: labOf.target.runtime!.get('shop', pod.metadata.name)!.hostPort(8080)! };
}

function get(options: { host: string; port: number; path: string; headers?: Record<string, string> }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ ...options, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${options.path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** `count` requests to the caller pod, each making one call to `http://cart:7070/` through its proxy variables; the clusters that answered. */
async function callsFromFrontend(count: number): Promise<Record<string, number>> {
  const { port } = callerPod();
  const seen: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const answer = await get({ host: '127.0.0.1', port, path: '/' });
    assert.equal(answer.status, 200, answer.body);
    const cluster = (JSON.parse(answer.body) as { calls: Array<{ cluster: string }> }).calls[0]!.cluster;
    seen[cluster] = (seen[cluster] ?? 0) + 1;
  }
  return seen;
}

/** Absolute-form through the target's service proxy as the frontend pod, with the given path and headers. */
async function viaProxy(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const proxy = new URL(labOf.target.network!.proxyUrl);
  const identity = Buffer.from(`shop/${callerPod().name}:lab`).toString('base64');
  return get({ host: proxy.hostname, port: Number(proxy.port), path: `http://cart:7070${path}`, headers: { host: 'cart:7070', 'proxy-authorization': `Basic ${identity}`, ...headers } });
}

const GrpcClient = makeGenericClientConstructor(CALLGRAPH_GRPC_DEFINITION, CALLGRAPH_GRPC_SERVICE);

/**
 * gRPC calls to `cart.shop:7070` as the frontend pod would make them: grpc-js reading
 * grpc_proxy (the pod's variable) and tunnelling by CONNECT. `connections` channels, each its
 * own connection (a local subchannel pool), each making `callsEach` calls; each call's answer
 * is the cluster that served it, or `error <gRPC status>`.
 */
async function grpcCalls(connections: number, callsEach: number, target = 'cart.shop:7070'): Promise<string[][]> {
  const proxy = new URL(labOf.target.network!.proxyUrl);
  const saved = { grpc_proxy: process.env.grpc_proxy, no_grpc_proxy: process.env.no_grpc_proxy };
  process.env.grpc_proxy = `http://shop%2F${callerPod().name}:lab@${proxy.host}`;
  // A ClusterIP is dialled directly, as the pod's NO_PROXY (127.0.0.0/8) makes it.
  process.env.no_grpc_proxy = target.startsWith('127.') ? target.split(':')[0]! : 'localhost';
  const result: string[][] = [];
  try {
    for (let c = 0; c < connections; c++) {
      const client = new GrpcClient(target, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as Client & { Call: (request: CallGraphMessage, metadata: Metadata, options: { deadline: number }, callback: (error: ServiceError | null, answer?: CallGraphMessage) => void) => void };
      const clusters: string[] = [];
      try {
        for (let i = 0; i < callsEach; i++) {
          clusters.push(await new Promise<string>((resolve) => client.Call({}, new Metadata(), { deadline: Date.now() + 10_000 }, (error, reply) => resolve(error ? `error ${error.code}` : String(reply!.cluster)))));
        }
      } finally {
        client.close();
      }
      result.push(clusters);
    }
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
  return result;
}

function tally(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

/** istio_requests_total on the target, reporter=source, frontend → cart, summed by destination_cluster (or by `key` of the labels). */
async function answeredByCluster(want: Record<string, string> = { response_code: '200' }, key: (labels: Record<string, string>) => string = (labels) => labels.destination_cluster!): Promise<Record<string, number>> {
  const text = await (await fetch(labOf.target.network!.metricsUrl)).text();
  const sums: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('istio_requests_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1]!, match[2]!]));
    const wanted = { reporter: 'source', source_workload: 'frontend', destination_service_name: 'cart', ...want };
    if (!Object.entries(wanted).every(([name, value]) => labels[name] === value)) continue;
    const group = key(labels);
    sums[group] = (sums[group] ?? 0) + Number(line.split(' ').pop());
  }
  return sums;
}

const SCRAPE_MS = 500;

/** A window on the scrape grid bracketing `work`, idle before and after, so counter differences are exact. */
async function measured(work: () => Promise<void>): Promise<{ from: number; to: number }> {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  const from = Math.ceil((Date.now() + SCRAPE_MS) / SCRAPE_MS) * SCRAPE_MS;
  await sleep(from - Date.now() + 50);
  await work();
  const to = Math.ceil(Date.now() / SCRAPE_MS) * SCRAPE_MS + 2 * SCRAPE_MS;
  await sleep(to - Date.now() + 3 * SCRAPE_MS);
  return { from, to };
}

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const result: Record<string, number> = {};
  for (const key of new Set([...Object.keys(after), ...Object.keys(before)])) {
    const value = (after[key] ?? 0) - (before[key] ?? 0);
    if (value !== 0) result[key] = value;
  }
  return result;
}

before(async () => {
  lab = await startTestLab(['source', 'target'], 'processes');
  labOf = { source: lab.clusters[0]!, target: lab.clusters[1]! };
  kube = { source: new ControllerClient(labOf.source.service), target: new ControllerClient(labOf.target.service) };
  const kubeClients = {
    source: new KubeClient(loadKubeConfig({ kubeconfig: lab.kubeconfigFile, context: 'source' })),
    target: new KubeClient(loadKubeConfig({ kubeconfig: lab.kubeconfigFile, context: 'target' })),
  };
  clients = [kubeClients.source, kubeClients.target];
  const teamOf = (client: KubeClient) => {
    const paths = new ResourcePaths(client);
    return async (object: KubeObject) => {
      await paths.refresh();
      await client.request({ method: 'PATCH', path: paths.pathOf(object), query: { fieldManager: 'team-shop-ci', force: true }, body: JSON.stringify(object), contentType: 'application/apply-patch+yaml' });
    };
  };
  team = { source: teamOf(kubeClients.source), target: teamOf(kubeClients.target) };
  // Istio's own CRDs, as on a cluster with Istio installed.
  const crds = parseAllDocuments(readFileSync('/work/shared/crds/istio.yaml', 'utf8')).map((document) => document.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object?.kind === 'CustomResourceDefinition' && ['VirtualService', 'DestinationRule'].includes((object.spec as { names: { kind: string } }).names.kind));
  for (const side of ['source', 'target'] as const) {
    for (const crd of crds) put(side, crd);
    await team[side]({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  }
  // The callee serves on the source; the target's callers reach it through a bridge first.
  await team.source(callgraph('cart', 'v1'));
  await team.source(cartService);
  await waitFor('source cart ready', () => readyCount('source', 'cart') === 1, 60_000, 100);
  const bridgeClusters: BridgeClusters = { source: kubeBridgeObjects(kubeClients.source), target: kubeBridgeObjects(kubeClients.target) };
  const planned = plannedBridges([{ name: 'wave-1', crossClusterCalls: [{ from: 'frontend', to: 'cart', direction: 'target→source', via: ['Deployment/shop/frontend → Service/shop/cart'] }] }])[0]!.bridges[0]!;
  await createServiceBridge('endpoints', bridgeClusters).ensure(await resolveBridgeSpec(planned, bridgeClusters));
  // The callee arrives on the target: its real Service (with selector) over the bridge's, the bridge's slice kept.
  await team.target(callgraph('cart', 'v2'));
  await team.target(cartService);
  await team.target(callgraph('frontend', 'v1', { CALLS: 'http://cart:7070/' }));
  await team.target({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'frontend', namespace: 'shop' }, spec: { selector: { app: 'frontend' }, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] } });
  await waitFor('target cart and frontend ready', () => readyCount('target', 'cart') === 1 && readyCount('target', 'frontend') === 1, 60_000, 100);
  await labOf.target.network!.settled();
});

after(async () => {
  for (const client of clients) client.close();
  await lab?.stop();
});

test('without a VirtualService the target\'s Service answers from both clusters: its pods and the bridge slice to the source\'s gateway', async () => {
  const slice = kube.target.get('discovery.k8s.io/v1', 'EndpointSlice', 'shop', 'cart-ferry-bridge');
  assert.ok(slice, 'the bridge\'s slice survives the Service getting its selector');
  const seen = await callsFromFrontend(20);
  assert.deepEqual(seen, { source: 10, target: 10 }, 'round-robin over the local pod and the gateway');
});

test('a VirtualService with subsets by topology.istio.io/cluster splits HTTP calls per request at 0, 30 and 100 percent; telemetry says where answers came from', async () => {
  for (const rule of istioDestinationRules(ISTIO)) put('target', rule);
  for (const [weight, count] of [[0, 40], [30, 100], [100, 40]] as const) {
    setWeight(weight);
    const before = await answeredByCluster();
    const seen = await callsFromFrontend(count);
    const target = seen.target ?? 0;
    const expected = (count * weight) / 100;
    assert.ok(Math.abs(target - expected) <= Math.max(2, count * 0.1), `at ${weight}%: ${JSON.stringify(seen)}`);
    assert.equal((seen.source ?? 0) + target, count);
    assert.deepEqual(delta(await answeredByCluster(), before), seen, `at ${weight}%: destination_cluster counts the answers`);
  }
  const text = await (await fetch(labOf.target.network!.metricsUrl)).text();
  assert.match(text, /istio_requests_total\{[^}]*destination_cluster="target"[^}]*destination_version="v2"/, 'the target pod\'s version label');
  assert.match(text, /istio_requests_total\{[^}]*destination_cluster="source"[^}]*destination_version="v1"/, 'the source pod\'s version, told by its cluster\'s gateway');
});

test('gRPC calls over one CONNECT tunnel are split per request at 0, 30 and 100 percent; telemetry counts each call with its gRPC status', async () => {
  for (const [weight, count] of [[30, 100], [100, 20], [0, 20]] as const) {
    setWeight(weight);
    const before = await answeredByCluster({ request_protocol: 'grpc', response_code: '200', grpc_response_status: '0' });
    const [calls] = await grpcCalls(1, count);
    const seen = tally(calls!);
    const target = seen.target ?? 0;
    assert.equal((seen.source ?? 0) + target, count, `every call answered: ${JSON.stringify(seen)}`);
    assert.ok(Math.abs(target - (count * weight) / 100) <= Math.max(1, count * 0.05), `at ${weight}% over one connection: ${JSON.stringify(seen)}`);
    assert.deepEqual(delta(await answeredByCluster({ request_protocol: 'grpc', response_code: '200', grpc_response_status: '0' }), before), seen, `at ${weight}%: each gRPC call counted where it was answered`);
  }
});

test('a target answering gRPC UNAVAILABLE: the failed calls are counted with grpc_response_status 14, and the judge\'s Istio queries read them through a real Prometheus', async () => {
  const pod = kube.target.list('v1', 'Pod', 'shop').find((p) => p.metadata.labels?.app === 'cart')!;
  const running = labOf.target.runtime!.get('shop', pod.metadata.name)!;
  const prometheus = await startPrometheus([{ job: 'lab-network-target', targets: [new URL(labOf.target.network!.metricsUrl).host], metricsPath: new URL(labOf.target.network!.metricsUrl).pathname }], SCRAPE_MS);
  await setPodFaults(running, { errorRate: 1 });
  try {
    setWeight(30);
    await waitFor('the first scrape', async () => (await fetch(`${prometheus.url}/api/v1/query?query=up`).then((r) => r.json()) as { data: { result: unknown[] } }).data.result.length > 0, 20_000, 200);
    const before = await answeredByCluster({ request_protocol: 'grpc' }, (labels) => `${labels.destination_cluster} ${labels.response_code} ${labels.grpc_response_status}`);
    let calls: string[] = [];
    const window = await measured(async () => {
      calls = (await grpcCalls(1, 100))[0]!;
    });
    const seen = tally(calls);
    const failed = seen[`error ${GrpcStatus.UNAVAILABLE}`] ?? 0;
    assert.ok(Math.abs(failed - 30) <= 5, `the target's 30 % answer UNAVAILABLE: ${JSON.stringify(seen)}`);
    assert.equal((seen.source ?? 0) + failed, 100, JSON.stringify(seen));
    const counted = delta(await answeredByCluster({ request_protocol: 'grpc' }, (labels) => `${labels.destination_cluster} ${labels.response_code} ${labels.grpc_response_status}`), before);
    assert.deepEqual(counted, { 'source 200 0': seen.source, 'target 200 14': failed }, 'response_code 200, the status in grpc_response_status');

    const { provider, source, target } = metricsForSlice({ metrics: { provider: 'prometheus', url: prometheus.url, scrapeInterval: `${SCRAPE_MS}ms` }, traffic: ISTIO, clusters: {}, sliceName: 'cart' });
    const sum = async (backend: string) => (await provider.buckets(backend, window.from, window.to, SCRAPE_MS)).reduce((acc, bucket) => ({ requests: acc.requests + bucket.requests, errors: acc.errors + bucket.errors }), { requests: 0, errors: 0 });
    assert.deepEqual(await sum(target), { requests: failed, errors: failed }, 'every gRPC call the target answered is an error to the judge');
    assert.deepEqual(await sum(source), { requests: seen.source, errors: 0 });
  } finally {
    await clearPodFaults(running);
    await prometheus.stop();
  }
});

test('ClusterIP connections are routed by the VirtualService too: per connection, per call for gRPC', async (t) => {
  if (!labOf.target.network!.clusterIpRange) return t.skip('no loopback ClusterIPs on this host');
  const clusterIP = (kube.target.get('v1', 'Service', 'shop', 'cart')!.spec as { clusterIP: string }).clusterIP;
  for (const [weight, side] of [[100, 'target'], [0, 'source']] as const) {
    setWeight(weight);
    for (let i = 0; i < 4; i++) {
      const answer = await get({ host: clusterIP, port: 7070, path: '/' });
      assert.equal(answer.status, 200, answer.body);
      assert.equal((JSON.parse(answer.body) as { cluster: string }).cluster, side, `at ${weight}%`);
    }
  }
  // gRPC to the ClusterIP: the connection is HTTP/2, so each call is routed on its own.
  setWeight(50);
  const [calls] = await grpcCalls(1, 20, `${clusterIP}:7070`);
  const seen = tally(calls!);
  assert.ok((seen.target ?? 0) >= 8 && (seen.source ?? 0) >= 8 && (seen.target ?? 0) + (seen.source ?? 0) === 20, `50 % of one connection's calls on each side: ${JSON.stringify(seen)}`);
});

test('route matches by uri prefix and header pick their route first; a subset with no endpoint answers 503 naming the VirtualService, subset and Service', async () => {
  const virtualService = istioVirtualService(ISTIO, 100, { enabled: false, percent: 0 });
  const spec = virtualService.spec as { http: Array<Record<string, unknown>> };
  spec.http = [
    { name: 'pinned', match: [{ uri: { prefix: '/pin' } }, { headers: { 'x-side': { exact: 'source' } } }], route: [{ destination: { host: 'cart', subset: 'ferry-source' } }] },
    { name: 'nowhere', match: [{ uri: { exact: '/nowhere' } }], route: [{ destination: { host: HOST, subset: 'ferry-nowhere' } }] },
    ...spec.http,
  ];
  put('target', virtualService);
  put('target', { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'cart-nowhere', namespace: 'shop' }, spec: { host: HOST, subsets: [{ name: 'ferry-nowhere', labels: { 'topology.istio.io/cluster': 'target', version: 'v9' } }] } });
  for (const [path, headers, side] of [['/pin/a', {}, 'source'], ['/', { 'x-side': 'source' }, 'source'], ['/', { 'x-side': 'target' }, 'target'], ['/other', {}, 'target']] as const) {
    const answer = await viaProxy(path, headers);
    assert.equal(answer.status, 200, answer.body);
    assert.equal((JSON.parse(answer.body) as { cluster: string }).cluster, side, `${path} ${JSON.stringify(headers)}`);
  }
  const nowhere = await viaProxy('/nowhere');
  assert.equal(nowhere.status, 503, nowhere.body);
  assert.match(nowhere.body, /VirtualService shop\/cart routes to subset ferry-nowhere \(DestinationRule shop\/cart-nowhere, labels topology.istio.io\/cluster=target,version=v9\) of Service shop\/cart in cluster target: none of its 2 ready endpoints/);
  spec.http[1]!.route = [{ destination: { host: HOST, subset: 'ferry-missing' } }];
  put('target', virtualService);
  const missing = await viaProxy('/nowhere');
  assert.equal(missing.status, 503, missing.body);
  assert.match(missing.body, /VirtualService shop\/cart routes to subset ferry-missing of cart.shop.svc.cluster.local, which no DestinationRule for that host in namespace shop defines/);
  const unmatched = istioVirtualService(ISTIO, 100, { enabled: false, percent: 0 });
  (unmatched.spec as { http: Array<Record<string, unknown>> }).http[0]!.match = [{ uri: { exact: '/only' } }];
  put('target', unmatched);
  const notFound = await viaProxy('/');
  assert.equal(notFound.status, 404, 'no route for the request: Envoy\'s 404');
  assert.match(notFound.body, /VirtualService shop\/cart has no http route matching GET \/ to cart.shop.svc.cluster.local/);
});

test('the VirtualService deleted, calls go round-robin to both clusters again', async () => {
  kube.target.delete({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'cart', namespace: 'shop' } });
  const seen = await callsFromFrontend(10);
  assert.deepEqual(seen, { source: 5, target: 5 });
});
