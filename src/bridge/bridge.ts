/**
 * A service bridge makes a callee's name resolve, on the cluster of its callers, to where the
 * callee serves, while callers and callee sit on different clusters during a migration
 * (issue #16). One interface, one module per way of doing it (`endpoints.ts`, `mcs.ts`,
 * `istio.ts`). Everything a bridge returns is plain JSON, so the run journal keeps it and
 * rollback or resume act from the record alone, in another process if need be.
 */

export type ClusterSide = 'source' | 'target';

export const BRIDGE_PROVIDERS = ['endpoints', 'mcs', 'istio'] as const;
export type BridgeProviderType = (typeof BRIDGE_PROVIDERS)[number];

/** The labels on every object a bridge creates; removal deletes only objects carrying them. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'ferry';
export const BRIDGE_LABEL = 'ferry.dev/bridge';
/** Field manager of bridge writes: kept apart from `ferry` (slice apply), so `--show-managed-fields` tells who wrote what. */
export const BRIDGE_FIELD_MANAGER = 'ferry-bridge';

export function bridgeLabels(service: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [BRIDGE_LABEL]: service };
}

/** A port of the callee's Service, as it is on the serving cluster. */
export interface BridgePort {
  name?: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
}

export interface GatewayAddress {
  /** IP address or DNS name of the serving cluster's east-west gateway. */
  host: string;
  port: number;
}

export interface BridgeSpec {
  namespace: string;
  /** The callee's Service name. */
  service: string;
  ports: BridgePort[];
  /** Where the callers run: the bridge's objects go there. */
  callerCluster: ClusterSide;
  /** Where the callee serves: its east-west gateway is the bridge's destination. */
  servingCluster: ClusterSide;
  gateway: GatewayAddress;
  /**
   * The callee's Service is headless (`clusterIP: None`, e.g. a StatefulSet's governing
   * Service): the bridge is headless too, with one endpoint per pod hostname so
   * `pod.svc.ns.svc.cluster.local` names resolve on the callers' cluster.
   */
  headless?: { hostnames: string[] };
  /** The calling workloads (`Kind/namespace/name`), from the plan's `via`; MCS reads their references. */
  callers?: string[];
}

/** An object a bridge wrote, on which cluster, and whether the bridge created it (only those are deleted). */
export interface BridgeObjectRef {
  cluster: ClusterSide;
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  created: boolean;
}

export interface BridgeRecord {
  provider: BridgeProviderType;
  spec: BridgeSpec;
  objects: BridgeObjectRef[];
  /**
   * What to put back on removal. `selector` is the callee Service's selector on the callers'
   * cluster, taken off so its endpoints could point at the other cluster (a Service of that
   * name already existed there: callers left behind after the callee moved).
   */
  restore?: { service: { cluster: ClusterSide; namespace: string; name: string; selector: Record<string, string> } };
  /** What the user should know and Ferry cannot fix, e.g. callers using names MCS does not redirect. */
  warnings: string[];
}

export interface ServiceBridge {
  readonly type: BridgeProviderType;
  /** Observe, then write what is missing; a second call with the same spec changes nothing. */
  ensure(spec: BridgeSpec): Promise<BridgeRecord>;
  /** Undo `ensure` from its record: delete what it created, put back what it changed; idempotent. */
  remove(record: BridgeRecord): Promise<void>;
  /** What is wrong with the bridge as it stands now; empty when it does what the record says. */
  verify(record: BridgeRecord): Promise<string[]>;
}

/** `cartservice.shop` style name used in messages. */
export function bridgeName(spec: Pick<BridgeSpec, 'namespace' | 'service'>): string {
  return `Service ${spec.namespace}/${spec.service}`;
}

/** The cluster-local DNS name of a Service. */
export function serviceFqdn(spec: Pick<BridgeSpec, 'namespace' | 'service'>, domain = 'cluster.local'): string {
  return `${spec.service}.${spec.namespace}.svc.${domain}`;
}
