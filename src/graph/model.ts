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
  | 'env'             // workload → ConfigMap/Secret (valueFrom) or → Service named in an env value
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
}

/** A reference to something not in the inventory: a missing object or an outside host. */
export interface DanglingReference {
  from: NodeId;
  kind: 'missing-object' | 'missing-service' | 'external-host';
  target: string;
  detail: string;
}

export interface DependencyGraph {
  nodes: NodeId[];
  edges: GraphEdge[];
  dangling: DanglingReference[];
}

export const DEPENDS_ON_ANNOTATION = 'ferry.dev/depends-on';
