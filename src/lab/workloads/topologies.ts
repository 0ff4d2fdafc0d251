/**
 * Applications built from the call-graph app (`ferry.dev/callgraph`) for tests and the demo.
 * `callGraphManifests` is Online Boutique's shape: eleven services with its names, ports and
 * call edges, the cart's Redis as a StatefulSet reached by its pod's DNS name, and the
 * frontend published by a LoadBalancer Service as upstream does.
 */
import type { KubeObject } from '../../kube/object.js';

export interface CallGraphOptions {
  namespace: string;
  /** How the services call each other (default http). Each serves both on its port anyway. */
  protocol?: 'http' | 'grpc';
  /** The image tag, which the app reports as its version (default v1). */
  version?: string;
  /** Replicas of each Deployment (default 1; the StatefulSet always has one). */
  replicas?: number;
}

interface ServiceSpec {
  name: string;
  port: number;
  /** Callees as [service, DNS form]; the form decides how the URL is spelled in CALLS. */
  calls: Array<[string, DnsForm]>;
}

/** short `cart`, `cart.ns`, `cart.ns.svc`, FQDN `cart.ns.svc.cluster.local`, StatefulSet pod `redis-cart-0.redis-cart.ns.svc.cluster.local`. */
type DnsForm = 'short' | 'namespaced' | 'svc' | 'fqdn' | 'pod';

/** Online Boutique's services and who calls whom (https://github.com/GoogleCloudPlatform/microservices-demo). */
const BOUTIQUE: ServiceSpec[] = [
  {
    name: 'frontend',
    port: 80,
    calls: [['productcatalogservice', 'short'], ['currencyservice', 'short'], ['cartservice', 'short'], ['recommendationservice', 'namespaced'], ['shippingservice', 'svc'], ['checkoutservice', 'fqdn'], ['adservice', 'short']],
  },
  {
    name: 'checkoutservice',
    port: 5050,
    calls: [['paymentservice', 'namespaced'], ['emailservice', 'fqdn'], ['shippingservice', 'short'], ['currencyservice', 'svc'], ['cartservice', 'short'], ['productcatalogservice', 'namespaced']],
  },
  { name: 'recommendationservice', port: 8080, calls: [['productcatalogservice', 'fqdn']] },
  { name: 'cartservice', port: 7070, calls: [['redis-cart', 'pod']] },
  { name: 'productcatalogservice', port: 3550, calls: [] },
  { name: 'currencyservice', port: 7000, calls: [] },
  { name: 'shippingservice', port: 50051, calls: [] },
  { name: 'adservice', port: 9555, calls: [] },
  { name: 'paymentservice', port: 50051, calls: [] },
  { name: 'emailservice', port: 5000, calls: [] },
];
const REDIS = { name: 'redis-cart', port: 6379 };
/** The Service clients would use for Redis, beside the headless one that gives its pod a DNS name. */
const REDIS_PRIMARY = 'redis-cart-primary';
/** checkoutservice reads its CALLS from this ConfigMap by configMapKeyRef (a channel the graph reads; a mounted file it cannot). */
const CHECKOUT_CALLS = 'checkoutservice-calls';

/** Who calls whom in `callGraphManifests`, by Service name (redis-cart reached through its pod). */
export function callGraphEdges(): Array<{ caller: string; callee: string }> {
  return BOUTIQUE.flatMap((service) => service.calls.map(([callee]) => ({ caller: service.name, callee })));
}

/** The services of `callGraphManifests`, callers first. */
export function callGraphServices(): string[] {
  return [...BOUTIQUE.map((service) => service.name), REDIS.name];
}

