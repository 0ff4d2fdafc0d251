/**
 * Dependencies traffic shows: edges between workloads read from telemetry (a service mesh's
 * metrics, the embedded router's, the lab's service networking), over a window, with rates.
 * One interface for every source, so `ferry graph --observed` and `ferry plan --observed`
 * read them all alike.
 */

/** A workload as telemetry names it: Istio and the lab give only namespace and name; Linkerd gives the kind too. */
export interface ObservedWorkload {
  namespace: string;
  name: string;
  /** `Deployment`, `StatefulSet`… when the telemetry says (Linkerd's `deployment`/`statefulset` labels). */
  kind?: string;
  /** The cluster as the telemetry labels it (`source_cluster`/`destination_cluster`), when it does. */
  cluster?: string;
}

/**
 * One end of an observed call: a workload; callers outside the mesh (`unknown` to Istio, no
 * pod to Linkerd, `users` in front of the embedded router); or, for the router, the slice
 * whose route carried the requests (the route is named after the slice).
 */
export type ObservedPeer = ObservedWorkload | { outside: 'users' | 'unknown' } | { slice: string };

export interface ObservedEdge {
  from: ObservedPeer;
  to: ObservedPeer;
  /** Average over the window (Prometheus), or over the sampling interval (exposition text read directly). */
  requestsPerSecond: number;
  /** Requests (for `tcp`: connections) counted in the window; for text read directly, since the exporter started. */
  requests: number;
  /** `http`, `grpc` (requests) or `tcp` (connections: CONNECT tunnels, ClusterIP connections; `requestsPerSecond` counts connections). */
  protocol: string;
  /** The series read, e.g. `istio_requests_total{source_workload="frontend",destination_workload="cart"} (reporter source, destination: max)`. */
  evidence: string;
  /** Which `--observed` source saw it, e.g. `lab`, `prometheus=http://prometheus:9090`. */
  source: string;
}

/** How long to look back: Prometheus sources read counters over it; text read directly has no history (see `sampleSeconds`). */
export interface ObserveWindow {
  seconds: number;
  /** For sources read directly (exposition text): seconds between the two scrapes whose difference is the rate. */
  sampleSeconds: number;
  /** Evaluation time, epoch ms (default now). */
  at?: number;
}

export interface ObservedEdgeSource {
  /** As the user wrote it (`lab`, `prometheus=http://…`), for messages and evidence. */
  readonly name: string;
  /** `window`: counts over the window (Prometheus); `since-start`: read directly, counts since the exporter started, rates over the sample. */
  readonly history: 'window' | 'since-start';
  observe(window: ObserveWindow): Promise<ObservedEdge[]>;
}

export function isWorkload(peer: ObservedPeer): peer is ObservedWorkload {
  return 'name' in peer;
}

export function peerText(peer: ObservedPeer): string {
  if ('outside' in peer) return `(${peer.outside})`;
  if ('slice' in peer) return `slice ${peer.slice}`;
  return `${peer.namespace}/${peer.name}`;
}

/** `1.25/s`, `0.004/s`: enough digits to tell a trickle from nothing. */
export function rateText(perSecond: number): string {
  if (perSecond === 0) return '0/s';
  return `${perSecond >= 10 ? perSecond.toFixed(0) : perSecond >= 0.1 ? perSecond.toFixed(2) : perSecond.toPrecision(2)}/s`;
}
