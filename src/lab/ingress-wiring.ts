import type { IncomingHttpHeaders } from 'node:http';
import type { KubeObject } from '../kube/object.js';
import type { ControllerClient } from './controllers/client.js';
import { matchIngress, type IngressBackendRef } from './workloads/ingress-routes.js';
import { startClusterIngress, type ClusterIngress, type IngressEndpoint, type IngressTarget } from './workloads/ingress.js';

/**
 * "The cluster's address": an ingress proxy on loopback that serves the cluster's Ingress
 * rules from its own store, sending each request to a ready endpoint of the Service the
 * rule names, the way ingress-nginx reads Ingresses and Endpoints — canary Ingresses
 * included (below) — and exporting ingress-nginx's request metrics at `metricsUrl`.
 */
export function startLabIngress(cluster: string, client: ControllerClient, host = '127.0.0.1', random: () => number = Math.random): Promise<ClusterIngress> {
  return startClusterIngress({
    cluster,
    host,
    resolve: (requestHost, path, headers) => routeIngress(client, requestHost, path, headers, random),
  });
}

const CANARY = 'nginx.ingress.kubernetes.io/canary';

/**
 * ingress-nginx's canary (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#canary),
 * the part Ferry's ingress-nginx provider writes: an Ingress annotated `canary: "true"` for
 * the same host and path as a primary takes `canary-weight` of `canary-weight-total` (100) of
 * its requests; the `canary-by-cookie` cookie set to "always" or "never" overrides the weight.
 * As in ingress-nginx, the canary is merged into the primary's location: requests are labelled
 * with the primary Ingress, and those the canary served with `canary` = its upstream name.
 */
export function routeIngress(client: ControllerClient, requestHost: string, path: string, headers: IncomingHttpHeaders, random: () => number = Math.random): IngressTarget | undefined {
  const ingresses = client.list('networking.k8s.io/v1', 'Ingress');
  const primaries = ingresses.filter((ingress) => annotation(ingress, CANARY) !== 'true');
  const ref = matchIngress(primaries, requestHost, path);
  if (!ref) return undefined;
  // matchIngress ranks the rules; the primary is the Ingress whose own best match is that rule.
  const primary = primaries.find((ingress) => sameRef(matchIngress([ingress], requestHost, path), ref));
  const canary = ingresses.find((ingress) => annotation(ingress, CANARY) === 'true' && (ingress.metadata.namespace ?? 'default') === ref.namespace && matchIngress([ingress], requestHost, path) !== undefined);
  const canaryRef = canary ? matchIngress([canary], requestHost, path) : undefined;
  const chosen = canary && canaryRef && takesCanary(canary, headers, random) ? canaryRef : ref;
  return {
    endpoints: serviceEndpoints(client, chosen.namespace, chosen.service, chosen.port),
    namespace: ref.namespace,
    ingress: primary?.metadata.name ?? '',
    service: chosen.service,
    canary: chosen === ref ? '' : `${chosen.namespace}-${chosen.service}-${chosen.port}`,
  };
}

function takesCanary(canary: KubeObject, headers: IncomingHttpHeaders, random: () => number): boolean {
  const cookieName = annotation(canary, `${CANARY}-by-cookie`);
  if (cookieName) {
    const value = cookieValue(headers.cookie, cookieName);
    if (value === 'always') return true;
    if (value === 'never') return false;
  }
  const weight = Number(annotation(canary, `${CANARY}-weight`) ?? 0);
  const total = Number(annotation(canary, `${CANARY}-weight-total`) ?? 100);
  if (!(weight > 0) || !(total > 0)) return false;
  return random() * total < weight;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

function annotation(object: KubeObject, name: string): string | undefined {
  return (object.metadata.annotations as Record<string, string> | undefined)?.[name];
}

function sameRef(a: IngressBackendRef | undefined, b: IngressBackendRef): boolean {
  return a !== undefined && a.namespace === b.namespace && a.service === b.service && a.port === b.port;
}

/** Ready addresses of a Service port, from its Endpoints (ports mapped to the pods' host ports). */
export function serviceEndpoints(client: ControllerClient, namespace: string, name: string, port: number | string | undefined): IngressEndpoint[] {
  const service = client.get('v1', 'Service', namespace, name);
  const endpoints = client.get('v1', 'Endpoints', namespace, name);
  if (!service || !endpoints) return [];
  const servicePorts = ((service.spec as any)?.ports ?? []) as Array<{ name?: string; port: number }>;
  const wanted = servicePorts.find((p) => p.port === port || (p.name !== undefined && p.name === port)) ?? servicePorts[0];
  const result: IngressEndpoint[] = [];
  for (const subset of ((endpoints as KubeObject & { subsets?: any[] }).subsets ?? [])) {
    const subsetPort = (subset.ports ?? []).find((p: any) => (wanted?.name ? p.name === wanted.name : true));
    if (!subsetPort) continue;
    for (const address of subset.addresses ?? []) result.push({ host: address.ip, port: subsetPort.port });
  }
  return result;
}
