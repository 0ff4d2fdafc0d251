import { FerryError } from '../util/errors.js';
import { BRIDGE_LABEL, type BridgePort, type BridgeProviderType, type BridgeSpec, type GatewayAddress, type ClusterSide } from './bridge.js';
import type { BridgeClusters } from './cluster.js';
import { BRIDGED_SELECTOR_ANNOTATION } from './endpoints.js';
import { findGateway } from './gateway.js';
import type { PlannedBridge } from './plan.js';
import type { BridgesSettings } from './schema.js';

type Obj = Record<string, any>;

/**
 * A planned bridge made concrete: the callee's ports (and pod hostnames, when headless) read
 * from its Service on the serving cluster, and that cluster's east-west gateway. Refuses when
 * the callee does not serve there, in particular when its Service there is itself a bridge:
 * bridging back to it would send calls around in a loop between the gateways.
 */
export async function resolveBridgeSpec(planned: PlannedBridge, clusters: BridgeClusters, settings: Partial<BridgesSettings> = {}, gateways: Partial<Record<ClusterSide, GatewayAddress>> = {}): Promise<BridgeSpec> {
  const serving = clusters[planned.servingCluster];
  const what = `Service ${planned.namespace}/${planned.service}`;
  const service = await serving.get({ apiVersion: 'v1', kind: 'Service', namespace: planned.namespace, name: planned.service });
  const spec = (service?.spec ?? {}) as Obj;
  const isBridge = service !== undefined && Object.keys(spec.selector ?? {}).length === 0
    && (service.metadata.labels?.[BRIDGE_LABEL] !== undefined || service.metadata.annotations?.[BRIDGED_SELECTOR_ANNOTATION] !== undefined);
  if (!service || isBridge) {
    throw new FerryError('bridge', `${what} does not serve on the ${planned.servingCluster} cluster ("${serving.context}"): ${service ? 'it is itself a bridge to the other cluster, so bridging to it would loop' : 'it is not there'}`, {
      location: { object: what },
      fix: planned.when === 'before-callee-retired'
        ? `bridge the ${planned.callerCluster} cluster's ${planned.service} only once slice ${planned.calleeSlice} serves on the ${planned.servingCluster} cluster`
        : `check that slice ${planned.calleeSlice} still runs on the ${planned.servingCluster} cluster`,
    });
  }
  const ports: BridgePort[] = ((spec.ports ?? []) as Obj[]).map((port) => ({
    ...(port.name ? { name: port.name as string } : {}),
    port: Number(port.port),
    protocol: (port.protocol ?? 'TCP') as BridgePort['protocol'],
    ...(port.appProtocol ? { appProtocol: port.appProtocol as string } : {}),
  }));
  if (ports.length === 0) {
    throw new FerryError('bridge', `${what} on the ${planned.servingCluster} cluster has no ports to bridge`, { location: { object: what }, fix: 'give the Service its ports' });
  }
  const gateway = gateways[planned.servingCluster] ?? await findGateway(serving, {
    side: planned.servingCluster,
    ...(settings.gateways?.[planned.servingCluster] ? { explicit: settings.gateways[planned.servingCluster] } : {}),
    ...(settings.gatewayService ? { service: settings.gatewayService } : {}),
    ...(settings.provider && settings.provider !== 'none' ? { provider: settings.provider as BridgeProviderType } : {}),
  });
  const headless = spec.clusterIP === 'None' ? { hostnames: await podHostnames(clusters, planned) } : undefined;
  return {
    namespace: planned.namespace,
    service: planned.service,
    ports,
    callerCluster: planned.callerCluster,
    servingCluster: planned.servingCluster,
    gateway,
    ...(headless ? { headless } : {}),
    callers: planned.callers,
  };
}

/** The pod hostnames behind a headless Service (StatefulSet members), from its Endpoints on the serving cluster. */
async function podHostnames(clusters: BridgeClusters, planned: PlannedBridge): Promise<string[]> {
  const endpoints = await clusters[planned.servingCluster].get({ apiVersion: 'v1', kind: 'Endpoints', namespace: planned.namespace, name: planned.service });
  const names = new Set<string>();
  for (const subset of ((endpoints?.subsets ?? []) as Obj[])) {
    for (const address of [...((subset.addresses ?? []) as Obj[]), ...((subset.notReadyAddresses ?? []) as Obj[])]) {
      // A StatefulSet pod's hostname is its name; the lab's endpoints carry only targetRef.
      const name = (address.hostname ?? (address.targetRef?.kind === 'Pod' ? address.targetRef.name : undefined)) as string | undefined;
      if (name) names.add(name);
    }
  }
  return [...names].sort();
}
