/**
 * Which Prometheus series tell the judge what each side of a slice answered, per traffic
 * provider: the metrics the product moving the traffic exports itself (docs/architecture.md,
 * "Default queries per provider"). Pure: no I/O. Every expression is a raw cumulative counter
 * (or histogram by `le`); the Prometheus provider takes differences at its bucket edges.
 */
import type {
  GatewayApiProviderConfig,
  HaproxyProviderConfig,
  IngressNginxProviderConfig,
  IstioProviderConfig,
  PowerdnsProviderConfig,
  TrafficProviderConfig,
} from '../traffic/provider-config.js';
import { FerryError } from '../util/errors.js';
import type { SideQueriesOverride, SideQueryOverride } from './queries-schema.js';

export interface SideQueries {
  /** One cumulative counter: requests this side answered (or failed to answer). */
  requests: string;
  /** One cumulative counter: responses ≥ 500 or no response. */
  errors: string;
  /** Cumulative histogram by `le`, and the unit of its bounds. */
  latency?: { query: string; unit: 's' | 'ms' };
}

export interface SliceQueries {
  /** Names the judge and `$source` / `$target` in PromQL gates use for the two sides. */
  names: { source: string; target: string };
  source: SideQueries;
  target: SideQueries;
  /** Set when there is no latency histogram: why, for the latency gates' verdicts. */
  noLatency?: string;
  /** Where the queries came from, for messages: e.g. "haproxy defaults". */
  origin: string;
}

export interface QueryContext {
  /** kubeconfig context names of the plan's source and target (PowerDNS: the `cluster` label). */
  clusters: { source?: string; target?: string };
  sliceName: string;
}

/** The defaults for a provider, one case per product; throws where a product has none. */
export function defaultQueries(traffic: TrafficProviderConfig, context: QueryContext): SliceQueries {
  switch (traffic.type) {
    case 'router': return routerQueries(traffic.route);
    case 'haproxy': return haproxyQueries(traffic);
    case 'istio': return istioQueries(traffic, context);
    case 'gateway-api': return gatewayApiQueries(traffic);
    case 'ingress-nginx': return ingressNginxQueries(traffic);
    case 'powerdns': return powerdnsQueries(traffic, context);
    case 'route53':
      throw new FerryError('plan', `slice ${context.sliceName}: Route 53 weights move users between clusters inside resolvers, so no series of the traffic provider shows how each side answered`, {
        location: { field: `slice ${context.sliceName} traffic.queries` },
        fix: 'set traffic.queries.source and traffic.queries.target to your clusters\' ingress or load balancer metrics (see docs/architecture.md, "Default queries per provider")',
      });
  }
}

/** The user's own series from `traffic.queries`. */
export function overrideQueries(queries: SideQueriesOverride): SliceQueries {
  const side = (q: SideQueryOverride): SideQueries => ({ requests: q.requests, errors: q.errors, ...(q.latency ? { latency: { query: q.latency, unit: q.latencyUnit ?? 's' } } : {}) });
  const missing = (['source', 'target'] as const).filter((name) => !queries[name].latency);
  return {
    names: { source: 'source', target: 'target' },
    source: side(queries.source),
    target: side(queries.target),
    ...(missing.length > 0 ? { noLatency: `traffic.queries.${missing.join(' and ')}.latency is not set, so the judge has no latencies for latency gates` } : {}),
    origin: 'traffic.queries',
  };
}

/** A PromQL label matcher list from a record; values quoted as PromQL strings (JSON escaping is valid PromQL). */
export function selector(labels: Record<string, string | { op: '=' | '!=' | '=~' | '!~'; value: string }>): string {
  const parts = Object.entries(labels).map(([name, value]) => (typeof value === 'string' ? `${name}=${JSON.stringify(value)}` : `${name}${value.op}${JSON.stringify(value.value)}`));
  return `{${parts.join(',')}}`;
}

/** Two names for `$source` / `$target`; the side names when the product's own names coincide. */
function names(source: string, target: string): SliceQueries['names'] {
  return source === target ? { source: 'source', target: 'target' } : { source, target };
}

