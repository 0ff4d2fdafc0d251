/**
 * Istio's in-mesh routing for the calls a lab cluster's service proxy and ClusterIP listeners
 * carry, as a caller's sidecar applies it: a VirtualService (networking.istio.io v1, v1beta1,
 * v1alpha3) bound to the mesh (no `gateways`, or `mesh` among them) whose `hosts` name the
 * called Service picks its first matching `http` route and one of its destinations by
 * weight; the destination's `subset` is looked up in a DestinationRule for its host, and
 * its `labels` filter the Service's endpoints by their labels (endpointLabels: a pod's
 * labels plus `topology.istio.io/cluster`, an east-west gateway's cluster), which is how
 * multi-primary Istio splits a Service between clusters
 * (https://istio.io/latest/docs/reference/config/networking/virtual-service/).
 *
 * Hand-written: there is no library that evaluates Istio routes outside Envoy.
 *
 * What a lab "sidecar" sees decides what it can match: an HTTP request — absolute-form, or an
 * HTTP/2 stream of a tunnel or ClusterIP connection (h2.ts) — is routed on its own (uri,
 * method, authority, scheme, headers, queryParams); a byte tunnel (WebSocket, TLS, TCP) is
 * routed once per connection, with only the routes whose match needs no request (absent,
 * port, sourceLabels, sourceNamespace) and then `tcp` routes.
 */
import type { KubeObject } from '../../kube/object.js';
import type { ControllerClient } from '../controllers/client.js';
import { findServicePort, ServiceUnreachable, type ServicePort } from './endpoints.js';
import { resolveHost } from './names.js';

type Obj = Record<string, any>;

/** The label Istio puts on every endpoint naming the cluster it is in. */
export const CLUSTER_LABEL = 'topology.istio.io/cluster';
const ISTIO_VERSIONS = ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'];
const DOMAIN_SUFFIX = '.svc.cluster.local';
/** Istio's default root namespace, whose DestinationRules apply mesh-wide. */
const ROOT_NAMESPACE = 'istio-system';

/** Who calls and what, as a sidecar of the caller knows it. */
export interface MeshCall {
  /** The caller's namespace (exportTo, sourceNamespace, DestinationRule lookup); unknown for ClusterIP connections. */
  namespace?: string;
  /** The calling pod's labels (sourceLabels). */
  labels?: Record<string, string>;
  /** The HTTP request when the call is one; absent for a connection routed as a whole. */
  request?: MeshRequest;
}

