import { kubeBridgeObjects } from '../../bridge/cluster.js';
import { findGateway } from '../../bridge/gateway.js';
import type { KubeClient } from '../../kube/client.js';
import type { MigrationPlan } from '../../plan/schema.js';
import { toFerryError } from '../../util/errors.js';
import type { PreflightRow } from './model.js';
import type { BridgesSettings } from '../../bridge/schema.js';

/**
 * Service bridges need an east-west gateway on both clusters (spec.bridges): found now, or
 * the run would fail at the first caller's apply. Plans whose slices call nobody, or with
 * bridges off, need none.
 */
export async function checkBridges(plan: MigrationPlan, clients: { source: KubeClient | undefined; target: KubeClient }): Promise<PreflightRow[]> {
  const settings: Partial<BridgesSettings> = plan.spec.bridges ?? {};
  const provider = settings.provider ?? 'endpoints';
  const calls = plan.spec.waves.flatMap((wave) => wave.slices).filter((slice) => slice.dependsOn.length > 0).length;
  if (provider === 'none' || calls === 0) return [];
  const rows: PreflightRow[] = [];
  for (const side of ['source', 'target'] as const) {
    const client = clients[side];
    if (!client) {
      rows.push({ severity: 'BLOCK', check: 'bridges', subject: `the ${side} cluster`, message: `${provider} bridges need the live ${side} cluster, and the plan reads it from files`, fix: 'set spec.source.context, or spec.bridges.provider: none if the clusters already reach each other\'s Services by name' });
      continue;
    }
    try {
      const gateway = await findGateway(kubeBridgeObjects(client), { side, ...(settings.gateways?.[side] ? { explicit: settings.gateways[side] } : {}), ...(settings.gatewayService ? { service: settings.gatewayService } : {}), provider });
      rows.push({ severity: 'OK', check: 'bridges', subject: `the ${side} cluster's east-west gateway`, message: `${gateway.host}:${gateway.port} carries ${provider} bridges for ${calls} calling slice(s)` });
    } catch (error) {
      const failure = toFerryError(error);
      rows.push({ severity: 'BLOCK', check: 'bridges', subject: `the ${side} cluster's east-west gateway`, message: failure.message, fix: failure.fix ?? 'install an east-west gateway, or set spec.bridges' });
    }
  }
  return rows;
}
