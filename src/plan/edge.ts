import { apiGroup, describeObject, type KubeObject } from '../kube/object.js';
import { compareStrings } from '../util/stable.js';

/**
 * Which slices users reach from outside the cluster, read from the slice's own objects, and
 * the names a traffic provider's settings are derived from. Pure: objects in, facts out.
 */
export interface SliceEdge {
  /** Why the slice is at the edge, e.g. "Service default/frontend-external is a LoadBalancer". Empty: only other services call it. */
  reasons: string[];
  /** The Service users' requests end at: the one a route names, else the LoadBalancer/NodePort one, else the first. */
  service?: { name: string; port?: number };
  /** The host users ask for, from the slice's Ingress, HTTPRoute or VirtualService. */
  host?: string;
  ingress?: { name: string; ingressClassName?: string };
  httpRoute?: { name: string; parentRefs: Array<{ name: string; namespace?: string; sectionName?: string }>; hostnames: string[] };
  virtualService?: { name: string; hosts: string[]; gateways?: string[] };
}

const EDGE_SERVICE_TYPES = new Set(['LoadBalancer', 'NodePort']);

interface ServicePort { name?: string; port?: number }
interface BackendRef { name: string; port?: number | string }

export function sliceEdge(members: readonly KubeObject[]): SliceEdge {
  const sorted = [...members].sort((a, b) => compareStrings(a.kind, b.kind) || compareStrings(a.metadata.name, b.metadata.name));
  const services = sorted.filter((o) => o.kind === 'Service' && apiGroup(o.apiVersion) === '');
  const ingresses = sorted.filter((o) => o.kind === 'Ingress' && ['networking.k8s.io', 'extensions'].includes(apiGroup(o.apiVersion)));
  const httpRoutes = sorted.filter((o) => o.kind === 'HTTPRoute' && apiGroup(o.apiVersion) === 'gateway.networking.k8s.io');
  const virtualServices = sorted.filter((o) => o.kind === 'VirtualService' && apiGroup(o.apiVersion) === 'networking.istio.io');

  const reasons = [
    ...ingresses.map((o) => `${describeObject(o)} routes to it`),
    ...httpRoutes.map((o) => `${describeObject(o)} routes to it`),
    ...virtualServices.map((o) => `${describeObject(o)} routes to it`),
    ...services.filter((o) => EDGE_SERVICE_TYPES.has(serviceType(o))).map((o) => `${describeObject(o)} is a ${serviceType(o)}`),
  ];

  const ingress = ingresses[0];
  const httpRoute = httpRoutes[0];
  const virtualService = virtualServices[0];
  const backends = [...ingresses.flatMap(ingressBackends), ...httpRoutes.flatMap(httpRouteBackends), ...virtualServices.flatMap(virtualServiceBackends)];
  const routed = backends.map((ref) => ({ ref, service: services.find((s) => s.metadata.name === ref.name) })).find((pair) => pair.service);
  const service = routed?.service ?? services.find((o) => EDGE_SERVICE_TYPES.has(serviceType(o))) ?? services[0];
  const host = [
    ...ingresses.flatMap((o) => ((spec(o).rules as Array<{ host?: string }> | undefined) ?? []).map((rule) => rule.host)),
    ...httpRoutes.flatMap((o) => (spec(o).hostnames as string[] | undefined) ?? []),
    ...virtualServices.flatMap((o) => (spec(o).hosts as string[] | undefined) ?? []),
  ].find((name): name is string => typeof name === 'string' && name.includes('.') && !name.includes('*'));

  return {
    reasons,
    ...(service ? { service: { name: service.metadata.name, ...portOf(service, routed?.ref.port) } } : {}),
    ...(host ? { host } : {}),
    ...(ingress ? { ingress: { name: ingress.metadata.name, ...(typeof spec(ingress).ingressClassName === 'string' ? { ingressClassName: spec(ingress).ingressClassName as string } : {}) } } : {}),
    ...(httpRoute
      ? {
          httpRoute: {
            name: httpRoute.metadata.name,
            parentRefs: ((spec(httpRoute).parentRefs as Array<{ name?: string; namespace?: string; sectionName?: string }> | undefined) ?? [])
              .filter((ref): ref is { name: string; namespace?: string; sectionName?: string } => typeof ref.name === 'string')
              .map((ref) => ({ name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}), ...(ref.sectionName ? { sectionName: ref.sectionName } : {}) })),
            hostnames: (spec(httpRoute).hostnames as string[] | undefined) ?? [],
          },
        }
      : {}),
    ...(virtualService
      ? {
          virtualService: {
            name: virtualService.metadata.name,
            hosts: (spec(virtualService).hosts as string[] | undefined) ?? [],
            ...(Array.isArray(spec(virtualService).gateways) ? { gateways: spec(virtualService).gateways as string[] } : {}),
          },
        }
      : {}),
  };
}

function spec(object: KubeObject): Record<string, unknown> {
  return (object.spec as Record<string, unknown> | undefined) ?? {};
}

function serviceType(service: KubeObject): string {
  return (spec(service).type as string | undefined) ?? 'ClusterIP';
}

/** The Service port a route names (number or port name), else the one named http, else the first. */
function portOf(service: KubeObject, wanted: number | string | undefined): { port?: number } {
  const ports = (spec(service).ports as ServicePort[] | undefined) ?? [];
  const port = ports.find((p) => wanted !== undefined && (p.port === wanted || p.name === wanted)) ?? ports.find((p) => p.name === 'http') ?? ports[0];
  return typeof port?.port === 'number' ? { port: port.port } : {};
}

function ingressBackends(ingress: KubeObject): BackendRef[] {
  type Backend = { service?: { name?: string; port?: { number?: number; name?: string } } };
  const s = spec(ingress) as { defaultBackend?: Backend; rules?: Array<{ http?: { paths?: Array<{ backend?: Backend }> } }> };
  const all = [...(s.rules ?? []).flatMap((rule) => (rule.http?.paths ?? []).map((path) => path.backend)), s.defaultBackend];
  return all.flatMap((backend) => (backend?.service?.name ? [{ name: backend.service.name, ...optionalPort(backend.service.port?.number ?? backend.service.port?.name) }] : []));
}

function httpRouteBackends(route: KubeObject): BackendRef[] {
  const rules = (spec(route).rules as Array<{ backendRefs?: Array<{ kind?: string; name?: string; port?: number }> }> | undefined) ?? [];
  return rules.flatMap((rule) => (rule.backendRefs ?? []).filter((ref) => (ref.kind ?? 'Service') === 'Service' && ref.name).map((ref) => ({ name: ref.name!, ...optionalPort(ref.port) })));
}

function virtualServiceBackends(vs: KubeObject): BackendRef[] {
  const http = (spec(vs).http as Array<{ route?: Array<{ destination?: { host?: string; port?: { number?: number } } }> }> | undefined) ?? [];
  // A destination host is `name`, `name.namespace` or a longer FQDN; the Service is its first label.
  return http.flatMap((route) => (route.route ?? []).flatMap((r) => (r.destination?.host ? [{ name: r.destination.host.split('.')[0]!, ...optionalPort(r.destination.port?.number) }] : [])));
}

function optionalPort(port: number | string | undefined): { port?: number | string } {
  return port === undefined ? {} : { port };
}
