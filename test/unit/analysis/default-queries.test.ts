import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetricsProvider, metricsForSlice, queriesForSlice } from '../../../src/analysis/index.js';
import { sideQueriesSchema } from '../../../src/analysis/queries-schema.js';
import { trafficSchema } from '../../../src/plan/schema.js';
import { trafficProviderSchema, type TrafficProviderConfig } from '../../../src/traffic/provider-config.js';
import { FerryError } from '../../../src/util/errors.js';

const clusters = { source: 'old', target: 'new' };
const metrics = { provider: 'prometheus' as const, url: 'http://127.0.0.1:9090', scrapeInterval: '1s' };

// The exact PromQL each provider's defaults give: what a user sees in `docs/architecture.md`
// and what the judge sends to Prometheus.
const cases: Array<{ name: string; traffic: unknown; names: [string, string]; source: string[]; target: string[]; latencyUnit?: 's' | 'ms'; noLatency?: RegExp }> = [
  {
    name: 'router: by route and role, never by backend name',
    traffic: { type: 'router', adminUrl: 'http://127.0.0.1:9901', route: 'shop' },
    names: ['source', 'target'],
    source: ['sum(ferry_router_requests_total{route="shop",role="source"})', 'sum(ferry_router_errors_total{route="shop",role="source"})', 'sum by (le) (ferry_router_request_duration_seconds_bucket{route="shop",role="source"})'],
    target: ['sum(ferry_router_requests_total{route="shop",role="target"})', 'sum(ferry_router_errors_total{route="shop",role="target"})', 'sum by (le) (ferry_router_request_duration_seconds_bucket{route="shop",role="target"})'],
    latencyUnit: 's',
  },
  {
    name: 'haproxy: per server from the built-in exporter; failed attempts are requests and errors; no histogram',
    traffic: { type: 'haproxy', socket: '/run/haproxy.sock', backend: 'be_shop', sourceServer: 'old', targetServer: 'new' },
    names: ['old', 'new'],
    source: [
      '(sum(haproxy_server_http_responses_total{proxy="be_shop",server="old"}) or vector(0)) + (sum(haproxy_server_connection_errors_total{proxy="be_shop",server="old"}) or vector(0)) + (sum(haproxy_server_response_errors_total{proxy="be_shop",server="old"}) or vector(0))',
      '(sum(haproxy_server_http_responses_total{proxy="be_shop",server="old",code="5xx"}) or vector(0)) + (sum(haproxy_server_connection_errors_total{proxy="be_shop",server="old"}) or vector(0)) + (sum(haproxy_server_response_errors_total{proxy="be_shop",server="old"}) or vector(0))',
    ],
    target: [
      '(sum(haproxy_server_http_responses_total{proxy="be_shop",server="new"}) or vector(0)) + (sum(haproxy_server_connection_errors_total{proxy="be_shop",server="new"}) or vector(0)) + (sum(haproxy_server_response_errors_total{proxy="be_shop",server="new"}) or vector(0))',
      '(sum(haproxy_server_http_responses_total{proxy="be_shop",server="new",code="5xx"}) or vector(0)) + (sum(haproxy_server_connection_errors_total{proxy="be_shop",server="new"}) or vector(0)) + (sum(haproxy_server_response_errors_total{proxy="be_shop",server="new"}) or vector(0))',
    ],
    noLatency: /HAProxy 2\.6's exporter has no latency histogram per server/,
  },
  {
    name: 'istio, two hosts: by destination service name and namespace, as the routing proxy reports',
    traffic: { type: 'istio', namespace: 'shop', name: 'front', hosts: ['shop.example.com'], source: { host: 'front' }, target: { host: 'front-next.shop.svc.cluster.local' } },
    names: ['front', 'front-next.shop.svc.cluster.local'],
    source: [
      'sum(istio_requests_total{reporter="source",destination_service_name="front",destination_service_namespace="shop"})',
      'sum(istio_requests_total{reporter="source",destination_service_name="front",destination_service_namespace="shop",response_code=~"5.."} or istio_requests_total{reporter="source",destination_service_name="front",destination_service_namespace="shop",grpc_response_status!~"0|"})',
      'sum by (le) (istio_request_duration_milliseconds_bucket{reporter="source",destination_service_name="front",destination_service_namespace="shop"})',
    ],
    target: [
      'sum(istio_requests_total{reporter="source",destination_service_name="front-next",destination_service_namespace="shop"})',
      'sum(istio_requests_total{reporter="source",destination_service_name="front-next",destination_service_namespace="shop",response_code=~"5.."} or istio_requests_total{reporter="source",destination_service_name="front-next",destination_service_namespace="shop",grpc_response_status!~"0|"})',
      'sum by (le) (istio_request_duration_milliseconds_bucket{reporter="source",destination_service_name="front-next",destination_service_namespace="shop"})',
    ],
    latencyUnit: 'ms',
  },
  {
    name: 'istio, subsets of one host: by the pods\' version label',
    traffic: { type: 'istio', namespace: 'shop', name: 'front', hosts: ['front'], source: { host: 'front', subset: 'old', labels: { version: 'v1' } }, target: { host: 'front', subset: 'new', labels: { version: 'v2' } } },
    names: ['old', 'new'],
    source: [
      'sum(istio_requests_total{reporter="source",destination_service_name="front",destination_service_namespace="shop",destination_version="v1"})',
      'sum(istio_requests_total{reporter="source",destination_service_name="front",destination_service_namespace="shop",destination_version="v1",response_code=~"5.."} or istio_requests_total{reporter="source",destination_service_name="front",destination_service_namespace="shop",destination_version="v1",grpc_response_status!~"0|"})',
      'sum by (le) (istio_request_duration_milliseconds_bucket{reporter="source",destination_service_name="front",destination_service_namespace="shop",destination_version="v1"})',
    ],
    target: [
      'sum(istio_requests_total{reporter="source",destination_service_name="front",destination_service_namespace="shop",destination_version="v2"})',
      'sum(istio_requests_total{reporter="source",destination_service_name="front",destination_service_namespace="shop",destination_version="v2",response_code=~"5.."} or istio_requests_total{reporter="source",destination_service_name="front",destination_service_namespace="shop",destination_version="v2",grpc_response_status!~"0|"})',
      'sum by (le) (istio_request_duration_milliseconds_bucket{reporter="source",destination_service_name="front",destination_service_namespace="shop",destination_version="v2"})',
    ],
    latencyUnit: 'ms',
  },
  {
    name: 'gateway-api (Istio\'s implementation): by backend Service name and namespace',
    traffic: { type: 'gateway-api', namespace: 'shop', name: 'front', parentRefs: [{ name: 'gw' }], source: { name: 'front', port: 80 }, target: { name: 'front-next', namespace: 'next', port: 80 } },
    names: ['front', 'front-next'],
    source: [
      'sum(istio_requests_total{reporter="source",destination_service_name="front",destination_service_namespace="shop"})',
      'sum(istio_requests_total{reporter="source",destination_service_name="front",destination_service_namespace="shop",response_code=~"5.."})',
      'sum by (le) (istio_request_duration_milliseconds_bucket{reporter="source",destination_service_name="front",destination_service_namespace="shop"})',
    ],
    target: [
      'sum(istio_requests_total{reporter="source",destination_service_name="front-next",destination_service_namespace="next"})',
      'sum(istio_requests_total{reporter="source",destination_service_name="front-next",destination_service_namespace="next",response_code=~"5.."})',
      'sum by (le) (istio_request_duration_milliseconds_bucket{reporter="source",destination_service_name="front-next",destination_service_namespace="next"})',
    ],
    latencyUnit: 'ms',
  },
  {
    name: 'ingress-nginx: the primary Ingress, told apart by the canary upstream label',
    traffic: { type: 'ingress-nginx', namespace: 'shop', name: 'front', host: 'shop.example.com', source: { service: 'front', port: 80 }, target: { service: 'front-next', port: 8080 } },
    names: ['front', 'front-next'],
    source: [
      'sum(nginx_ingress_controller_requests{namespace="shop",ingress="front",canary=""})',
      'sum(nginx_ingress_controller_requests{namespace="shop",ingress="front",canary="",status=~"5.."})',
      'sum by (le) (nginx_ingress_controller_request_duration_seconds_bucket{namespace="shop",ingress="front",canary=""})',
    ],
    target: [
      'sum(nginx_ingress_controller_requests{namespace="shop",ingress="front",canary="shop-front-next-8080"})',
      'sum(nginx_ingress_controller_requests{namespace="shop",ingress="front",canary="shop-front-next-8080",status=~"5.."})',
      'sum by (le) (nginx_ingress_controller_request_duration_seconds_bucket{namespace="shop",ingress="front",canary="shop-front-next-8080"})',
    ],
    latencyUnit: 's',
  },
  {
    name: 'powerdns: each cluster\'s ingress for the record\'s host, by the cluster label',
    traffic: { type: 'powerdns', apiUrl: 'http://127.0.0.1:8081', zone: 'example.com.', record: 'shop.example.com.', source: ['10.0.0.1'], target: ['10.0.0.2'] },
    names: ['old', 'new'],
    source: [
      'sum(nginx_ingress_controller_requests{cluster="old",host="shop.example.com"})',
      'sum(nginx_ingress_controller_requests{cluster="old",host="shop.example.com",status=~"5.."})',
      'sum by (le) (nginx_ingress_controller_request_duration_seconds_bucket{cluster="old",host="shop.example.com"})',
    ],
    target: [
      'sum(nginx_ingress_controller_requests{cluster="new",host="shop.example.com"})',
      'sum(nginx_ingress_controller_requests{cluster="new",host="shop.example.com",status=~"5.."})',
      'sum by (le) (nginx_ingress_controller_request_duration_seconds_bucket{cluster="new",host="shop.example.com"})',
    ],
    latencyUnit: 's',
  },
];