export interface MeshRequest {
  method: string;
  /** Path and query, e.g. `/cart?id=1`. */
  path: string;
  authority: string;
  scheme: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Where a VirtualService sends one call. */
export interface MeshRoute {
  /** `namespace/name` of the VirtualService. */
  virtualService: string;
  service: KubeObject;
  port: ServicePort;
  subset?: { name: string; labels: Record<string, string>; destinationRule: string };
}

/**
 * The route a mesh VirtualService gives a call to `service:port`; undefined when none
 * applies (the Service's own endpoints, as without Istio). Throws ServiceUnreachable: 404
 * when a VirtualService exists but no route matches the request, 503 when its destination
 * is no Service, names a subset no DestinationRule has, or has weight 0 everywhere.
 */
export function meshRoute(client: ControllerClient, service: KubeObject, port: ServicePort, call: MeshCall, turns: Map<string, number[]>): MeshRoute | undefined {
  const namespace = service.metadata.namespace ?? 'default';
  const fqdn = `${service.metadata.name}.${namespace}${DOMAIN_SUFFIX}`;
  const virtualService = virtualServiceFor(client, fqdn, call.namespace);
  if (!virtualService) return undefined;
  const vsNamespace = virtualService.metadata.namespace ?? 'default';
  const id = `${vsNamespace}/${virtualService.metadata.name}`;
  const spec = (virtualService.spec ?? {}) as Obj;
  const http = (spec.http ?? []) as Obj[];
  let index = http.findIndex((route) => matchesAny(route.match as Obj[] | undefined, port.port, call));
  let routes = http;
  let kind = 'http';
  if (index === -1 && !call.request) {
    routes = (spec.tcp ?? []) as Obj[];
    kind = 'tcp';
    index = routes.findIndex((route) => matchesAny(route.match as Obj[] | undefined, port.port, call));
  }
  if (index === -1) {
    if (call.request) throw new ServiceUnreachable(404, `VirtualService ${id} has no http route matching ${call.request.method} ${call.request.path} to ${fqdn}`);
    // A connection none of whose routes can be told apart without its requests goes to the Service as a whole.
    return undefined;
  }
  const route = routes[index]!;
  const destinations = ((route.route ?? []) as Obj[]).filter((entry) => entry.destination?.host);
  if (destinations.length === 0) throw new ServiceUnreachable(503, `VirtualService ${id} ${kind} route ${route.name ?? index} has no destination`);
  const weights = destinations.map((entry) => Number(entry.weight ?? (destinations.length === 1 ? 100 : 0)));
  const chosen = pickWeighted(weights, turns, `${id}#${kind}${index}`);
  if (chosen === undefined) throw new ServiceUnreachable(503, `VirtualService ${id} ${kind} route ${route.name ?? index} gives every destination weight 0`);
  const destination = destinations[chosen]!.destination as Obj;
  const target = resolveHost(client, String(destination.host), vsNamespace);
  if (target?.kind !== 'service') throw new ServiceUnreachable(503, `VirtualService ${id} routes to host ${destination.host}, which is no Service in this cluster (resolved from namespace ${vsNamespace})`);
  const targetService = client.get('v1', 'Service', target.namespace, target.name)!;
  const targetPort = destinationPort(targetService, destination.port?.number as number | undefined, service, port, id);
  if (!destination.subset) return { virtualService: id, service: targetService, port: targetPort };
  const subset = findSubset(client, `${target.name}.${target.namespace}${DOMAIN_SUFFIX}`, String(destination.subset), [call.namespace, vsNamespace, target.namespace, ROOT_NAMESPACE], id);
  return { virtualService: id, service: targetService, port: targetPort, subset };
}

/** Every label of `selector` is on the endpoint, as a DestinationRule subset selects. */
export function subsetSelects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/**
 * The labels Istio gives an endpoint: a pod's own labels plus the cluster it runs in; an
 * east-west gateway's address (the remote cluster's endpoints behind it) only its cluster.
 */
export function endpointLabels(client: ControllerClient, endpoint: { pod?: { namespace: string; name: string }; gateway?: { cluster: string } }, cluster: string): Record<string, string> {
  if (endpoint.gateway) return { [CLUSTER_LABEL]: endpoint.gateway.cluster };
  const pod = endpoint.pod ? client.get('v1', 'Pod', endpoint.pod.namespace, endpoint.pod.name) : undefined;
  return { ...(pod?.metadata.labels ?? {}), [CLUSTER_LABEL]: cluster };
}

/** The VirtualService bound to the mesh for `fqdn`, visible from the caller's namespace: exact hosts before wildcards, then the oldest (Istio's tie-break). */
function virtualServiceFor(client: ControllerClient, fqdn: string, callerNamespace: string | undefined): KubeObject | undefined {
  let best: { object: KubeObject; exact: boolean } | undefined;
  for (const object of listIstio(client, 'VirtualService')) {
    const spec = (object.spec ?? {}) as Obj;
    const gateways = spec.gateways as string[] | undefined;
    if (gateways && gateways.length > 0 && !gateways.includes('mesh')) continue;
    if (!exported(spec.exportTo as string[] | undefined, object.metadata.namespace ?? 'default', callerNamespace)) continue;
    const hosts = ((spec.hosts ?? []) as string[]).map((host) => qualify(host, object.metadata.namespace ?? 'default'));
    const exact = hosts.includes(fqdn);
    if (!exact && !hosts.some((host) => wildcardMatches(host, fqdn))) continue;
    if (!best || (exact && !best.exact) || (exact === best.exact && older(object, best.object))) best = { object, exact };
  }
  return best?.object;
}

function listIstio(client: ControllerClient, kind: string): KubeObject[] {
  // Whichever version is served (none without Istio's CRDs); one storage per resource, so it lists every object.
  const apiVersion = ISTIO_VERSIONS.find((version) => client.service.registry.byKind(version, kind) !== undefined);
  return apiVersion ? client.list(apiVersion, kind) : [];
}

/** A VirtualService or DestinationRule host as Istio reads it, made a cluster FQDN: `svc` in the object's namespace; `svc.ns` and `svc.ns.svc` too (the lab is lenient there). */
function qualify(host: string, namespace: string): string {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === '*' || name.startsWith('*.')) return name;
  if (name.endsWith(DOMAIN_SUFFIX)) return name;
  const labels = name.split('.');
  if (labels.length === 1) return `${name}.${namespace}${DOMAIN_SUFFIX}`;
  if (labels.length === 2) return `${name}${DOMAIN_SUFFIX}`;
  if (labels.length === 3 && labels[2] === 'svc') return `${name}.cluster.local`;
  return name;
}

