import { queryVector } from './prometheus.js';

/**
 * Who called a set of workloads, from service-mesh telemetry in Istio's standard metrics
 * (https://istio.io/latest/docs/reference/config/metrics/): `istio_requests_total` for HTTP
 * and gRPC requests, `istio_tcp_connections_opened_total` for everything else. The lab's
 * service networking exports the same series, so one query serves the lab and real meshes.
 */
export interface ObservedCaller {
  workload: string;
  namespace: string;
  cluster: string;
  /** Requests (or connections) received from it in the window. */
  calls: number;
}

export interface CallersQuery {
  prometheusUrl: string;
  /** Workload names (Deployments, StatefulSets) of one namespace. */
  workloads: string[];
  namespace: string;
  /** The cluster the workloads run on, as the mesh labels it (`destination_cluster`). */
  cluster: string;
  windowSeconds: number;
  /** Evaluation time, epoch ms. */
  at: number;
  /** A template with $workloads, $namespace, $cluster, $window (a PromQL duration, e.g. 3500ms); the default reads Istio's series. */
  query?: string;
}

const BY_CALLER = 'source_workload, source_workload_namespace, source_cluster';

/**
 * The calls in the window: the counter now minus the counter a window ago. `increase()` is not
 * used because a series born inside the window (a caller's first call) has no earlier sample
 * and increase() counts its first value as zero — exactly the lone unexpected caller this is for.
 */
function seriesDelta(metric: string): string {
  const selector = `${metric}{destination_workload=~"$workloads",destination_workload_namespace="$namespace",destination_cluster="$cluster"}`;
  return `(sum by (${BY_CALLER}) (${selector}) - (sum by (${BY_CALLER}) (${selector} offset $window) or sum by (${BY_CALLER}) (${selector}) * 0))`;
}

export const DEFAULT_CALLERS_QUERY = `${seriesDelta('istio_requests_total')} or ${seriesDelta('istio_tcp_connections_opened_total')}`;

export function callersQueryText(query: CallersQuery): string {
  const escape = (value: string) => value.replace(/[\\"]/g, (c) => `\\${c}`);
  const regex = query.workloads.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&')).join('|');
  return (query.query ?? DEFAULT_CALLERS_QUERY)
    .replaceAll('$workloads', regex)
    .replaceAll('$namespace', escape(query.namespace))
    .replaceAll('$cluster', escape(query.cluster))
    .replaceAll('$window', `${Math.max(1, Math.floor(query.windowSeconds * 1000))}ms`);
}

/** Callers with at least one call in the window, most calls first. */
export async function observedCallers(query: CallersQuery): Promise<ObservedCaller[]> {
  if (query.workloads.length === 0) return [];
  const samples = await queryVector(query.prometheusUrl, callersQueryText(query), query.at);
  return samples
    .filter((sample) => sample.value >= 1)
    .map((sample) => ({
      workload: sample.labels.source_workload ?? 'unknown',
      namespace: sample.labels.source_workload_namespace ?? 'unknown',
      cluster: sample.labels.source_cluster ?? 'unknown',
      calls: Math.round(sample.value),
    }))
    .sort((a, b) => b.calls - a.calls || a.workload.localeCompare(b.workload));
}
