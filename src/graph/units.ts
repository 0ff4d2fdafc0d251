import { compareStrings, groupBy, uniqueSorted } from '../util/stable.js';
import { combineProvenance, type DependencyGraph, type EdgeProvenance, type GraphEdge, type NodeId } from './model.js';
import { stronglyConnectedComponents } from './scc.js';

/**
 * The workload-level view of the graph: a unit is a set of workloads that must move
 * together (they share a Service, or call each other in a cycle). Unit edges say
 * "A calls B at run time".
 */
export interface WorkloadUnit {
  /** Readable, unique name: the workload's name (namespace-qualified when names collide). */
  name: string;
  namespace: string;
  workloads: NodeId[];
}

export interface UnitEdge {
  from: string;
  to: string;
  /** The object-level runtime edges behind it, e.g. Deployment/default/frontend → Service/default/cartservice. */
  via: Array<Pick<GraphEdge, 'from' | 'to' | 'detail'>>;
  /**
   * The strongest knowledge behind it: `declared` if any edge behind it is, else `static` if
   * any is, else `static (shared config)` (only addresses from config many workloads load).
   */
  provenance?: EdgeProvenance;
  /** Requests per second traffic showed over the edges behind it (`--observed`), when it showed any. */
  requestsPerSecond?: number;
}

export interface UnitGraph {
  units: WorkloadUnit[];
  edges: UnitEdge[];
  /** The unit each workload belongs to. */
  unitOfWorkload: Map<NodeId, string>;
}

export function buildUnitGraph(graph: DependencyGraph, workloads: readonly NodeId[]): UnitGraph {
  const workloadSet = new Set(workloads);
  const outgoing = groupBy(graph.edges.filter((edge) => edge.runtime), (edge) => edge.from);

  const standsFor = runtimeTargets(graph, workloadSet);
  const selected = selectedWorkloads(graph, workloadSet);

  const calls = new Map<NodeId, Map<NodeId, UnitEdge['via']>>();
  const provenanceOf = new WeakMap<UnitEdge['via'][number], EdgeProvenance>();
  const rateOf = new WeakMap<UnitEdge['via'][number], number>();
  for (const workload of workloads) {
    const targets = new Map<NodeId, UnitEdge['via']>();
    for (const edge of outgoing.get(workload) ?? []) {
      const item = { from: edge.from, to: edge.to, detail: edge.detail };
      provenanceOf.set(item, edge.provenance ?? 'static');
      if (edge.observed) rateOf.set(item, edge.observed.requestsPerSecond);
      for (const target of standsFor(edge.to)) {
        if (target === workload) continue;
        const via = targets.get(target);
        if (via) via.push(item);
        else targets.set(target, [item]);
      }
    }
    calls.set(workload, targets);
  }

  // Workloads behind one Service move together; then calls in a cycle (also through such
  // groups) merge into one unit, so the unit graph is acyclic.
  const union = new UnionFind(workloads);
  for (const members of selected.values()) for (const member of members.slice(1)) union.join(members[0]!, member);
  const classCalls = new Map<string, Set<string>>();
  for (const [workload, targets] of calls) {
    const from = union.find(workload);
    const set = classCalls.get(from) ?? new Set<string>();
    for (const target of targets.keys()) if (union.find(target) !== from) set.add(union.find(target));
    classCalls.set(from, set);
  }
  const classes = uniqueSorted(workloads.map((workload) => union.find(workload)));
  const components = stronglyConnectedComponents(classes, (node) => [...(classCalls.get(node) ?? [])].sort(compareStrings));
  for (const component of components) for (const member of component.slice(1)) union.join(component[0]!, member);

  const groups = groupBy(workloads, (workload) => union.find(workload));
  const baseNames = new Map<string, number>();
  for (const members of groups.values()) {
    const base = unitBaseName(members);
    baseNames.set(base, (baseNames.get(base) ?? 0) + 1);
  }
  const units: WorkloadUnit[] = [];
  const unitOfWorkload = new Map<NodeId, string>();
  for (const members of groups.values()) {
    const sorted = uniqueSorted(members);
    const namespace = namespaceOf(sorted[0]!);
    const base = unitBaseName(sorted);
    const name = (baseNames.get(base) ?? 0) > 1 ? `${namespace}.${base}` : base;
    units.push({ name, namespace, workloads: sorted });
    for (const member of sorted) unitOfWorkload.set(member, name);
  }
  units.sort((a, b) => compareStrings(a.name, b.name));

  const unitEdges = new Map<string, UnitEdge>();
  for (const [workload, targets] of calls) {
    const from = unitOfWorkload.get(workload)!;
    for (const [target, via] of targets) {
      const to = unitOfWorkload.get(target)!;
      if (from === to) continue;
      const key = `${from}\u0000${to}`;
      const existing = unitEdges.get(key) ?? { from, to, via: [] };
      existing.via.push(...via);
      unitEdges.set(key, existing);
    }
  }
  const edges = [...unitEdges.values()]
    .map((edge) => ({
      ...edge,
      via: edge.via.length < 2 ? edge.via : edge.via.map((via) => ({ via, key: `${via.from}${via.to}` })).sort((a, b) => compareStrings(a.key, b.key)).map(({ via }) => via),
      provenance: edge.via.reduce<EdgeProvenance | undefined>((best, via) => combineProvenance(best, provenanceOf.get(via) ?? 'static'), undefined)!,
      ...(edge.via.some((via) => rateOf.has(via)) ? { requestsPerSecond: edge.via.reduce((sum, via) => sum + (rateOf.get(via) ?? 0), 0) } : {}),
    }))
    .sort((a, b) => compareStrings(a.from, b.from) || compareStrings(a.to, b.to));
  return { units, edges, unitOfWorkload };
}

