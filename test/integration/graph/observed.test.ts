/**
 * Dependencies only traffic shows, on the lab (pods as processes): a call-graph application
 * whose calls are configured only through files mounted from ConfigMaps (`CALLS_FILE` in a
 * configMap volume). Static analysis finds none of those calls; after users drive requests
 * at the frontend's load-balancer address, `--observed lab` (the lab network's Istio-shaped
 * telemetry read directly) and `--observed prometheus=…` (a real Prometheus scraping it)
 * find every one with its rate, `--diff` names them — and names the one static address
 * traffic never used — and `ferry plan --observed` orders waves by them.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { ControllerClient } from '../../../src/lab/controllers/client.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { ferryAsync } from '../../helpers/cli.js';
import { driveLoad, startPrometheus, type PrometheusProcess } from '../analysis/helpers.js';
import { waitFor } from '../lab/workloads-helpers.js';
import { queryVector } from '../../../src/analysis/prometheus.js';

const NS = 'hidden';
/** Who calls whom, written only in the mounted files. */
const HIDDEN = [['frontend', 'catalog'], ['frontend', 'cart'], ['cart', 'store']] as const;

let lab: TestLab;
let client: ControllerClient;
let frontendUrl: string;
let prometheus: PrometheusProcess | undefined;

function app(name: string, port: number, options: { callsFile?: string; env?: Array<{ name: string; value: string }>; loadBalancer?: boolean } = {}): KubeObject[] {
  const objects: KubeObject[] = [];
  const container: Record<string, unknown> = {
    name: 'server',
    image: 'ferry.dev/callgraph:v1',
    ports: [{ name: 'http', containerPort: port }],
    env: [{ name: 'SERVICE_NAME', value: name }, ...(options.callsFile ? [{ name: 'CALLS_FILE', value: '/etc/callgraph/calls' }] : []), ...(options.env ?? [])],
    readinessProbe: { httpGet: { path: '/readyz', port }, periodSeconds: 1 },
  };
  const spec: Record<string, unknown> = { containers: [container] };
  if (options.callsFile) {
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${name}-calls`, namespace: NS }, data: { calls: options.callsFile } });
    container.volumeMounts = [{ name: 'calls', mountPath: '/etc/callgraph', readOnly: true }];
    spec.volumes = [{ name: 'calls', configMap: { name: `${name}-calls` } }];
  }
  objects.push({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: NS }, spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec } } });
  objects.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { type: options.loadBalancer ? 'LoadBalancer' : 'ClusterIP', selector: { app: name }, ports: [{ name: 'http', port: options.loadBalancer ? 80 : port, targetPort: port }] } });
  return objects;
}

before(async () => {
  lab = await startTestLab(['source'], 'processes');
  client = new ControllerClient(lab.clusters[0]!.service);
  client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  const objects = [
    // The address in the manifests (LEGACY_URL) is one the app never calls: dead configuration.
    ...app('frontend', 8080, { callsFile: '# the shop\nhttp://catalog:8081\nhttp://cart.hidden:7070\n', env: [{ name: 'LEGACY_URL', value: 'http://legacy:9000' }], loadBalancer: true }),
    ...app('catalog', 8081),
    // gRPC: the lab proxy terminates the CONNECT tunnel's HTTP/2 and counts each call (request_protocol grpc).
    ...app('cart', 7070, { callsFile: 'grpc://store.hidden.svc.cluster.local:6000\n' }),
    ...app('store', 6000),
    ...app('legacy', 9000),
  ];
  for (const object of objects) client.create(object);
  await waitFor('every Deployment ready', () => ['frontend', 'catalog', 'cart', 'store', 'legacy'].every((name) => (client.get('apps/v1', 'Deployment', NS, name)?.status as { readyReplicas?: number } | undefined)?.readyReplicas === 1), 90_000, 250);
  const ip = await waitFor('the frontend\'s load-balancer address', () => ((client.get('v1', 'Service', NS, 'frontend')?.status as any)?.loadBalancer?.ingress?.[0]?.ip as string | undefined), 30_000);
  frontendUrl = `http://${ip}:80/`;
});

after(async () => {
  await prometheus?.stop();
  await lab?.stop();
});

const ferry = (args: string[]) => ferryAsync(['--kubeconfig', lab.kubeconfigFile, ...args]);

