import type { KubeClient } from '../kube/client.js';
import type { MigrationPlan } from '../plan/schema.js';
import { toFerryError } from '../util/errors.js';
import type { ClusterSide } from './bridge.js';
import { kubeBridgeObjects } from './cluster.js';
import { findGateway } from './gateway.js';
import type { BridgesSettings } from './schema.js';

export interface BridgesChoice {
  settings: BridgesSettings;
  /** Why bridges are off, when they are: said to the user by `ferry plan`. */
  warning?: string;
}

/**
 * What `ferry plan` writes as `spec.bridges`. Asked for a provider, that one. Otherwise the
 * default (endpoints) when both clusters publish an east-west gateway; when one does not, no
 * bridges — a plan that would fail at its first caller's apply is no default — and a warning
 * that names the calls that will cross clusters unbridged and how to turn bridges on.
 */
export async function chooseBridges(plan: MigrationPlan, clients: Partial<Record<ClusterSide, KubeClient>>, asked?: BridgesSettings['provider']): Promise<BridgesChoice> {
  if (asked) return { settings: { provider: asked } };
  const crossing = new Set(plan.spec.waves.flatMap((wave) => wave.crossClusterCalls.map((call) => `${call.from}→${call.to}`)));
  if (crossing.size === 0) return { settings: { provider: 'endpoints' } };
  const missing: string[] = [];
  for (const side of ['source', 'target'] as const) {
    const client = clients[side];
    if (!client) {
      missing.push(`the ${side} is read from files`);
      continue;
    }
    await findGateway(kubeBridgeObjects(client), { side }).catch((error: unknown) => missing.push(toFerryError(error).message));
  }
  if (missing.length === 0) return { settings: { provider: 'endpoints' } };
  return {
    settings: { provider: 'none' },
    warning: `spec.bridges.provider is none: ${missing.join('; ')}. ${crossing.size} call(s) will cross clusters during the migration (crossClusterCalls, e.g. ${[...crossing].slice(0, 3).join(', ')}) and nothing carries them unless the clusters already reach each other's Services by name; install an east-west gateway and plan again, or set spec.bridges (provider, gateways)`,
  };
}
