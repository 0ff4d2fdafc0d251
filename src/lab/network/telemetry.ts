/**
 * Istio's standard metrics (https://istio.io/latest/docs/reference/config/metrics/) for what
 * a cluster's service proxy, ClusterIP listeners and east-west gateway see, in one
 * prom-client Registry per cluster: who called whom, so a user (or Ferry before a
 * decommission) can tell which workloads still receive calls.
 *
 * `reporter="source"` is recorded where a call leaves a caller we know (the proxy),
 * `reporter="destination"` where it reaches a pod of this cluster (the proxy for local
 * endpoints, the gateway for calls from other clusters), as the two sidecars of a call do.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import type { KubeObject } from '../../kube/object.js';
import type { ControllerClient } from '../controllers/client.js';

export interface Peer {
  workload: string;
  namespace: string;
  cluster: string;
  /** The pod's version label, when it has one (`destination_version`). */
  version?: string;
}

export interface Destination extends Peer {
  /** `svc.ns.svc.cluster.local`, or `unknown`. */
  service: string;
  serviceName: string;
  serviceNamespace: string;
}

export type Reporter = 'source' | 'destination';

const UNKNOWN = 'unknown';

export function unknownPeer(cluster = UNKNOWN): Peer {
  return { workload: UNKNOWN, namespace: UNKNOWN, cluster };
}

const LABELS = ['reporter', 'source_workload', 'source_workload_namespace', 'source_cluster', 'destination_workload', 'destination_workload_namespace', 'destination_service', 'destination_service_name', 'destination_service_namespace', 'destination_cluster', 'destination_version', 'request_protocol'] as const;

export class NetworkTelemetry {
  readonly registry = new Registry();
  private readonly requests = new Counter({ name: 'istio_requests_total', help: 'Requests seen by the lab service network, as Istio counts them', labelNames: [...LABELS, 'response_code', 'grpc_response_status'], registers: [this.registry] });
  private readonly duration = new Histogram({
    name: 'istio_request_duration_milliseconds', help: 'Request duration in milliseconds, as Istio measures it',
    labelNames: [...LABELS, 'response_code', 'grpc_response_status'], registers: [this.registry],
    buckets: [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000],
  });
  private readonly opened = new Counter({ name: 'istio_tcp_connections_opened_total', help: 'TCP connections (CONNECT tunnels, ClusterIP connections) opened', labelNames: LABELS, registers: [this.registry] });
  private readonly closed = new Counter({ name: 'istio_tcp_connections_closed_total', help: 'TCP connections (CONNECT tunnels, ClusterIP connections) closed', labelNames: LABELS, registers: [this.registry] });

  /**
   * Counts one request. `protocol` is `http` or `grpc`; `code` the HTTP status (200 for a gRPC
   * call that got an answer, 0 when none came); `grpcStatus` the call's grpc-status, empty for
   * plain HTTP (Istio's `grpc_response_status`).
   */
  request(reporter: Reporter, source: Peer, destination: Destination, protocol: string, code: number, durationMs: number, grpcStatus = ''): void {
    const labels = { ...labelsOf(reporter, source, destination, protocol), response_code: String(code), grpc_response_status: grpcStatus };
    this.requests.inc(labels);
    this.duration.observe(labels, durationMs);
  }

  /** Counts an opened connection; call the returned function when it closes. */
  connection(reporter: Reporter, source: Peer, destination: Destination): () => void {
    const labels = labelsOf(reporter, source, destination, 'tcp');
    this.opened.inc(labels);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.closed.inc(labels);
    };
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

function labelsOf(reporter: Reporter, source: Peer, destination: Destination, protocol: string): Record<(typeof LABELS)[number], string> {
  return {
    reporter,
    source_workload: source.workload,
    source_workload_namespace: source.namespace,
    source_cluster: source.cluster,
    destination_workload: destination.workload,
    destination_workload_namespace: destination.namespace,
    destination_service: destination.service,
    destination_service_name: destination.serviceName,
    destination_service_namespace: destination.serviceNamespace,
    destination_cluster: destination.cluster,
    destination_version: destination.version ?? UNKNOWN,
    request_protocol: protocol,
  };
}

/**
 * The workload a pod belongs to, as Istio names it: the Deployment behind its ReplicaSet,
 * its StatefulSet, DaemonSet or Job (the CronJob behind a Job), else the pod itself;
 * `unknown` when there is no such pod.
 */
export function workloadOf(client: ControllerClient, namespace: string, podName: string, cluster: string): Peer {
  const pod = client.get('v1', 'Pod', namespace, podName);
  if (!pod) return { ...unknownPeer(cluster), namespace };
  const version = versionOf(pod);
  return { workload: ownerWorkload(client, pod), namespace, cluster, ...(version ? { version } : {}) };
}

/** Istio's canonical revision labels, most specific first (https://istio.io/latest/docs/ops/deployment/requirements/). */
const VERSION_LABELS = ['service.istio.io/canonical-revision', 'app.kubernetes.io/version', 'version'];

function versionOf(pod: KubeObject): string | undefined {
  const labels = pod.metadata.labels ?? {};
  return VERSION_LABELS.map((label) => labels[label]).find((value) => typeof value === 'string' && value !== '');
}

function ownerWorkload(client: ControllerClient, pod: KubeObject): string {
  const owner = controllerOf(pod);
  if (!owner) return pod.metadata.name;
  if (owner.kind === 'ReplicaSet' || owner.kind === 'Job') {
    const parent = client.get(owner.kind === 'ReplicaSet' ? 'apps/v1' : 'batch/v1', owner.kind, pod.metadata.namespace, owner.name);
    const grand = parent ? controllerOf(parent) : undefined;
    if (grand && (grand.kind === 'Deployment' || grand.kind === 'CronJob')) return grand.name;
  }
  return owner.name;
}

function controllerOf(object: KubeObject): { kind: string; name: string } | undefined {
  const refs = (object.metadata.ownerReferences ?? []) as Array<{ kind: string; name: string; controller?: boolean }>;
  return refs.find((ref) => ref.controller) ?? refs[0];
}
