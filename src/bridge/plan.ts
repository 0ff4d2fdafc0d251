import type { Wave } from '../plan/schema.js';
import { compareStrings } from '../util/stable.js';
import type { ClusterSide } from './bridge.js';

/**
 * The bridges a plan's waves need, from their `crossClusterCalls` alone (pure: `ferry plan`,
 * validate and the run engine can all ask). A call's `via` entries that end at a Service
 * (`Deployment/shop/frontend → Service/shop/cartservice`) each need that Service bridged on
 * the callers' cluster: `target→source` (callers moved, callee not yet) on the target,
 * pointing at the source's gateway; `source→target` (callee moved, callers not yet) on the
 * source, pointing at the target's gateway.
 */
export interface PlannedBridge {
  namespace: string;
  service: string;
  callerCluster: ClusterSide;
  servingCluster: ClusterSide;
  /** The calling workloads (`Kind/namespace/name`), sorted. */
  callers: string[];
  /** The slices whose calls need it, `from → to`, sorted. */
  calls: string[];
  /** The slice the Service belongs to (the callee). */
  calleeSlice: string;
  /**
   * When the bridge must exist. `before-wave`: callers move in this wave while the callee stays
   * on the source (create before the wave's first slice moves). `before-callee-retired`: the
   * callee moved in this wave and callers stay on the source; its source Service may be bridged
   * only once the callee serves on the target (before its source pods are retired) — earlier,
   * the target's own bridge back to the source would make a loop.
   */
  when: 'before-wave' | 'before-callee-retired';
}

/** A cross-cluster call that no Service bridge can carry (e.g. a declared edge straight to a workload). */
export interface UnbridgedCall {
  call: string;
  via: string;
  reason: string;
}

export interface WaveBridges {
  wave: string;
  bridges: PlannedBridge[];
  unbridged: UnbridgedCall[];
  /** Bridges of the wave before that this wave no longer needs: the callee arrived on the callers' cluster (or the callers left). */
  retired: PlannedBridge[];
}

/** `callerCluster:namespace/service`: a bridge's identity across waves. */
export function bridgeKey(bridge: Pick<PlannedBridge, 'callerCluster' | 'namespace' | 'service'>): string {
  return `${bridge.callerCluster}:${bridge.namespace}/${bridge.service}`;
}

export function plannedBridges(waves: readonly Pick<Wave, 'name' | 'crossClusterCalls'>[]): WaveBridges[] {
  const result: WaveBridges[] = [];
  let previous = new Map<string, PlannedBridge>();
  for (const wave of waves) {
    const bridges = new Map<string, PlannedBridge>();
    const unbridged: UnbridgedCall[] = [];
    for (const call of wave.crossClusterCalls ?? []) {
      const callerCluster: ClusterSide = call.direction === 'target→source' ? 'target' : 'source';
      const label = `${call.from} → ${call.to}`;
      for (const via of call.via) {
        const [from, to] = via.split(/\s*→\s*/);
        const callee = parseServiceId(to);
        if (!from || !callee) {
          unbridged.push({ call: label, via, reason: to?.startsWith('Service/') ? 'not a Service reference (Service/namespace/name)' : 'the call does not go through a Service, so no name can be bridged; put a Service in front of the callee' });
          continue;
        }
        const key = bridgeKey({ callerCluster, ...callee });
        const bridge = bridges.get(key) ?? {
          ...callee,
          callerCluster,
          servingCluster: callerCluster === 'target' ? 'source' : 'target',
          callers: [],
          calls: [],
          calleeSlice: call.to,
          when: callerCluster === 'target' ? 'before-wave' : 'before-callee-retired',
        };
        if (!bridge.callers.includes(from)) bridge.callers.push(from);
        if (!bridge.calls.includes(label)) bridge.calls.push(label);
        bridges.set(key, bridge);
      }
    }
    const sorted = [...bridges.values()]
      .map((bridge) => ({ ...bridge, callers: bridge.callers.sort(compareStrings), calls: bridge.calls.sort(compareStrings) }))
      .sort((a, b) => compareStrings(bridgeKey(a), bridgeKey(b)));
    result.push({ wave: wave.name, bridges: sorted, unbridged, retired: [...previous.values()].filter((bridge) => !bridges.has(bridgeKey(bridge))) });
    previous = new Map(sorted.map((bridge) => [bridgeKey(bridge), bridge]));
  }
  return result;
}

function parseServiceId(id: string | undefined): { namespace: string; service: string } | undefined {
  const parts = id?.trim().split('/');
  if (!parts || parts.length !== 3 || parts[0] !== 'Service' || !parts[1] || !parts[2]) return undefined;
  return { namespace: parts[1], service: parts[2] };
}
