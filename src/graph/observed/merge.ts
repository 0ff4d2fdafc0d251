/**
 * Observed edges into the dependency graph: a static call edge whose callee traffic showed
 * is marked `static+observed` (`declared+observed`) with the rate; a call only traffic
 * showed becomes an `observed` edge workload → workload. Calls from outside the mesh
 * (users, `unknown`) and workloads not in the inventory are kept aside for the report:
 * they order no waves.
 */
import type { KubeObject } from '../../kube/object.js';
import { compareStrings } from '../../util/stable.js';
import { isWorkload as isWorkloadObject } from '../pod-spec.js';
import { combineProvenance, idOf, nodeId, type DependencyGraph, type GraphEdge, type NodeId, type ObservedTraffic } from '../model.js';
import { runtimeTargets } from '../units.js';
import { isWorkload, peerText, rateText, type ObservedEdge, type ObservedWorkload } from './model.js';

/** One caller → callee workload pair traffic showed, every source and protocol summed. */
export interface ObservedCall {
  from: NodeId;
  to: NodeId;
  traffic: ObservedTraffic;
  /** The series behind it, one line per source and protocol. */
  evidence: string[];
  /** True when a static or declared edge of the graph already says so. */
  inManifests: boolean;
}

export interface ObservedGraph {
  graph: DependencyGraph;
  calls: ObservedCall[];
  /** Calls from outside the mesh (`unknown`) or from users (the router), by callee. */
  outside: ObservedEdge[];
  /** Observed edges naming a workload the inventory does not have (another namespace, a bare pod). */
  unmatched: ObservedEdge[];
  /** Workloads that appear in the telemetry at all, as caller or callee. */
  seen: Set<NodeId>;
}

const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod', 'DeploymentConfig', 'Rollout'];

export function mergeObserved(graph: DependencyGraph, workloads: readonly NodeId[], observed: readonly ObservedEdge[]): ObservedGraph {
  const workloadSet = new Set(workloads);
  const resolve = (peer: ObservedWorkload): NodeId | undefined => {
    if (peer.kind) {
      const id = nodeId(peer.kind, peer.namespace, peer.name);
      return workloadSet.has(id) ? id : undefined;
    }
    return WORKLOAD_KINDS.map((kind) => nodeId(kind, peer.namespace, peer.name)).find((id) => workloadSet.has(id));
  };

  const pairs = new Map<string, ObservedCall>();
  const outside: ObservedEdge[] = [];
  const unmatched: ObservedEdge[] = [];
  const seen = new Set<NodeId>();
  for (const edge of observed) {
    const to = isWorkload(edge.to) ? resolve(edge.to) : undefined;
    const from = isWorkload(edge.from) ? resolve(edge.from) : undefined;
    if (to) seen.add(to);
    if (from) seen.add(from);
    if (!isWorkload(edge.from) || !isWorkload(edge.to)) {
      outside.push(edge);
      continue;
    }
    if (!from || !to) {
      unmatched.push(edge);
      continue;
    }
    if (from === to) continue;
    const key = `${from}\u0000${to}`;
    let call = pairs.get(key);
    if (!call) {
      call = { from, to, traffic: { requestsPerSecond: 0, requests: 0, protocols: [], sources: [] }, evidence: [], inManifests: false };
      pairs.set(key, call);
    }
    call.traffic.requestsPerSecond += edge.requestsPerSecond;
    call.traffic.requests += edge.requests;
    if (!call.traffic.protocols.includes(edge.protocol)) call.traffic.protocols.push(edge.protocol);
    if (!call.traffic.sources.includes(edge.source)) call.traffic.sources.push(edge.source);
    call.evidence.push(`${edge.source}: ${edge.evidence}`);
  }

  // Static call edges whose callee traffic showed: marked, with the rate of the workloads behind the target.
  const standsFor = runtimeTargets(graph, workloadSet);
  const edges: GraphEdge[] = graph.edges.map((edge) => {
    if (!edge.runtime || !workloadSet.has(edge.from)) return edge;
    const confirmed = standsFor(edge.to).map((target) => pairs.get(`${edge.from}\u0000${target}`)).filter((call): call is ObservedCall => call !== undefined);
    if (confirmed.length === 0) return edge;
    for (const call of confirmed) call.inManifests = true;
    return { ...edge, provenance: combineProvenance(edge.provenance ?? 'static', 'observed'), observed: sumTraffic(confirmed) };
  });
  const calls = [...pairs.values()].sort((a, b) => compareStrings(a.from, b.from) || compareStrings(a.to, b.to));
  for (const call of calls) {
    if (call.inManifests) continue;
    edges.push({
      from: call.from,
      to: call.to,
      reason: 'observed',
      detail: `traffic (${call.traffic.sources.join(', ')}): ${rateText(call.traffic.requestsPerSecond)}`,
      runtime: true,
      provenance: 'observed',
      evidence: call.evidence.map((text) => ({ object: call.from, field: 'traffic', text })),
      observed: call.traffic,
    });
  }
  for (const call of calls) {
    call.traffic.protocols.sort(compareStrings);
    call.traffic.sources.sort(compareStrings);
  }
  const byText = (a: ObservedEdge, b: ObservedEdge) => compareStrings(peerText(a.to), peerText(b.to)) || compareStrings(peerText(a.from), peerText(b.from));
  return { graph: { ...graph, edges }, calls, outside: outside.sort(byText), unmatched: unmatched.sort(byText), seen };
}

/** The graph with the observed calls in it (the graph itself when there are none), for plans. */
export function withObservedEdges(graph: DependencyGraph, objects: readonly KubeObject[], observed: readonly ObservedEdge[] | undefined): DependencyGraph {
  if (!observed || observed.length === 0) return graph;
  return mergeObserved(graph, objects.filter(isWorkloadObject).map(idOf), observed).graph;
}

function sumTraffic(calls: readonly ObservedCall[]): ObservedTraffic {
  const protocols = new Set<string>();
  const sources = new Set<string>();
  let requestsPerSecond = 0;
  let requests = 0;
  for (const call of calls) {
    requestsPerSecond += call.traffic.requestsPerSecond;
    requests += call.traffic.requests;
    call.traffic.protocols.forEach((p) => protocols.add(p));
    call.traffic.sources.forEach((s) => sources.add(s));
  }
  return { requestsPerSecond, requests, protocols: [...protocols].sort(compareStrings), sources: [...sources].sort(compareStrings) };
}