/** Which workloads each Service (or ExternalName chain) of the graph selects. */
function selectedWorkloads(graph: DependencyGraph, workloadSet: ReadonlySet<NodeId>): Map<NodeId, NodeId[]> {
  const selected = new Map<NodeId, NodeId[]>();
  for (const edge of graph.edges) {
    if (edge.reason !== 'selector' || !workloadSet.has(edge.to)) continue;
    const list = selected.get(edge.from);
    if (list) list.push(edge.to);
    else selected.set(edge.from, [edge.to]);
  }
  return selected;
}

/**
 * The workloads a runtime edge's target stands for: a workload itself; a Service, the
 * workloads it selects; an ExternalName Service naming another Service, what that one
 * stands for (chains too). Memoised per target.
 */
export function runtimeTargets(graph: DependencyGraph, workloadSet: ReadonlySet<NodeId>): (node: NodeId) => NodeId[] {
  const selected = selectedWorkloads(graph, workloadSet);
  const aliases = groupBy(graph.edges.filter((edge) => edge.reason === 'externalName'), (edge) => edge.from);
  const cache = new Map<NodeId, NodeId[]>();
  const follow = (node: NodeId): NodeId[] => {
    if (workloadSet.has(node)) return [node];
    const found = new Set<NodeId>();
    const seen = new Set<NodeId>([node]);
    const queue = [node];
    while (queue.length > 0) {
      const current = queue.pop()!;
      for (const workload of selected.get(current) ?? []) found.add(workload);
      for (const alias of aliases.get(current) ?? []) {
        if (!seen.has(alias.to)) {
          seen.add(alias.to);
          queue.push(alias.to);
        }
      }
    }
    return [...found];
  };
  return (node) => {
    let known = cache.get(node);
    if (!known) {
      known = follow(node);
      cache.set(node, known);
    }
    return known;
  };
}

function unitBaseName(members: readonly NodeId[]): string {
  return uniqueSorted(members.map(nameOf)).join('+');
}

export function nameOf(id: NodeId): string {
  return id.slice(id.lastIndexOf('/') + 1);
}

export function namespaceOf(id: NodeId): string {
  const parts = id.split('/');
  return parts.length === 3 ? parts[1]! : '';
}

export function kindOf(id: NodeId): string {
  return id.slice(0, id.indexOf('/'));
}

class UnionFind {
  private readonly parent = new Map<string, string>();
  constructor(items: Iterable<string>) {
    for (const item of items) this.parent.set(item, item);
  }
  find(item: string): string {
    let root = item;
    while (this.parent.get(root) !== root) root = this.parent.get(root)!;
    let current = item;
    while (current !== root) {
      const next = this.parent.get(current)!;
      this.parent.set(current, root);
      current = next;
    }
    return root;
  }
  join(a: string, b: string): void {
    const rootA = this.find(a);
    const rootB = this.find(b);
    if (rootA === rootB) return;
    // The smaller id wins so the result does not depend on join order.
    if (compareStrings(rootA, rootB) < 0) this.parent.set(rootB, rootA);
    else this.parent.set(rootA, rootB);
  }
}