export function callGraphManifests(options: CallGraphOptions): KubeObject[] {
  const { namespace } = options;
  const protocol = options.protocol ?? 'http';
  const version = options.version ?? 'v1';
  const replicas = options.replicas ?? 1;
  const portOf = (name: string) => (name === REDIS.name ? REDIS.port : BOUTIQUE.find((service) => service.name === name)!.port);
  const url = ([callee, form]: [string, DnsForm]): string => {
    const host = {
      short: callee,
      namespaced: `${callee}.${namespace}`,
      svc: `${callee}.${namespace}.svc`,
      fqdn: `${callee}.${namespace}.svc.cluster.local`,
      pod: `${callee}-0.${callee}.${namespace}.svc.cluster.local`,
    }[form];
    return `${protocol}://${host}:${portOf(callee)}`;
  };
  const objects: KubeObject[] = [];
  for (const service of BOUTIQUE) {
    const calls = service.calls.map(url).join(',');
    const fromConfigMap = service.name === 'checkoutservice';
    if (fromConfigMap) {
      objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: CHECKOUT_CALLS, namespace, labels: { app: service.name } }, data: { CALLS: calls } });
    }
    const env = [
      { name: 'SERVICE_NAME', value: service.name },
      { name: 'PROTOCOL', value: protocol },
      fromConfigMap ? { name: 'CALLS', valueFrom: { configMapKeyRef: { name: CHECKOUT_CALLS, key: 'CALLS' } } } : { name: 'CALLS', value: calls },
    ];
    objects.push(deployment(namespace, service.name, replicas, container(service.name, service.port, version, protocol, env)));
    objects.push(clusterService(namespace, service.name, service.port, protocol, service.name, service.name === 'frontend' ? 'http' : undefined));
  }
  if (BOUTIQUE.some((service) => service.name === 'frontend')) {
    // As upstream's frontend-external: how users reach the shop.
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'frontend-external', namespace, labels: { app: 'frontend' } },
      spec: { type: 'LoadBalancer', selector: { app: 'frontend' }, ports: [{ name: 'http', port: 80, targetPort: 80 }] },
    });
  }
  const redisContainer = container(REDIS.name, REDIS.port, version, protocol, [{ name: 'SERVICE_NAME', value: REDIS.name }, { name: 'PROTOCOL', value: protocol }]);
  objects.push({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: REDIS.name, namespace, labels: { app: REDIS.name } },
    spec: {
      serviceName: REDIS.name,
      replicas: 1,
      selector: { matchLabels: { app: REDIS.name } },
      template: { metadata: { labels: { app: REDIS.name, version } }, spec: { containers: [redisContainer] } },
    },
  });
  objects.push({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: REDIS.name, namespace, labels: { app: REDIS.name } },
    spec: { clusterIP: 'None', selector: { app: REDIS.name }, ports: [{ name: 'tcp-redis', port: REDIS.port, targetPort: REDIS.port }] },
  });
  objects.push(clusterService(namespace, REDIS_PRIMARY, REDIS.port, protocol, REDIS.name, 'tcp-redis'));
  return objects;
}

function container(name: string, port: number, version: string, protocol: 'http' | 'grpc', env: unknown[]): Record<string, unknown> {
  // The app answers HTTP health and grpc.health.v1 on the same port; probe the way the services are spoken to.
  const probe = protocol === 'grpc' ? { grpc: { port } } : { httpGet: { path: '/readyz', port } };
  return {
    name: 'server',
    image: `ferry.dev/callgraph:${version}`,
    ports: [{ name: protocol === 'grpc' && name !== 'frontend' ? 'grpc' : 'http', containerPort: port }],
    env,
    readinessProbe: { ...probe, periodSeconds: 2 },
    livenessProbe: { httpGet: { path: '/healthz', port }, periodSeconds: 10, initialDelaySeconds: 5 },
  };
}

function deployment(namespace: string, name: string, replicas: number, podContainer: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name, version: String((podContainer.image as string).split(':')[1]) } }, spec: { containers: [podContainer] } },
    },
  };
}

function clusterService(namespace: string, name: string, port: number, protocol: 'http' | 'grpc', app = name, portName = protocol === 'grpc' ? 'grpc' : 'http'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels: { app } },
    spec: { type: 'ClusterIP', selector: { app }, ports: [{ name: portName, port, targetPort: port }] },
  };
}
