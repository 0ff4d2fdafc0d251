import { prometheusReadings, sumBy } from '../graph/observed/counters.js';
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

const BY_CALLER = ['source_workload', 'source_workload_namespace', 'source_cluster'];
/** Each call once: the side that received it reports it, in the mesh or not (a caller outside the mesh reports nothing). */
const REPORTED_BY_CALLEE = 'reporter="destination"';

function escapeLabelValue(value: string): string {
  return value.replace(/[\\"]/g, (c) => `\\${c}`);
}

function workloadsRegex(workloads: readonly string[]): string {
  return workloads.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&')).join('|');
}

/** The user's own query (`decommission.idleQuery`) with its placeholders filled in. */
export function callersQueryText(query: CallersQuery & { query: string }): string {
  return query.query
    .replaceAll('$workloads', workloadsRegex(query.workloads))
    .replaceAll('$namespace', escapeLabelValue(query.namespace))
    .replaceAll('$cluster', escapeLabelValue(query.cluster))
    .replaceAll('$window', `${Math.max(1, Math.floor(query.windowSeconds * 1000))}ms`);
}

/**
 * Callers with at least one call in the window, most calls first. By default Istio's two
 * series, read as counters over the window (`prometheusReadings`: the value now minus the
 * value a window ago, so a caller whose series was born inside the window counts in full,
 * where `increase()` would miss its first calls — the lone unexpected caller this is for).
 */
export async function observedCallers(query: CallersQuery): Promise<ObservedCaller[]> {
  if (query.workloads.length === 0) return [];
  const samples = query.query !== undefined
    ? (await queryVector(query.prometheusUrl, callersQueryText({ ...query, query: query.query }), query.at)).map((sample) => ({ labels: sample.labels, count: sample.value }))
    : sumBy((await Promise.all(['istio_requests_total', 'istio_tcp_connections_opened_total'].map((metric) => {
      const selector = `${metric}{${REPORTED_BY_CALLEE},destination_workload=~"${workloadsRegex(query.workloads)}",destination_workload_namespace="${escapeLabelValue(query.namespace)}",destination_cluster="${escapeLabelValue(query.cluster)}"}`;
      return prometheusReadings(query.prometheusUrl, selector, BY_CALLER, query.windowSeconds, query.at);
    }))).flat(), BY_CALLER);
  return samples
    .filter((sample) => sample.count >= 1)
    .map((sample) => ({
      workload: sample.labels.source_workload ?? 'unknown',
      namespace: sample.labels.source_workload_namespace ?? 'unknown',
      cluster: sample.labels.source_cluster ?? 'unknown',
      calls: Math.round(sample.count),
    }))
    .sort((a, b) => b.calls - a.calls || a.workload.localeCompare(b.workload));
}
