import type { KubeObject } from '../kube/object.js';
import { buildDependencyGraph } from '../graph/build.js';
import { withObservedEdges } from '../graph/observed/merge.js';
import type { ObservedEdge } from '../graph/observed/model.js';
import { idOf, type DependencyGraph, type NodeId } from '../graph/model.js';
import { isWorkload } from '../graph/pod-spec.js';
import { buildUnitGraph, type UnitGraph } from '../graph/units.js';
import { compareStrings, groupBy } from '../util/stable.js';
import { FerryError } from '../util/errors.js';
import { assignObjectsToSlices } from './assign.js';
import { defaultSliceDefaults } from './defaults.js';
import { sliceEdge } from './edge.js';
import { PLAN_API_VERSION, PLAN_KIND, metricsSchema, type MigrationPlan, type ResourceRef, type Slice, type Wave } from './schema.js';
import { checkTrafficChoice, providerForSlice, type TrafficChoice } from './traffic-choice.js';
import { assignWaves, type PlanOrder } from './waves.js';
import { pairCertificatesWithSecrets } from '../trust/cert-manager.js';
import { placeSealedSecrets } from '../trust/sealed-secrets.js';

export interface GeneratePlanOptions {
  name?: string;
  source: MigrationPlan['spec']['source'];
  target: MigrationPlan['spec']['target'];
  order?: PlanOrder;
  steps?: number[];
  stepWindow?: string;
  /**
   * What moves the edge slices' traffic, with the settings no slice's objects can give.
   * Undefined: edge slices inherit `spec.defaults.traffic.provider: router`, a bare kind whose
   * settings are still to be filled in, which `ferry validate` and `ferry run` refuse until they are.
   */
  traffic?: TrafficChoice;
  /** Prometheus the judge reads (`spec.metrics`). */
  metrics?: { url: string; scrapeInterval?: string };
  /** Calls traffic showed (`ferry plan --observed`, src/graph/observed/): they order waves as static calls do. */
  observed?: readonly ObservedEdge[];
  /**
   * Internal ramps: slices only other services call ramp on the callers' cluster too. `istio`:
   * a mesh VirtualService splits the callee's name between the bridge to the source and its own
   * pods, by the clusters' mesh IDs (`topology.istio.io/cluster`; default: the context names).
   */
  internalRamps?: { kind: 'istio'; clusterIds?: { source?: string; target?: string } };
}

/** Plan annotations that say which slices ramp traffic and why the others do not. */
export const EDGE_SLICES_ANNOTATION = 'ferry.dev/edge-slices';
export const INTERNAL_SLICES_ANNOTATION = 'ferry.dev/internal-slices';

/**
 * Turns an inventory into a MigrationPlan: one slice per workload unit, ordered into waves,
 * with the cross-cluster calls each wave leaves behind. Pure and deterministic: the same
 * objects and options give the same plan, key for key.
 */