async function userRequest(): Promise<number> {
  const response = await request(frontendUrl, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  await response.body.dump();
  return response.statusCode;
}

/** Users at the frontend for a bounded time, 20 requests a second, while `during` runs. */
async function underLoad<T>(durationMs: number, during: () => Promise<T>): Promise<{ result: T; load: { requests: number; failed: number } }> {
  let stop = false;
  const load = driveLoad(userRequest, 20, durationMs, () => stop);
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const result = await during();
    return { result, load: await load };
  } finally {
    stop = true;
    await load;
  }
}

interface GraphJson {
  edges: Array<{ from: string; to: string; reason: string; provenance: string; observed?: { requestsPerSecond: number; requests: number; protocols: string[]; sources: string[] } }>;
  unitEdges: Array<{ from: string; to: string; provenance: string; requestsPerSecond?: number }>;
  observed?: { calls: Array<{ from: string; to: string; inManifests: boolean }> };
}

const id = (name: string) => `Deployment/${NS}/${name}`;

test('static analysis of the manifests finds none of the calls configured in mounted files (and the one dead address it does find)', async () => {
  // A user can see the app calls through the mounted file: the pod answers with its callees.
  const tree = await (await request(frontendUrl)).body.json() as { calls: Array<{ service: string; calls: Array<{ service: string }> }> };
  assert.deepEqual(tree.calls.map((call) => call.service), ['catalog', 'cart']);
  assert.deepEqual(tree.calls[1]!.calls.map((call) => call.service), ['store']);

  const result = await ferry(['graph', '--context', 'source', '-n', NS, '-o', 'json']);
  assert.equal(result.code, 0, result.stderr);
  const graph = JSON.parse(result.stdout) as GraphJson;
  const calls = graph.unitEdges.map((edge) => `${edge.from}->${edge.to}`);
  for (const [from, to] of HIDDEN) assert.ok(!calls.includes(`${from}->${to}`), `${from} → ${to} is in no manifest`);
  assert.deepEqual(calls, ['frontend->legacy']);
});

test('--observed lab: every hidden call, with its rate, marked observed; the static address traffic never used stays static; --diff names both', async () => {
  const { result, load } = await underLoad(9000, () => ferry(['graph', '--context', 'source', '-n', NS, '--observed', 'lab', '--observed-sample', '3s', '-o', 'json']));
  assert.equal(result.code, 0, result.stderr);
  assert.equal(load.failed, 0);
  const graph = JSON.parse(result.stdout) as GraphJson;
  for (const [from, to] of HIDDEN) {
    const edge = graph.edges.find((e) => e.from === id(from) && e.to === id(to));
    assert.ok(edge, `${from} → ${to} observed: ${JSON.stringify(graph.edges.filter((e) => e.reason === 'observed'))}`);
    assert.equal(edge.reason, 'observed');
    assert.equal(edge.provenance, 'observed');
    assert.deepEqual(edge.observed?.sources, ['lab']);
    assert.ok(edge.observed!.requests >= 1);
    if (to === 'store') assert.deepEqual(edge.observed!.protocols, ['grpc'], 'gRPC calls are counted one by one, as a sidecar counts them');
    else {
      assert.deepEqual(edge.observed!.protocols, ['http']);
      // 20 user requests a second, each calling catalog and cart once.
      assert.ok(edge.observed!.requestsPerSecond > 10 && edge.observed!.requestsPerSecond < 30, `${from} → ${to}: ${edge.observed!.requestsPerSecond}/s`);
    }
  }
  assert.equal(graph.unitEdges.find((e) => e.from === 'frontend' && e.to === 'legacy')?.provenance, 'static');

  const table = await ferry(['graph', '--context', 'source', '-n', NS, '--observed', 'lab', '--observed-sample', '1s', '--diff']);
  assert.equal(table.code, 0, table.stderr);
  if (process.env.SHOW_OUTPUT) console.log(table.stdout);
  const [seen, neverSeen] = table.stdout.split('In the manifests, never seen in traffic');
  for (const [from, to] of HIDDEN) assert.match(seen!, new RegExp(`^${NS}/${from}\\s+${NS}/${to}\\s`, 'm'), table.stdout);
  assert.match(neverSeen!, /hidden\/frontend\s+Service\/hidden\/legacy\s+static\s+spec\.template\.spec\.containers\[server\]\.env\[LEGACY_URL\]: http:\/\/legacy:9000\s+likely dead configuration/, table.stdout);
});

