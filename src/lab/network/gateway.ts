/**
 * A cluster's east-west gateway as the cluster publishes it: Service
 * `ferry-system/east-west-gateway`, type LoadBalancer, port `tls` at the gateway's real port,
 * `status.loadBalancer.ingress[0].ip` = the gateway's address — the shape of Istio's
 * `istio-system/istio-eastwestgateway`, which is how Ferry finds a cluster's gateway.
 */
import type { KubeObject } from '../../kube/object.js';
import type { ControllerClient } from '../controllers/client.js';

export const GATEWAY_NAMESPACE = 'ferry-system';
export const GATEWAY_SERVICE = 'east-west-gateway';
/** ConfigMap naming the cluster's network addresses, for users and tools outside the lab's process (`ferry lab up`). */
export const NETWORK_CONFIGMAP = 'lab-network';

export interface PublishedNetwork {
  proxyUrl: string;
  metricsUrl: string;
  eastWest: { host: string; port: number };
  clusterIpRange: string | undefined;
}

/** Writes `ferry-system/lab-network`: proxyUrl, metricsUrl, eastWest (host:port), clusterIpRange. */
export function publishNetworkConfigMap(client: ControllerClient, network: PublishedNetwork): void {
  const data = {
    proxyUrl: network.proxyUrl,
    metricsUrl: network.metricsUrl,
    eastWest: `${network.eastWest.host}:${network.eastWest.port}`,
    ...(network.clusterIpRange ? { clusterIpRange: network.clusterIpRange } : {}),
  };
  const existing = client.get('v1', 'ConfigMap', GATEWAY_NAMESPACE, NETWORK_CONFIGMAP);
  if (!existing) client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: NETWORK_CONFIGMAP, namespace: GATEWAY_NAMESPACE, labels: { 'app.kubernetes.io/managed-by': 'ferry-lab' } }, data } as KubeObject);
  else client.update({ ...existing, data } as KubeObject);
}

export function publishGatewayService(client: ControllerClient, gateway: { host: string; port: number }): KubeObject {
  if (!client.get('v1', 'Namespace', undefined, GATEWAY_NAMESPACE)) {
    client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: GATEWAY_NAMESPACE } });
  }
  let service = client.get('v1', 'Service', GATEWAY_NAMESPACE, GATEWAY_SERVICE);
  if (!service) {
    service = client.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: GATEWAY_SERVICE,
        namespace: GATEWAY_NAMESPACE,
        labels: { app: 'east-west-gateway', istio: 'eastwestgateway', 'app.kubernetes.io/managed-by': 'ferry-lab' },
        annotations: { 'lab.ferry.dev/east-west-gateway': `${gateway.host}:${gateway.port}` },
      },
      spec: { type: 'LoadBalancer', ports: [{ name: 'tls', port: gateway.port, targetPort: gateway.port, protocol: 'TCP' }] },
    });
  }
  return client.setStatus(service, { loadBalancer: { ingress: [{ ip: gateway.host }] } });
}
