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
  | 'declared';       // annotation ferry.dev/depends-on

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
}

export type EdgeProvenance = 'declared' | 'static' | 'static (shared config)';

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