test('--observed prometheus=…: the same calls from a real Prometheus scraping the lab network; --diff -o json; ferry plan --observed orders waves by them', async () => {
  const metricsUrl = new URL(lab.clusters[0]!.network!.metricsUrl);
  prometheus = await startPrometheus([{ job: 'lab-network', targets: [metricsUrl.host], metricsPath: metricsUrl.pathname }], 500);
  // Prometheus applies new targets a few seconds after it starts.
  await waitFor('the first scrape', async () => (await queryVector(prometheus!.url, 'up', Date.now())).length > 0, 20_000, 250);
  const started = Date.now();
  await underLoad(6000, () => new Promise((resolve) => setTimeout(resolve, 4000)));
  // Two scrapes after the load, so the last counts are in.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const window = `${Math.ceil((Date.now() - started) / 1000) + 5}s`;

  const diffResult = await ferry(['graph', '--context', 'source', '-n', NS, '--observed', `prometheus=${prometheus.url}`, '--observed-window', window, '--diff', '-o', 'json']);
  assert.equal(diffResult.code, 0, diffResult.stderr);
  const diff = JSON.parse(diffResult.stdout) as { observedOnly: Array<{ from: string; to: string; traffic: { requests: number; requestsPerSecond: number; sources: string[] } }>; neverSeen: Array<{ from: string; to: string; callerInTelemetry: boolean }> };
  assert.deepEqual(diff.observedOnly.map((call) => `${call.from} → ${call.to}`).sort(), HIDDEN.map(([from, to]) => `${id(from)} → ${id(to)}`).sort());
  for (const call of diff.observedOnly) {
    assert.deepEqual(call.traffic.sources, [`prometheus=${prometheus.url}`]);
    assert.ok(call.traffic.requests >= 1 && call.traffic.requestsPerSecond > 0, JSON.stringify(call));
  }
  const catalog = diff.observedOnly.find((call) => call.to === id('catalog'))!;
  // At least the ~100 user requests of this load (6 s at 20/s), each one call to catalog. The series were born in this
  // Prometheus inside the window, so their whole value counts — the earlier tests' calls too, which the lab made
  // before Prometheus first scraped it: a series' first value is all a Prometheus can know of its past.
  assert.ok(catalog.traffic.requests >= 80, `catalog calls: ${catalog.traffic.requests}`);
  assert.deepEqual(diff.neverSeen.map((edge) => [edge.from, edge.to, edge.callerInTelemetry]), [[id('frontend'), `Service/${NS}/legacy`, true]]);

  const plan = await ferry(['plan', '--from', 'source', '-n', NS, '--bridges', 'none', '--observed', `prometheus=${prometheus.url}`, '--observed-window', window, '-o', 'json']);
  assert.equal(plan.code, 0, plan.stderr);
  const slices = (JSON.parse(plan.stdout) as { spec: { waves: Array<{ slices: Array<{ name: string; dependsOn: string[] }> }> } }).spec.waves.map((wave) => wave.slices);
  const waveOf = (name: string) => slices.findIndex((wave) => wave.some((slice) => slice.name === name));
  const dependsOn = (name: string) => slices.flat().find((slice) => slice.name === name)?.dependsOn;
  assert.deepEqual(dependsOn('frontend'), ['cart', 'catalog', 'legacy']);
  assert.deepEqual(dependsOn('cart'), ['store']);
  assert.ok(waveOf('frontend') < waveOf('cart') && waveOf('cart') < waveOf('store'), `consumers first: ${JSON.stringify(slices)}`);
});

test('--observed lab=CONTEXT naming no context, and --diff without --observed: errors that say what to do', async () => {
  const noSource = await ferry(['graph', '--context', 'source', '-n', NS, '--diff']);
  assert.notEqual(noSource.code, 0);
  assert.match(noSource.stderr, /--diff compares the manifests with traffic, and no --observed source was given/);
  assert.match(noSource.stderr, /--observed lab/);
  const unknownContext = await ferry(['graph', '--context', 'source', '-n', NS, '--observed', 'lab=nowhere']);
  assert.notEqual(unknownContext.code, 0);
  assert.match(unknownContext.stderr, /nowhere/);
  assert.doesNotMatch(unknownContext.stderr, /at .*\.ts:\d+/, 'no stack trace');
});