export function generatePlan(objects: readonly KubeObject[], options: GeneratePlanOptions): MigrationPlan {
  if (options.traffic) checkTrafficChoice(options.traffic);
  const metrics = options.metrics ? planMetrics(options.metrics) : undefined;
  const order = options.order ?? 'consumers-first';
  const graph = withObservedEdges(buildDependencyGraph(objects), objects, options.observed);
  const byId = new Map(objects.map((object) => [idOf(object), object]));
  const workloads = objects.filter(isWorkload).map(idOf).sort(compareStrings);
  const units = buildUnitGraph(graph, workloads);
  const waveOfUnit = assignWaves(units.units.map((unit) => unit.name), units.edges, order);

  const planOrder = [...units.units].sort((a, b) => waveOfUnit.get(a.name)! - waveOfUnit.get(b.name)! || compareStrings(a.name, b.name));
  const rank = new Map(planOrder.map((unit, i) => [unit.name, i]));
  const assigned = assignObjectsToSlices(graph, units.unitOfWorkload, rank);
  // A Certificate and its Secret move together, so the target's cert-manager does not issue again.
  pairCertificatesWithSecrets(assigned, objects);
  // A SealedSecret goes with the first slice that uses the Secret its controller makes.
  placeSealedSecrets(assigned, graph, objects, rank);

  // Whatever no workload needs still has to move: per namespace, in a last-wave slice.
  const lastWave = Math.max(1, ...waveOfUnit.values());
  const prerequisites: ResourceRef[] = [];
  const leftovers = new Map<string, NodeId[]>();
  for (const id of graph.nodes) {
    if (assigned.has(id)) continue;
    const object = byId.get(id)!;
    const namespace = object.metadata.namespace;
    if (!namespace || object.kind === 'Namespace' || object.kind === 'CustomResourceDefinition') prerequisites.push(refOf(object));
    else {
      const list = leftovers.get(namespace);
      if (list) list.push(id);
      else leftovers.set(namespace, [id]);
    }
  }

  const membersBySlice = groupBy(assigned.entries(), ([, slice]) => slice);
  const dependsOn = groupBy(units.edges, (edge) => edge.from);
  const edgeSlices: string[] = [];
  const internalSlices: string[] = [];
  const slices: Array<{ wave: number; slice: Slice }> = units.units.map((unit) => {
    const members = (membersBySlice.get(unit.name) ?? []).map(([id]) => byId.get(id)!);
    const name = sliceName(unit.name);
    const edge = sliceEdge(members);
    // Only edge slices ramp for now: a slice only other services call needs its callers' side
    // of the split (bridges and internal ramps, issue #16), so it moves with provider none.
    // Without a traffic choice an edge slice inherits the defaults' bare kind, as plans always had.
    let traffic: Slice['traffic'] = { provider: 'none' };
    if (edge.reasons.length > 0) {
      edgeSlices.push(`${name}: ${edge.reasons.join(', ')}`);
      traffic = options.traffic ? { provider: providerForSlice(options.traffic, { name, namespace: unit.namespace, edge }) ?? 'none' } : undefined;
    } else if (members.some((object) => object.kind === 'Service')) {
      const internal = options.internalRamps ? internalRamp(options, name, members) : undefined;
      // Services calling each other carry no user cookie, and the mesh cannot compare mirrored answers.
      if (internal) traffic = { provider: internal, stickiness: {}, mirror: { percent: 0, allowNonIdempotent: false, ignoreJsonPaths: [] } };
      else internalSlices.push(name);
    }
    return {
      wave: waveOfUnit.get(unit.name)!,
      slice: {
        name,
        namespace: unit.namespace,
        workloads: unit.workloads.map((id) => refOf(byId.get(id)!)),
        resources: sortRefs(members.map(refOf)),
        dependsOn: (dependsOn.get(unit.name) ?? []).map((edge) => sliceName(edge.to)).sort(compareStrings),
        ...(traffic ? { traffic } : {}),
      },
    };
  });
  const taken = new Set(slices.map((entry) => entry.slice.name));
  for (const [namespace, ids] of [...leftovers].sort(([a], [b]) => compareStrings(a, b))) {
    let name = sliceName(`${namespace}-unattached`);
    while (taken.has(name)) name = `${name}-x`;
    taken.add(name);
    slices.push({
      wave: lastWave,
      slice: { name, namespace, workloads: [], resources: sortRefs(ids.map((id) => refOf(byId.get(id)!))), dependsOn: [], traffic: { provider: 'none' } },
    });
  }

  const waves: Wave[] = [];
  for (let number = 1; number <= lastWave; number++) {
    const inWave = slices.filter((entry) => entry.wave === number).map((entry) => entry.slice).sort((a, b) => compareStrings(a.name, b.name));
    if (inWave.length === 0) continue;
    waves.push({ name: `wave-${number}`, slices: inWave, crossClusterCalls: crossClusterCalls(units, waveOfUnit, number) });
  }

  const annotations: Record<string, string> = {};
  if (edgeSlices.length > 0) annotations[EDGE_SLICES_ANNOTATION] = edgeSlices.sort(compareStrings).join('; ');
  if (internalSlices.length > 0) {
    annotations[INTERNAL_SLICES_ANNOTATION] = options.internalRamps
      ? `${internalSlices.sort(compareStrings).join(', ')}: only other services call them and they have no single ClusterIP Service to split, so they move with traffic provider none (bridges still carry their calls)`
      : `${internalSlices.sort(compareStrings).join(', ')}: only other services call them, so they move with traffic provider none (bridges carry their calls); \`ferry plan --internal-ramps istio\` ramps them in a mesh`;
  }
  return {
    apiVersion: PLAN_API_VERSION,
    kind: PLAN_KIND,
    metadata: { name: options.name ?? 'migration', ...(Object.keys(annotations).length > 0 ? { annotations } : {}) },
    spec: {
      source: options.source,
      target: options.target,
      order,
      transforms: [{ name: 'strip-server-fields' }],
      defaults: defaultSliceDefaults({ ...(options.steps ? { steps: options.steps } : {}), ...(options.stepWindow ? { stepWindow: options.stepWindow } : {}), ...(options.traffic ? { kind: options.traffic.kind } : {}) }),
      ...(metrics ? { metrics } : {}),
      prerequisites: sortRefs(prerequisites),
      waves,
    },
  };
}