test('default queries per traffic provider', async (t) => {
  for (const row of cases) {
    await t.test(row.name, () => {
      const traffic = trafficProviderSchema.parse(row.traffic);
      const queries = queriesForSlice({ traffic, clusters, sliceName: 'front' });
      assert.deepEqual([queries.names.source, queries.names.target], row.names);
      for (const side of ['source', 'target'] as const) {
        const q = queries[side];
        assert.deepEqual([q.requests, q.errors, ...(q.latency ? [q.latency.query] : [])], row[side], side);
        assert.equal(q.latency?.unit, row.latencyUnit, `${side} latency unit`);
      }
      if (row.noLatency) assert.match(queries.noLatency ?? '', row.noLatency);
      else assert.equal(queries.noLatency, undefined);
      // What the run gets: a Prometheus provider reading those names, and its latency gap.
      const built = metricsForSlice({ metrics, traffic, clusters, sliceName: 'front' });
      assert.deepEqual([built.source, built.target], row.names);
      assert.equal(built.provider.name, 'prometheus');
      assert.equal(built.provider.resolutionMs, 1000);
      assert.equal(built.provider.noLatency, queries.noLatency);
    });
  }
});

test('route53 has no default: the error says why and names traffic.queries', () => {
  const traffic = trafficProviderSchema.parse({ type: 'route53', hostedZoneId: 'Z1', record: 'shop.example.com', source: { values: ['10.0.0.1'] }, target: { values: ['10.0.0.2'] } });
  assert.throws(() => metricsForSlice({ metrics, traffic, clusters, sliceName: 'front' }), (error: FerryError) => {
    assert.match(error.message, /Route 53 weights move users between clusters inside resolvers/);
    assert.equal(error.location.field, 'slice front traffic.queries');
    assert.match(error.fix ?? '', /traffic\.queries\.source and traffic\.queries\.target/);
    return true;
  });
});

