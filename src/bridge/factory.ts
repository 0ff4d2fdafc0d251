import type { KubeClient } from '../kube/client.js';
import { FerryError } from '../util/errors.js';
import type { BridgeProviderType, ClusterSide, ServiceBridge } from './bridge.js';
import { kubeBridgeObjects, type BridgeClusters } from './cluster.js';
import { EndpointsBridge } from './endpoints.js';
import { IstioBridge, type IstioBridgeConfig } from './istio.js';
import { McsBridge, type McsBridgeConfig } from './mcs.js';

/** Provider settings (the plan's `spec.bridges.mcs` and `.istio`). */
export interface ServiceBridgeConfig {
  mcs?: McsBridgeConfig;
  istio?: IstioBridgeConfig;
}

export function createServiceBridge(type: BridgeProviderType, clusters: BridgeClusters, config: ServiceBridgeConfig = {}): ServiceBridge {
  switch (type) {
    case 'endpoints':
      return new EndpointsBridge(clusters);
    case 'mcs':
      return new McsBridge(clusters, config.mcs);
    case 'istio':
      return new IstioBridge(clusters, config.istio);
    default:
      throw new FerryError('config', `spec.bridges.provider: unknown bridge provider "${String(type)}"`, { location: { field: 'spec.bridges.provider' }, fix: 'use endpoints, mcs, istio or none' });
  }
}

/** Both clusters' object access from the run's REST clients. */
export function bridgeClusters(clients: Record<ClusterSide, KubeClient>): BridgeClusters {
  return { source: kubeBridgeObjects(clients.source), target: kubeBridgeObjects(clients.target) };
}