function planMetrics(input: { url: string; scrapeInterval?: string }): NonNullable<MigrationPlan['spec']['metrics']> {
  const parsed = metricsSchema.safeParse({ provider: 'prometheus', url: input.url, ...(input.scrapeInterval ? { scrapeInterval: input.scrapeInterval } : {}) });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const flag = issue.path[0] === 'scrapeInterval' ? '--scrape-interval' : '--prometheus';
  throw new FerryError('usage', `${flag}: ${issue.message}`, { location: { field: flag }, fix: flag === '--prometheus' ? 'e.g. --prometheus http://prometheus.monitoring:9090' : 'e.g. --scrape-interval 5s' });
}

/**
 * An internal ramp on the target's mesh: one VirtualService for the slice's Service whose
 * two subsets are the same host's endpoints by cluster — the bridge to the source (its
 * east-west gateway, labelled with the source's mesh ID) and the slice's own pods. Only a
 * slice with exactly one ClusterIP Service can be split this way.
 */
function internalRamp(options: GeneratePlanOptions, slice: string, members: KubeObject[]): Exclude<Slice['traffic'], undefined>['provider'] | undefined {
  const services = members.filter((object) => object.kind === 'Service' && (object.spec as { clusterIP?: string } | undefined)?.clusterIP !== 'None' && (object.spec as { type?: string } | undefined)?.type !== 'ExternalName');
  if (services.length !== 1) return undefined;
  const service = services[0]!;
  const namespace = service.metadata.namespace ?? 'default';
  const host = `${service.metadata.name}.${namespace}.svc.cluster.local`;
  const ids = options.internalRamps!.clusterIds ?? {};
  const cluster = (side: 'source' | 'target') => ids[side] ?? options[side].context ?? side;
  return {
    type: 'istio',
    namespace,
    name: `${slice}-ferry-ramp`.slice(0, 63).replace(/-+$/, ''),
    hosts: [host],
    source: { host, subset: 'ferry-source', labels: { [MESH_CLUSTER_LABEL]: cluster('source') } },
    target: { host, subset: 'ferry-target', labels: { [MESH_CLUSTER_LABEL]: cluster('target') } },
  };
}

/** Istio's label of every endpoint with the cluster it is in (multi-cluster installs). */
export const MESH_CLUSTER_LABEL = 'topology.istio.io/cluster';

/** The calls that cross clusters once waves 1..`wave` have moved. */
function crossClusterCalls(units: UnitGraph, waveOfUnit: ReadonlyMap<string, number>, wave: number): Wave['crossClusterCalls'] {
  const moved = (unit: string) => waveOfUnit.get(unit)! <= wave;
  return units.edges
    .filter((edge) => moved(edge.from) !== moved(edge.to))
    .map((edge) => ({
      from: sliceName(edge.from),
      to: sliceName(edge.to),
      direction: moved(edge.from) ? ('target→source' as const) : ('source→target' as const),
      via: edge.via.map((via) => `${via.from} → ${via.to}`),
    }));
}

/** Slice names are DNS-like: the unit name lower-cased, with anything else turned into "-". */
function sliceName(unit: string): string {
  return unit.toLowerCase().replace(/[^a-z0-9.+-]/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '') || 'slice';
}

function refOf(object: KubeObject): ResourceRef {
  return object.metadata.namespace
    ? { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name }
    : { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name };
}

function sortRefs(refs: ResourceRef[]): ResourceRef[] {
  return refs.sort((a, b) => compareStrings(a.kind, b.kind) || compareStrings(a.namespace ?? '', b.namespace ?? '') || compareStrings(a.name, b.name));
}

export type { DependencyGraph };
