import type { KubeObject } from '../kube/object.js';
import type { ControllerClient } from './controllers/client.js';
import { matchIngress } from './workloads/ingress-routes.js';
import { startClusterIngress, type ClusterIngress, type IngressEndpoint } from './workloads/ingress.js';

/**
 * "The cluster's address": an ingress proxy on loopback that serves the cluster's Ingress
 * rules from its own store, sending each request to a ready endpoint of the Service the
 * rule names, the way ingress-nginx reads Ingresses and Endpoints.
 */
export function startLabIngress(cluster: string, client: ControllerClient, host = '127.0.0.1'): Promise<ClusterIngress> {
  return startClusterIngress({
    cluster,
    host,
    resolve(requestHost, path) {
      const ref = matchIngress(client.list('networking.k8s.io/v1', 'Ingress'), requestHost, path);
      if (!ref) return undefined;
      return serviceEndpoints(client, ref.namespace, ref.service, ref.port);
    },
  });
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