function wildcardMatches(host: string, fqdn: string): boolean {
  if (host === '*') return true;
  return host.startsWith('*.') && fqdn.endsWith(host.slice(1));
}

function exported(exportTo: string[] | undefined, ownNamespace: string, callerNamespace: string | undefined): boolean {
  if (!exportTo || exportTo.length === 0 || exportTo.includes('*')) return true;
  if (callerNamespace === undefined) return false;
  return exportTo.some((entry) => (entry === '.' ? ownNamespace === callerNamespace : entry === callerNamespace));
}

function older(a: KubeObject, b: KubeObject): boolean {
  const at = a.metadata.creationTimestamp ?? '';
  const bt = b.metadata.creationTimestamp ?? '';
  if (at !== bt) return at < bt;
  return `${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}`;
}

/** Match blocks are ORed, the conditions within one ANDed; no block matches everything. */
function matchesAny(matches: Obj[] | undefined, port: number, call: MeshCall): boolean {
  if (!matches || matches.length === 0) return true;
  return matches.some((match) => matches1(match, port, call));
}

/** The request fields a match can test, for telling whether a connection can be routed by it. */
const REQUEST_CONDITIONS = ['uri', 'scheme', 'method', 'authority', 'headers', 'withoutHeaders', 'queryParams'];
const CONNECTION_CONDITIONS = ['port', 'sourceLabels', 'sourceNamespace', 'gateways'];
const IGNORED = ['name', 'ignoreUriCase', 'statPrefix', 'destinationSubnets'];

function matches1(match: Obj, port: number, call: MeshCall): boolean {
  for (const key of Object.keys(match)) {
    // A condition the lab cannot evaluate (sniHosts, ...) never matches, rather than matching everything.
    if (!REQUEST_CONDITIONS.includes(key) && !CONNECTION_CONDITIONS.includes(key) && !IGNORED.includes(key)) return false;
  }
  if (Array.isArray(match.gateways) && match.gateways.length > 0 && !match.gateways.includes('mesh')) return false;
  if (match.port !== undefined && Number(match.port) !== port) return false;
  if (match.sourceNamespace !== undefined && match.sourceNamespace !== call.namespace) return false;
  if (match.sourceLabels && !subsetSelects(match.sourceLabels as Record<string, string>, call.labels ?? {})) return false;
  const needsRequest = REQUEST_CONDITIONS.some((key) => match[key] !== undefined);
  if (!needsRequest) return true;
  const request = call.request;
  if (!request) return false;
  const path = request.path.split('?')[0] ?? '/';
  if (match.uri && !stringMatches(match.uri as Obj, path, match.ignoreUriCase === true)) return false;
  if (match.scheme && !stringMatches(match.scheme as Obj, request.scheme)) return false;
  if (match.method && !stringMatches(match.method as Obj, request.method)) return false;
  if (match.authority && !stringMatches(match.authority as Obj, request.authority)) return false;
  for (const [name, condition] of Object.entries((match.headers ?? {}) as Record<string, Obj>)) {
    const value = headerValue(request.headers, name);
    if (value === undefined || !stringMatches(condition, value)) return false;
  }
  for (const [name, condition] of Object.entries((match.withoutHeaders ?? {}) as Record<string, Obj>)) {
    const value = headerValue(request.headers, name);
    if (value !== undefined && stringMatches(condition, value)) return false;
  }
  if (match.queryParams) {
    const query = new URLSearchParams(request.path.includes('?') ? request.path.slice(request.path.indexOf('?') + 1) : '');
    for (const [name, condition] of Object.entries(match.queryParams as Record<string, Obj>)) {
      const value = query.get(name);
      if (value === null || !stringMatches(condition, value)) return false;
    }
  }
  return true;
}

