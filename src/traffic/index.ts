import { FerryError } from '../util/errors.js';
import type { ClusterObjects } from './cluster-objects.js';
import { GatewayApiProvider } from './gateway-api.js';
import { HaproxyProvider } from './haproxy.js';
import { IngressNginxProvider } from './ingress-nginx.js';
import { IstioProvider } from './istio.js';
import { PowerdnsProvider } from './powerdns.js';
import { trafficProviderSchema, type TrafficProviderConfig } from './provider-config.js';
import type { TrafficProvider } from './provider.js';
import { Route53Provider } from './route53.js';
import { RouterProvider } from './router.js';

export type { TrafficProvider, TrafficWeights, MirrorSetting, TrafficStatus, TrafficProviderType } from './provider.js';
export { setAndVerifyWeight } from './provider.js';
export { trafficProviderSchema, type TrafficProviderConfig } from './provider-config.js';
export { startRouter, type Router, type RouterOptions } from './proxy/server.js';
export type { ResponseObservation, ResponseListener } from './proxy/metrics.js';
export type { CertificateView, TlsMaterial } from './proxy/tls.js';

export interface ProviderDependencies {
  /** The target-side cluster for Kubernetes-object providers (kubeClusterObjects(kubeConfig)). */
  cluster?: ClusterObjects;
  /** Where secrets named by `tokenEnv` / `apiKeyEnv` are read; process.env by default. */
  env?: Record<string, string | undefined>;
}

/** Picks the provider module for a slice's `traffic.provider` block: one line per product. */
export function createTrafficProvider(input: TrafficProviderConfig | unknown, deps: ProviderDependencies = {}): TrafficProvider {
  const parsed = trafficProviderSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new FerryError('config', issue.message, {
      location: { field: ['traffic', 'provider', ...issue.path].map(String).join('.') },
      fix: 'see docs/architecture.md (Traffic) for each provider\'s settings',
    });
  }
  const config = parsed.data;
  const env = deps.env ?? process.env;
  switch (config.type) {
    case 'router': return new RouterProvider(config, env[config.tokenEnv]);
    case 'haproxy': return new HaproxyProvider(config);
    case 'istio': return new IstioProvider(config, needCluster(deps, config.type));
    case 'gateway-api': return new GatewayApiProvider(config, needCluster(deps, config.type));
    case 'ingress-nginx': return new IngressNginxProvider(config, needCluster(deps, config.type));
    case 'powerdns': return new PowerdnsProvider(config, env[config.apiKeyEnv]);
    case 'route53': return new Route53Provider(config);
  }
}

function needCluster(deps: ProviderDependencies, type: string): ClusterObjects {
  if (!deps.cluster) throw new FerryError('usage', `the ${type} provider needs a cluster to write to`, { fix: 'pass the target context (--context) so Ferry can reach the cluster' });
  return deps.cluster;
}