/** Embedded router: by route and role, never by backend name (users name backends freely). */
export function routerQueries(route: string): SliceQueries {
  const side = (role: 'source' | 'target'): SideQueries => {
    const sel = selector({ route, role });
    return {
      requests: `sum(ferry_router_requests_total${sel})`,
      errors: `sum(ferry_router_errors_total${sel})`,
      latency: { query: `sum by (le) (ferry_router_request_duration_seconds_bucket${sel})`, unit: 's' },
    };
  };
  return { names: { source: 'source', target: 'target' }, source: side('source'), target: side('target'), origin: 'router defaults' };
}

/**
 * HAProxy's built-in exporter (`http-request use-service prometheus-exporter`), per server.
 * An attempt that got no response is a connection or response error on that server: both
 * count as requests and as errors, as the router counts them.
 */
export function haproxyQueries(config: HaproxyProviderConfig): SliceQueries {
  const side = (server: string): SideQueries => {
    const sel = selector({ proxy: config.backend, server });
    const failed = `(sum(haproxy_server_connection_errors_total${sel}) or vector(0)) + (sum(haproxy_server_response_errors_total${sel}) or vector(0))`;
    return {
      requests: `(sum(haproxy_server_http_responses_total${sel}) or vector(0)) + ${failed}`,
      errors: `(sum(haproxy_server_http_responses_total${selector({ proxy: config.backend, server, code: '5xx' })}) or vector(0)) + ${failed}`,
    };
  };
  return {
    names: names(config.sourceServer, config.targetServer),
    source: side(config.sourceServer),
    target: side(config.targetServer),
    noLatency: 'HAProxy 2.6\'s exporter has no latency histogram per server (only averages over the last 1024 requests), so latency gates cannot be judged from it; set traffic.queries with a histogram from elsewhere, or drop the latency gates for this slice',
    origin: 'haproxy defaults',
  };
}

/**
 * Istio's standard metrics as reported by the proxy that made the weighted choice (reporter
 * "source": the ingress gateway or the caller's sidecar), so a failed connection to a
 * destination counts against it, and destinations need no sidecar of their own. Destinations
 * on different hosts differ by service; subsets of one host by the pods' `version` label
 * (`destination_version`) or canonical revision. Errors are HTTP 5xx and gRPC calls whose
 * grpc-status is not OK.
 */
export function istioQueries(config: IstioProviderConfig, context: QueryContext): SliceQueries {
  const sameHost = config.source.host === config.target.host;
  const labelsOf = (side: 'source' | 'target'): Record<string, string> => {
    const destination = config[side];
    const labels: Record<string, string> = { reporter: 'source', ...serviceLabels(destination.host, config.namespace) };
    if (!sameHost) return labels;
    // Subsets by cluster (an internal ramp across a multi-cluster mesh): Istio labels the cluster that served.
    const cluster = destination.labels?.['topology.istio.io/cluster'];
    if (cluster) return { ...labels, destination_cluster: cluster };
    const version = destination.labels?.version;
    const revision = destination.labels?.['service.istio.io/canonical-revision'] ?? destination.labels?.['app.kubernetes.io/version'];
    if (version) return { ...labels, destination_version: version };
    if (revision) return { ...labels, destination_canonical_revision: revision };
    throw new FerryError('plan', `slice ${context.sliceName}: source and target are subsets of one host (${destination.host}), and Istio's metrics tell subsets apart only by the pods' version label`, {
      location: { field: `slice ${context.sliceName} traffic.provider.${side}.labels` },
      fix: 'give each subset a distinct `version` label (traffic.provider.source.labels.version / target.labels.version, the pods must carry it), or set traffic.queries',
    });
  };
  const side = (labels: Record<string, string>): SideQueries => ({
    requests: `sum(istio_requests_total${selector(labels)})`,
    // A failed gRPC call is answered HTTP 200 with its status in grpc_response_status ("" for
    // plain HTTP, "0" for OK): the union of the two series sets (`or` before summing, so a
    // series in both counts once) is every failed HTTP request and gRPC call.
    errors: `sum(istio_requests_total${selector({ ...labels, response_code: { op: '=~', value: '5..' } })} or istio_requests_total${selector({ ...labels, grpc_response_status: { op: '!~', value: '0|' } })})`,
    latency: { query: `sum by (le) (istio_request_duration_milliseconds_bucket${selector(labels)})`, unit: 'ms' },
  });
  const source = labelsOf('source');
  const target = labelsOf('target');
  return {
    names: names(config.source.subset ?? config.source.host, config.target.subset ?? config.target.host),
    source: side(source),
    target: side(target),
    origin: 'istio defaults',
  };
}