test('a slice that moves traffic without spec.metrics: the error names spec.metrics and what to scrape', () => {
  const traffic = trafficProviderSchema.parse({ type: 'haproxy', socket: '/s', backend: 'be', sourceServer: 'a', targetServer: 'b' });
  assert.throws(() => metricsForSlice({ metrics: undefined, traffic, clusters, sliceName: 'front' }), (error: FerryError) => {
    assert.equal(error.location.field, 'spec.metrics');
    assert.match(error.message, /slice front moves traffic \(haproxy\) but the plan names no metrics/);
    assert.match(error.fix ?? '', /prometheus-exporter/);
    return true;
  });
});

test('istio subsets of one host without a version label cannot be told apart: the error names the labels field', () => {
  const traffic = trafficProviderSchema.parse({ type: 'istio', namespace: 'shop', name: 'front', hosts: ['front'], source: { host: 'front', subset: 'a' }, target: { host: 'front', subset: 'b' } });
  assert.throws(() => queriesForSlice({ traffic, clusters, sliceName: 'front' }), (error: FerryError) => error.location.field === 'slice front traffic.provider.source.labels' && /version/.test(error.fix ?? ''));
});

test('powerdns without a source context: the error names spec.source.context', () => {
  const traffic = trafficProviderSchema.parse({ type: 'powerdns', apiUrl: 'http://127.0.0.1:8081', zone: 'example.com.', record: 'shop.example.com', source: ['10.0.0.1'], target: ['10.0.0.2'] });
  assert.throws(() => queriesForSlice({ traffic, clusters: { target: 'new' }, sliceName: 'front' }), (error: FerryError) => error.location.field === 'spec.source.context');
});

