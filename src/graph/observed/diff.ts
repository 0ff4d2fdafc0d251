/**
 * `ferry graph --diff`: what the manifests and the traffic disagree on — calls seen in
 * traffic that no manifest names (addresses compiled in, mounted files, service discovery),
 * and static call edges traffic never showed over the window (likely dead configuration, or
 * a caller the telemetry does not cover: each such edge says whether its caller was seen at all).
 */
import { compareStrings } from '../../util/stable.js';
import type { EdgeEvidence, EdgeProvenance, NodeId, ObservedTraffic } from '../model.js';
import { runtimeTargets } from '../units.js';
import type { ObservedGraph } from './merge.js';
import { peerText, type ObservedEdge } from './model.js';

export interface GraphDiff {
  window: string;
  sources: string[];
  /** Each source with what its counts cover: `prometheus=… (over 10m)`, `lab (read directly: …)`. */
  described: string[];
  /** Seen in traffic, in no manifest. */
  observedOnly: Array<{ from: NodeId; to: NodeId; traffic: ObservedTraffic; evidence: string[] }>;
  /** In the manifests (workload → Service or workload), never seen in traffic. */
  neverSeen: Array<{ from: NodeId; to: NodeId; reason: string; provenance: EdgeProvenance; callee: NodeId[]; callerInTelemetry: boolean; evidence: EdgeEvidence[] }>;
  /** Telemetry naming workloads the inventory does not have. */
  unmatched: Array<{ from: string; to: string; requestsPerSecond: number; source: string }>;
}

export function graphDiff(observed: ObservedGraph, workloads: readonly NodeId[], meta: { window: string; sources: string[]; described?: string[] }): GraphDiff {
  const workloadSet = new Set(workloads);
  const standsFor = runtimeTargets(observed.graph, workloadSet);
  const neverSeen: GraphDiff['neverSeen'] = [];
  for (const edge of observed.graph.edges) {
    if (!edge.runtime || !workloadSet.has(edge.from) || edge.reason === 'observed' || edge.observed) continue;
    const callee = standsFor(edge.to).filter((target) => target !== edge.from);
    // A target that stands for no workload (an outside host, a selector-less Service) has nothing telemetry could name.
    if (callee.length === 0) continue;
    neverSeen.push({ from: edge.from, to: edge.to, reason: edge.reason, provenance: edge.provenance ?? 'static', callee, callerInTelemetry: observed.seen.has(edge.from), evidence: edge.evidence ?? [] });
  }
  neverSeen.sort((a, b) => compareStrings(a.from, b.from) || compareStrings(a.to, b.to));
  return {
    window: meta.window,
    sources: meta.sources,
    described: meta.described ?? meta.sources,
    observedOnly: observed.calls.filter((call) => !call.inManifests).map((call) => ({ from: call.from, to: call.to, traffic: call.traffic, evidence: call.evidence })),
    neverSeen,
    unmatched: observed.unmatched.map((edge: ObservedEdge) => ({ from: peerText(edge.from), to: peerText(edge.to), requestsPerSecond: edge.requestsPerSecond, source: edge.source })),
  };
}
