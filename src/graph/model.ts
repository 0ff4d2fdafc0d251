import type { KubeObject } from '../kube/object.js';

/** `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects. */
export type NodeId = string;

export function nodeId(kind: string, namespace: string | undefined, name: string): NodeId {
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

export function idOf(object: KubeObject): NodeId {
  return nodeId(object.kind, object.metadata.namespace, object.metadata.name);
}

export type EdgeReason =
  | 'selector'        // Service → workload whose pods it selects
  | 'env'             // workload → ConfigMap/Secret (valueFrom) or → Service named in an env value (literal, envFrom, configMapKeyRef, secretKeyRef)
  | 'command'         // workload → Service named in a container's command or args
  | 'externalName'    // ExternalName Service → the Service its externalName names
  | 'envFrom'
  | 'volume'
  | 'imagePullSecret'
  | 'serviceAccount'
  | 'route'           // Ingress/HTTPRoute/VirtualService/DestinationRule → Service
  | 'scaleTarget'     // HPA → workload
  | 'disruptionBudget'// PDB → workload
  | 'binding'         // RoleBinding → Role / ServiceAccount
  | 'governingService'// StatefulSet → its headless Service
  | 'tls'             // Ingress → TLS Secret
  | 'declared'        // annotation ferry.dev/depends-on
  | 'observed';       // workload → workload seen in traffic (`--observed`), in no manifest

export interface GraphEdge {
  from: NodeId;
  to: NodeId;
  reason: EdgeReason;
  /** Where the reference was found, e.g. `container server env CART_SERVICE_ADDR`. */
  detail: string;
  /** True when the edge is a network call at run time (it crosses clusters if its ends are split). */
  runtime: boolean;
  /**
   * How Ferry knows: `declared` (annotation ferry.dev/depends-on), `static` (read from the
   * manifests), `static (shared config)` (every address behind it comes from a ConfigMap or
   * Secret that more than one workload loads, so it may not be this workload's call at all).
   */
  provenance?: EdgeProvenance;
  /** Where an address edge was read: object, field and the matched text (never a credential). */
  evidence?: EdgeEvidence[];
  /** What traffic showed over the `--observed` window (src/graph/observed/), when it showed this call. */
  observed?: ObservedTraffic;
}

/**
 * `observed`: only traffic shows it; `static+observed` / `declared+observed`: in the
 * manifests (a shared-config edge included) and confirmed by traffic.
 */
export type EdgeProvenance = 'declared' | 'static' | 'static (shared config)' | 'observed' | 'static+observed' | 'declared+observed';

export interface ObservedTraffic {
  /** Summed over the callee's workloads behind the edge's target and over sources. */
  requestsPerSecond: number;
  requests: number;
  protocols: string[];
  /** The `--observed` sources that saw it. */
  sources: string[];
}

/** What is known when both `a` and `b` are: the strongest manifest knowledge, plus whether traffic showed it. */
export function combineProvenance(a: EdgeProvenance | undefined, b: EdgeProvenance): EdgeProvenance {
  if (a === undefined) return b;
  const observed = a.endsWith('observed') || b.endsWith('observed');
  const base = (p: EdgeProvenance) => (p.startsWith('declared') ? 3 : p.startsWith('static+') || p === 'static' ? 2 : p === 'static (shared config)' ? 1 : 0);
  const strongest = Math.max(base(a), base(b));
  if (!observed) return strongest === 3 ? 'declared' : strongest === 2 ? 'static' : 'static (shared config)';
  return strongest === 3 ? 'declared+observed' : strongest >= 1 ? 'static+observed' : 'observed';
}

export interface EdgeEvidence {
  /** The object holding the text: the workload, or the ConfigMap/Secret it loads. */
  object: NodeId;
  /** `spec.template.spec.containers[app].env[DATABASE_URL]`, `ConfigMap shop/settings data.CALLS via envFrom (containers[app])`. */
  field: string;
  /** What matched, credentials removed: `postgresql://db.data:5432`, `redis-cart-0.redis-cart.shop.svc.cluster.local:6379`. */
  text: string;
  /** The ConfigMap/Secret values `$(VAR)` expansion put into the text. */
  expandedFrom?: string[];
  /** The text comes from a ConfigMap/Secret more than one workload loads. */
  sharedConfig?: boolean;
}

/** A reference to something not in the inventory: a missing object or an outside host. */
export interface DanglingReference {
  from: NodeId;
  kind: 'missing-object' | 'missing-service' | 'external-host';
  target: string;
  detail: string;
  evidence?: EdgeEvidence;
}

export interface DependencyGraph {
  nodes: NodeId[];
  edges: GraphEdge[];
  dangling: DanglingReference[];
}

export const DEPENDS_ON_ANNOTATION = 'ferry.dev/depends-on';