test('traffic.queries replaces the defaults (route53 included), and the plan schema takes it', () => {
  const traffic = trafficProviderSchema.parse({ type: 'route53', hostedZoneId: 'Z1', record: 'shop.example.com', source: { values: ['10.0.0.1'] }, target: { values: ['10.0.0.2'] } });
  const queries = sideQueriesSchema.parse({
    source: { requests: 'sum(lb_requests_total{lb="old"})', errors: 'sum(lb_requests_total{lb="old",code=~"5.."})', latency: 'sum by (le)(lb_latency_ms_bucket{lb="old"})', latencyUnit: 'ms' },
    target: { requests: 'sum(lb_requests_total{lb="new"})', errors: 'sum(lb_requests_total{lb="new",code=~"5.."})' },
  });
  const resolved = queriesForSlice({ traffic, queries, clusters, sliceName: 'front' });
  assert.deepEqual(resolved.names, { source: 'source', target: 'target' });
  assert.deepEqual(resolved.source, { requests: 'sum(lb_requests_total{lb="old"})', errors: 'sum(lb_requests_total{lb="old",code=~"5.."})', latency: { query: 'sum by (le)(lb_latency_ms_bucket{lb="old"})', unit: 'ms' } });
  assert.equal(resolved.target.latency, undefined);
  assert.match(resolved.noLatency ?? '', /traffic\.queries\.target\.latency is not set/);
  const built = metricsForSlice({ metrics, traffic, queries, clusters, sliceName: 'front' });
  assert.deepEqual([built.source, built.target], ['source', 'target']);

  const parsed = trafficSchema.partial().parse({ queries: { source: queries.source, target: queries.target } });
  assert.equal(parsed.queries?.source.latencyUnit, 'ms');
  assert.equal(trafficSchema.partial().safeParse({ queries: { source: { requests: 'x' }, target: { requests: 'y', errors: 'z' } } }).success, false, 'errors is required');
  assert.equal(trafficSchema.partial().safeParse({ queries: { source: queries.source, target: { ...queries.target, latencyUnit: 'us' } } }).success, false, 'unit is s or ms');
});

test('createMetricsProvider: one case per product; a misspelt type names the field', async () => {
  assert.equal(createMetricsProvider({ type: 'router' }).name, 'router');
  const prometheus = createMetricsProvider({ type: 'prometheus', url: 'http://127.0.0.1:9', scrapeIntervalMs: 500, backends: { a: { requests: 'sum(x)', errors: 'sum(y)' } } });
  assert.equal(prometheus.resolutionMs, 500);
  await assert.rejects(prometheus.buckets('b', 0, 1000, 500), /no series for backend "b" \(it knows "a"\)/);
  assert.throws(() => createMetricsProvider({ type: 'prometeus', url: 'http://x' }), (error: FerryError) => error instanceof FerryError && error.location.field === 'metrics.type');
  assert.throws(() => createMetricsProvider({ type: 'prometheus', url: 'ftp://x', scrapeIntervalMs: 500, backends: {} }), (error: FerryError) => error.location.field === 'metrics.url');
});

// Keep the union exhaustive in the table: a provider added to provider-config.ts without a
// row here (or a documented refusal) fails this test.
test('every traffic provider has a row or a documented refusal', () => {
  const types = new Set<TrafficProviderConfig['type']>(cases.map((row) => (row.traffic as { type: TrafficProviderConfig['type'] }).type));
  types.add('route53');
  assert.deepEqual([...types].sort(), trafficProviderSchema.options.map((option) => option.shape.type.value).sort());
});
