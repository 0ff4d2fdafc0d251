/**
 * Observed dependencies (src/graph/observed/): each source's parsing against exposition text
 * made by the code that exports it — the lab network's Istio-shaped telemetry class and the
 * embedded router's metrics — then how observed calls meet the static graph, the diff, and plan waves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkTelemetry, type Destination, type Peer } from '../../../src/lab/network/telemetry.js';
import { RouterMetrics } from '../../../src/traffic/proxy/metrics.js';
import { parseExposition } from '../../../src/graph/observed/exposition.js';
import { readingsFromScrapes } from '../../../src/graph/observed/counters.js';
import { ISTIO_REQUESTS, ISTIO_TCP_OPENED, istioEdges } from '../../../src/graph/observed/istio.js';
import { linkerdEdges } from '../../../src/graph/observed/linkerd.js';
import { ROUTER_REQUESTS, routerEdges } from '../../../src/graph/observed/router.js';
import { mergeObserved } from '../../../src/graph/observed/merge.js';
import { graphDiff } from '../../../src/graph/observed/diff.js';
import { observedSource, parseObserveWindow } from '../../../src/graph/observed/sources.js';
import type { ObservedEdge } from '../../../src/graph/observed/model.js';
import { buildDependencyGraph } from '../../../src/graph/build.js';
import { buildUnitGraph } from '../../../src/graph/units.js';
import { renderableUnits, toMermaid } from '../../../src/graph/render.js';
import { idOf } from '../../../src/graph/model.js';
import { isWorkload } from '../../../src/graph/pod-spec.js';
import { generatePlan } from '../../../src/plan/generate.js';
import { FerryError } from '../../../src/util/errors.js';
import type { KubeObject } from '../../../src/kube/object.js';

const peer = (workload: string, namespace = 'shop', cluster = 'source'): Peer => ({ workload, namespace, cluster });
const dest = (workload: string, namespace = 'shop', cluster = 'source'): Destination => ({ ...peer(workload, namespace, cluster), service: `${workload}.${namespace}.svc.cluster.local`, serviceName: workload, serviceNamespace: namespace });

test('istio: the lab telemetry\'s own text — a call both sidecars report counts once, a caller outside the mesh is "unknown", connections are tcp, rates come from the two scrapes', async () => {
  const telemetry = new NetworkTelemetry();
  // Before the first scrape: 4 calls frontend → cart, reported by both sidecars, as the proxy does.
  for (let i = 0; i < 4; i++) for (const reporter of ['source', 'destination'] as const) telemetry.request(reporter, peer('frontend'), dest('cart'), 'http', 200, 2);
  const first = parseExposition(await telemetry.metrics());
  // Between the scrapes: 6 more (2 of them failing, another response_code series), a user outside the mesh, a gRPC tunnel.
  for (let i = 0; i < 6; i++) for (const reporter of ['source', 'destination'] as const) telemetry.request(reporter, peer('frontend'), dest('cart'), 'http', i < 2 ? 503 : 200, 2);
  for (let i = 0; i < 3; i++) telemetry.request('destination', { workload: 'unknown', namespace: 'unknown', cluster: 'source' }, dest('frontend'), 'http', 200, 1);
  telemetry.connection('source', peer('cart'), dest('store'))();
  telemetry.connection('destination', peer('cart'), dest('store'))();
  // A cross-cluster call only the caller's side of this registry saw (the gateway reports the other).
  telemetry.request('source', peer('checkout'), dest('payment', 'shop', 'target'), 'http', 200, 1);
  const second = parseExposition(await telemetry.metrics());

  const edges = istioEdges(readingsFromScrapes(first, second, ISTIO_REQUESTS, 2), readingsFromScrapes(first, second, ISTIO_TCP_OPENED, 2), 'lab');
  const find = (from: string, to: string, protocol: string) => edges.find((edge) => (('name' in edge.from && edge.from.name === from) || ('outside' in edge.from && edge.from.outside === from)) && 'name' in edge.to && edge.to.name === to && edge.protocol === protocol);
  const cart = find('frontend', 'cart', 'http');
  assert.ok(cart, JSON.stringify(edges));
  assert.equal(cart.requests, 10, 'both reporters count the same 10 calls: not 20');
  assert.equal(cart.requestsPerSecond, 3, '6 calls between scrapes 2 s apart');
  assert.deepEqual(cart.from, { namespace: 'shop', name: 'frontend', cluster: 'source' });
  assert.match(cart.evidence, /^istio_requests_total\{source_workload="frontend",source_workload_namespace="shop",destination_workload="cart",destination_workload_namespace="shop"\} reporter=destination\+source/);
  assert.equal(find('unknown', 'frontend', 'http')?.requests, 3);
  assert.equal(find('cart', 'store', 'tcp')?.requests, 1, 'a tunnel both sides saw is one connection');
  const payment = find('checkout', 'payment', 'http');
  assert.equal(payment?.requests, 1);
  assert.deepEqual(payment?.to, { namespace: 'shop', name: 'payment', cluster: 'target' });
  assert.equal(edges.length, 4);
});

test('router: the router\'s own metrics text — users → the slice its route is named after; mirrored copies are not user requests', async () => {
  const metrics = new RouterMetrics();
  const first = parseExposition(await metrics.registry.metrics());
  for (let i = 0; i < 5; i++) metrics.observe({ route: 'frontend', backend: 'old', role: 'source', status: 200, latencyMs: 1, at: 0 });
  for (let i = 0; i < 3; i++) metrics.observe({ route: 'frontend', backend: 'new', role: 'target', status: i === 0 ? 502 : 200, latencyMs: 1, at: 0 });
  for (let i = 0; i < 4; i++) metrics.observe({ route: 'frontend', backend: 'new', role: 'shadow', status: 200, latencyMs: 1, at: 0 });
  metrics.observe({ route: 'api', backend: 'old', role: 'source', status: 200, latencyMs: 1, at: 0 });
  const second = parseExposition(await metrics.registry.metrics());
  const edges = routerEdges(readingsFromScrapes(first, second, ROUTER_REQUESTS, 4), 'router=http://127.0.0.1:9901');
  const frontend = edges.find((edge) => 'slice' in edge.to && edge.to.slice === 'frontend');
  assert.deepEqual(frontend && { from: frontend.from, requests: frontend.requests, perSecond: frontend.requestsPerSecond }, { from: { outside: 'users' }, requests: 8, perSecond: 2 });
  assert.equal(edges.find((edge) => 'slice' in edge.to && edge.to.slice === 'api')?.requests, 1);
});

test('linkerd: outbound request_total and tcp_open_total by deployment/statefulset (text as Linkerd\'s proxy-metrics reference shows it), inbound ignored', () => {
  // No Linkerd exporter is in this repository, so this one text is written by hand after https://linkerd.io/2/reference/proxy-metrics/.
  const text = `# TYPE request_total counter
request_total{direction="outbound",authority="cart.shop.svc.cluster.local:7070",namespace="shop",deployment="frontend",pod="frontend-7d9-x",dst_namespace="shop",dst_deployment="cart",dst_service="cart",tls="true"} 42
request_total{direction="outbound",authority="db.shop.svc.cluster.local:5432",namespace="shop",deployment="cart",dst_namespace="shop",dst_statefulset="db"} 7
request_total{direction="outbound",authority="example.com:443",namespace="shop",deployment="cart"} 9
request_total{direction="inbound",namespace="shop",deployment="cart",client_id="frontend.shop.serviceaccount.identity.linkerd.cluster.local"} 42
tcp_open_total{direction="outbound",namespace="shop",statefulset="worker",dst_namespace="jobs",dst_deployment="queue",peer="dst"} 3
`;
  const samples = parseExposition(text);
  const outbound = (name: string) => samples.filter((s) => s.name === name && s.labels.direction === 'outbound').map((s) => ({ labels: s.labels, count: s.value, perSecond: s.value / 60 }));
  const edges = linkerdEdges(outbound('request_total'), outbound('tcp_open_total'), 'linkerd=http://prometheus:9090');
  assert.deepEqual(edges.map((edge) => [edge.from, edge.to, edge.requests, edge.protocol]), [
    [{ namespace: 'shop', name: 'frontend', kind: 'Deployment' }, { namespace: 'shop', name: 'cart', kind: 'Deployment' }, 42, 'http'],
    [{ namespace: 'shop', name: 'cart', kind: 'Deployment' }, { namespace: 'shop', name: 'db', kind: 'StatefulSet' }, 7, 'http'],
    [{ namespace: 'shop', name: 'worker', kind: 'StatefulSet' }, { namespace: 'jobs', name: 'queue', kind: 'Deployment' }, 3, 'tcp'],
  ]);
  assert.match(edges[1]!.evidence, /^request_total\{direction="outbound",namespace="shop",deployment="cart",dst_namespace="shop",dst_statefulset="db"\}$/);
});

test('the exposition parser: escapes in label values, exponents, +Inf, timestamps', () => {
  const samples = parseExposition('# HELP x y\nx{a="q\\"uo\\\\te\\n",b="c,d}"} 1.5e3 1700000000000\nx_bucket{le="+Inf"} +Inf\ny 2\n');
  assert.deepEqual(samples, [
    { name: 'x', labels: { a: 'q"uo\\te\n', b: 'c,d}' }, value: 1500 },
    { name: 'x_bucket', labels: { le: '+Inf' }, value: Infinity },
    { name: 'y', labels: {}, value: 2 },
  ]);
});

// --- meeting the static graph ------------------------------------------------------------

function deployment(name: string, env: Array<{ name: string; value: string }> = []): KubeObject {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'shop' }, spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'x', env }] } } } };
}
function service(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop' }, spec: { selector: { app: name }, ports: [{ port: 80 }] } };
}
const APP: KubeObject[] = [
  deployment('frontend', [{ name: 'CART_URL', value: 'http://cart:80' }, { name: 'LEGACY_URL', value: 'http://legacy:80' }]),
  deployment('cart'),
  deployment('store'),
  deployment('legacy'),
  service('frontend'), service('cart'), service('store'), service('legacy'),
];
const workload = (name: string) => ({ namespace: 'shop', name });
const call = (from: string, to: string, perSecond: number, protocol = 'http'): ObservedEdge => ({ from: workload(from), to: workload(to), requestsPerSecond: perSecond, requests: perSecond * 600, protocol, evidence: `istio_requests_total{…${from}→${to}}`, source: 'lab' });

test('observed calls meet the manifests: static+observed with its rate, observed-only edges, outside and unmatched aside; the diff names both sides', () => {
  const observed = [call('frontend', 'cart', 2), call('cart', 'store', 0.5, 'tcp'), call('frontend', 'frontend', 1), call('frontend', 'ghost', 1),
    { ...call('frontend', 'cart', 0), from: { outside: 'unknown' as const }, to: workload('frontend') }];
  const workloads = APP.filter(isWorkload).map(idOf);
  const merged = mergeObserved(buildDependencyGraph(APP), workloads, observed);
  const edge = (from: string, to: string) => merged.graph.edges.find((e) => e.from === `Deployment/shop/${from}` && e.to === to);
  assert.equal(edge('frontend', 'Service/shop/cart')?.provenance, 'static+observed');
  assert.equal(edge('frontend', 'Service/shop/cart')?.observed?.requestsPerSecond, 2);
  assert.equal(edge('frontend', 'Service/shop/legacy')?.provenance, 'static', 'a static call traffic did not show stays static');
  const hidden = edge('cart', 'Deployment/shop/store');
  assert.deepEqual(hidden && { reason: hidden.reason, provenance: hidden.provenance, runtime: hidden.runtime, protocols: hidden.observed?.protocols }, { reason: 'observed', provenance: 'observed', runtime: true, protocols: ['tcp'] });
  assert.equal(merged.outside.length, 1);
  assert.equal(merged.unmatched.length, 1, 'ghost is in no manifest');
  assert.equal(merged.graph.edges.filter((e) => e.from === 'Deployment/shop/frontend' && e.to === 'Deployment/shop/frontend').length, 0, 'a workload calling itself is no edge');

  const units = buildUnitGraph(merged.graph, workloads);
  const unitEdge = (from: string, to: string) => units.edges.find((e) => e.from === from && e.to === to);
  assert.deepEqual([unitEdge('frontend', 'cart')?.provenance, unitEdge('frontend', 'cart')?.requestsPerSecond], ['static+observed', 2]);
  assert.deepEqual([unitEdge('cart', 'store')?.provenance, unitEdge('cart', 'store')?.requestsPerSecond], ['observed', 0.5]);
  assert.match(toMermaid(renderableUnits(units)), /-->\|"observed 0\.50\/s"\|/);

  const diff = graphDiff(merged, workloads, { window: '10m', sources: ['lab'] });
  assert.deepEqual(diff.observedOnly.map((c) => [c.from, c.to, c.traffic.requestsPerSecond]), [['Deployment/shop/cart', 'Deployment/shop/store', 0.5]]);
  assert.deepEqual(diff.neverSeen.map((e) => [e.from, e.to, e.callerInTelemetry, e.evidence[0]?.text]), [['Deployment/shop/frontend', 'Service/shop/legacy', true, 'http://legacy:80']]);
  assert.deepEqual(diff.unmatched.map((e) => e.to), ['shop/ghost']);
});

test('plan waves use observed calls: a call only traffic shows puts its caller before its callee, consumers first', () => {
  const options = { source: { context: 'source' }, target: { context: 'target' } } as never;
  const wave = (plan: ReturnType<typeof generatePlan>, slice: string) => plan.spec.waves.findIndex((w) => w.slices.some((s) => s.name === slice));
  const without = generatePlan(APP, options);
  assert.ok(wave(without, 'cart') >= wave(without, 'store'), 'with no edge, nothing holds store back until cart has moved');
  assert.deepEqual(without.spec.waves.flatMap((w) => w.slices).find((s) => s.name === 'cart')?.dependsOn, []);
  const withTraffic = generatePlan(APP, { ...(options as object), observed: [call('cart', 'store', 1)] } as never);
  assert.ok(wave(withTraffic, 'cart') < wave(withTraffic, 'store'), 'cart (the caller) moves before store');
  assert.deepEqual(withTraffic.spec.waves.flatMap((w) => w.slices).find((s) => s.name === 'cart')?.dependsOn, ['store']);
});

test('--observed forms: each source, and errors that name the source and the fix without a password', () => {
  assert.equal(observedSource('prometheus=http://user:secret@prom:9090', {}).name, 'prometheus=http://prom:9090');
  assert.equal(observedSource('linkerd=http://prom:9090', {}).name, 'linkerd=http://prom:9090');
  assert.equal(observedSource('router=http://127.0.0.1:9901', {}).name, 'router=http://127.0.0.1:9901');
  assert.equal(observedSource('lab', { context: 'source' }).name, 'lab');
  const refused = (spec: string, context = {}) => {
    try {
      observedSource(spec, context);
    } catch (error) {
      assert.ok(error instanceof FerryError);
      assert.ok(error.fix, 'a fix is given');
      assert.doesNotMatch(`${error.message} ${error.fix}`, /secret/);
      return error.message;
    }
    assert.fail(`${spec} was accepted`);
  };
  assert.match(refused('zipkin=http://z'), /--observed zipkin=http:\/\/z: unknown source "zipkin"/);
  assert.match(refused('prometheus'), /needs a URL/);
  assert.match(refused('prometheus=ftp://user:secret@x'), /must be http or https/);
  assert.match(refused('lab'), /no context/);
  assert.deepEqual(parseObserveWindow('10m', '5s'), { seconds: 600, sampleSeconds: 5 });
  assert.throws(() => parseObserveWindow('soon', '5s'), /--observed-window "soon" is not a duration/);
});

test('a Prometheus that is not there: the error names the source and says what to pass', async () => {
  const source = observedSource('prometheus=http://127.0.0.1:9', {});
  await assert.rejects(source.observe({ seconds: 60, sampleSeconds: 1 }), (error: FerryError) => {
    assert.match(error.message, /^--observed prometheus=http:\/\/127\.0\.0\.1:9: cannot query Prometheus at http:\/\/127\.0\.0\.1:9: /);
    assert.match(error.fix!, /istio_requests_total/);
    return true;
  });
});