function headerValue(headers: MeshRequest['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Istio's StringMatch: exact, prefix or regex (RE2, whole string); an empty one matches any value (presence). */
function stringMatches(condition: Obj, value: string, ignoreCase = false): boolean {
  const fold = (text: string) => (ignoreCase ? text.toLowerCase() : text);
  if (typeof condition.exact === 'string') return fold(value) === fold(condition.exact);
  if (typeof condition.prefix === 'string') return fold(value).startsWith(fold(condition.prefix));
  if (typeof condition.regex === 'string') {
    try {
      return new RegExp(`^(?:${condition.regex})$`, ignoreCase ? 'i' : '').test(value);
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Smooth weighted round-robin (nginx's): exact shares over every run of calls, where Envoy
 * picks at random with the same weights — the same split over many calls, without the noise.
 */
function pickWeighted(weights: number[], turns: Map<string, number[]>, key: string): number | undefined {
  const total = weights.reduce((sum, weight) => sum + Math.max(0, weight), 0);
  if (total <= 0) return undefined;
  const stateKey = `${key}@${weights.join(',')}`;
  const current = turns.get(stateKey) ?? weights.map(() => 0);
  let best = -1;
  for (let i = 0; i < weights.length; i++) {
    current[i]! += Math.max(0, weights[i]!);
    if (weights[i]! > 0 && (best === -1 || current[i]! > current[best]!)) best = i;
  }
  current[best]! -= total;
  turns.set(stateKey, current);
  return best;
}

/** The destination Service's port: `port.number`, else the called port when it is the called Service, else the same number or its only port. */
function destinationPort(target: KubeObject, number: number | undefined, called: KubeObject, calledPort: ServicePort, id: string): ServicePort {
  try {
    if (number !== undefined) return findServicePort(target, number);
    if (target.metadata.uid === called.metadata.uid) return calledPort;
    return findServicePort(target, calledPort.port);
  } catch (error) {
    const ports = (((target.spec as Obj | undefined)?.ports ?? []) as Obj[]);
    if (number === undefined && ports.length === 1) return findServicePort(target, Number(ports[0]!.port));
    throw new ServiceUnreachable(503, `VirtualService ${id}: ${(error as Error).message}`);
  }
}

/**
 * The subset among the DestinationRules for `fqdn` of the first namespace that has any — the
 * caller's, the VirtualService's, the host's, then the root namespace (Istio's lookup order);
 * several rules of one namespace merge their subsets, the oldest first (as Istio merges them).
 */
function findSubset(client: ControllerClient, fqdn: string, name: string, namespaces: Array<string | undefined>, id: string): NonNullable<MeshRoute['subset']> {
  const rules = listIstio(client, 'DestinationRule').filter((rule) => {
    const host = qualify(String((rule.spec as Obj | undefined)?.host ?? ''), rule.metadata.namespace ?? 'default');
    return host === fqdn || wildcardMatches(host, fqdn);
  });
  const order = [...new Set(namespaces.filter((ns): ns is string => ns !== undefined))];
  const namespace = order.find((ns) => rules.some((rule) => rule.metadata.namespace === ns));
  if (namespace === undefined) throw new ServiceUnreachable(503, `VirtualService ${id} routes to subset ${name} of ${fqdn}, but no DestinationRule for that host is in namespace ${order.join(', ')}`);
  const merged = rules.filter((rule) => rule.metadata.namespace === namespace).sort((a, b) => (older(a, b) ? -1 : 1));
  for (const rule of merged) {
    const subset = (((rule.spec as Obj | undefined)?.subsets ?? []) as Obj[]).find((entry) => entry.name === name);
    if (subset) return { name, labels: (subset.labels ?? {}) as Record<string, string>, destinationRule: `${rule.metadata.namespace}/${rule.metadata.name}` };
  }
  throw new ServiceUnreachable(503, `VirtualService ${id} routes to subset ${name} of ${fqdn}, which no DestinationRule for that host in namespace ${namespace} defines (${merged.map((rule) => rule.metadata.name).join(', ')})`);
}