/**
 * Istio's labels for a destination host: `name` and `name.namespace[.svc[.cluster.local]]`
 * are a Service (name and namespace labels); anything else is an external host (ServiceEntry),
 * matched as destination_service.
 */
function serviceLabels(host: string, defaultNamespace: string): Record<string, string> {
  const parts = host.split('.');
  if (parts.length === 1) return { destination_service_name: host, destination_service_namespace: defaultNamespace };
  if (parts.length === 2 || parts[2] === 'svc') return { destination_service_name: parts[0]!, destination_service_namespace: parts[1]! };
  return { destination_service: host };
}

/**
 * Gateway API, as Istio implements it: the gateway's Envoy reports each backend Service it
 * picked (reporter "source"). Other implementations (Envoy Gateway, Contour, NGINX Gateway
 * Fabric, …) label their metrics their own way: set traffic.queries for them.
 */
export function gatewayApiQueries(config: GatewayApiProviderConfig): SliceQueries {
  const side = (ref: GatewayApiProviderConfig['source']): SideQueries => {
    const labels = { reporter: 'source', destination_service_name: ref.name, destination_service_namespace: ref.namespace ?? config.namespace };
    return {
      requests: `sum(istio_requests_total${selector(labels)})`,
      errors: `sum(istio_requests_total${selector({ ...labels, response_code: { op: '=~', value: '5..' } })})`,
      latency: { query: `sum by (le) (istio_request_duration_milliseconds_bucket${selector(labels)})`, unit: 'ms' },
    };
  };
  return { names: names(config.source.name, config.target.name), source: side(config.source), target: side(config.target), origin: 'gateway-api defaults (Istio\'s implementation)' };
}

/**
 * ingress-nginx: the canary Ingress is merged into the primary's location, so every request
 * is labelled with the primary Ingress; those the canary served carry `canary` = the canary's
 * upstream (`<namespace>-<service>-<port>`), the others an empty `canary` (ingress-nginx ≥ 1.1,
 * kubernetes/ingress-nginx#7696).
 */
export function ingressNginxQueries(config: IngressNginxProviderConfig): SliceQueries {
  const base = { namespace: config.namespace, ingress: config.name };
  const canaryUpstream = `${config.namespace}-${config.target.service}-${config.target.port}`;
  return {
    names: names(config.source.service, config.target.service),
    source: nginxSide({ ...base, canary: '' }),
    target: nginxSide({ ...base, canary: canaryUpstream }),
    origin: 'ingress-nginx defaults',
  };
}

/**
 * PowerDNS moves users between clusters, not between backends of one proxy: each cluster's
 * ingress (ingress-nginx's series, which the lab's ingress exports too) is read for the
 * record's host, told apart by the `cluster` label the scrape job adds.
 */
export function powerdnsQueries(config: PowerdnsProviderConfig, context: QueryContext): SliceQueries {
  const host = config.record.replace(/\.$/, '');
  const cluster = (side: 'source' | 'target'): string => {
    const name = context.clusters[side];
    if (name) return name;
    throw new FerryError('plan', `slice ${context.sliceName}: DNS ramps are judged from each cluster's ingress metrics, selected by a cluster label named after spec.${side}.context, and the plan's ${side} has no context`, {
      location: { field: `spec.${side}.context` },
      fix: `set spec.${side}.context, or set traffic.queries for slice ${context.sliceName}`,
    });
  };
  const source = cluster('source');
  const target = cluster('target');
  return {
    names: names(source, target),
    source: nginxSide({ cluster: source, host }),
    target: nginxSide({ cluster: target, host }),
    origin: 'powerdns defaults (the clusters\' ingress metrics)',
  };
}

function nginxSide(labels: Record<string, string>): SideQueries {
  return {
    requests: `sum(nginx_ingress_controller_requests${selector(labels)})`,
    errors: `sum(nginx_ingress_controller_requests${selector({ ...labels, status: { op: '=~', value: '5..' } })})`,
    latency: { query: `sum by (le) (nginx_ingress_controller_request_duration_seconds_bucket${selector(labels)})`, unit: 's' },
  };
}
