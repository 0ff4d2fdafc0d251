import type { DependencyGraph, NodeId } from '../graph/model.js';
import { groupBy } from '../util/stable.js';

/**
 * Decides which slice carries each non-workload object, given the slices in plan order:
 * - an object that depends on a workload (Service by selector, HPA, PDB) goes with it;
 * - a route goes with the Service it routes to;
 * - config an object uses (ConfigMap, Secret, PVC, ServiceAccount, Role) goes with the
 *   first slice that needs it, so it is on the target before any user of it;
 * - a binding goes with what it binds.
 * Returns object → slice name; objects no slice needs are absent.
 */
export function assignObjectsToSlices(
  graph: DependencyGraph,
  sliceOfWorkload: ReadonlyMap<NodeId, string>,
  sliceRank: ReadonlyMap<string, number>,
): Map<NodeId, string> {
  const assigned = new Map<NodeId, string>(sliceOfWorkload);
  const earliest = (slices: Iterable<string | undefined>): string | undefined => {
    let best: string | undefined;
    for (const slice of slices) if (slice !== undefined && (best === undefined || sliceRank.get(slice)! < sliceRank.get(best)!)) best = slice;
    return best;
  };
  const incoming = groupBy(graph.edges, (edge) => edge.to);

  const outgoing = groupBy(graph.edges, (edge) => edge.from);
  const followsWorkload = new Set(['selector', 'scaleTarget', 'disruptionBudget']);
  for (const node of graph.nodes) {
    if (assigned.has(node)) continue;
    const workloads = (outgoing.get(node) ?? []).filter((edge) => followsWorkload.has(edge.reason));
    const slice = earliest(workloads.map((edge) => sliceOfWorkload.get(edge.to)));
    if (slice) assigned.set(node, slice);
  }
  for (const node of graph.nodes) {
    if (assigned.has(node)) continue;
    const routes = (outgoing.get(node) ?? []).filter((edge) => edge.reason === 'route');
    const slice = earliest(routes.map((edge) => assigned.get(edge.to)));
    if (slice) assigned.set(node, slice);
  }
  // Config and bindings: repeat until nothing changes (workload → ServiceAccount → pull Secret).
  for (let changed = true; changed; ) {
    changed = false;
    for (const node of graph.nodes) {
      if (assigned.has(node)) continue;
      const users = (incoming.get(node) ?? []).filter((edge) => !edge.runtime).map((edge) => assigned.get(edge.from));
      const bound = (outgoing.get(node) ?? []).filter((edge) => edge.reason === 'binding').map((edge) => assigned.get(edge.to));
      const slice = earliest(users) ?? earliest(bound);
      if (slice) {
        assigned.set(node, slice);
        changed = true;
      }
    }
  }
  return assigned;
}
