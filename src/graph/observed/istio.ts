/**
 * Edges from Istio's standard metrics (https://istio.io/latest/docs/reference/config/metrics/):
 * `istio_requests_total` (HTTP, gRPC) and `istio_tcp_connections_opened_total` (TCP) by
 * `source_workload` → `destination_workload`. Both sidecars of a call report it
 * (`reporter="source"` and `"destination"`), so per caller/callee/protocol the larger of the
 * two counts is the call count: not their sum (that would double every call), and not one
 * reporter alone (a caller outside the mesh has only the destination's report, a callee
 * outside it only the source's). The lab's service network exports the same series, so
 * `lab` is this code reading its text directly.
 */
import { FerryError } from '../../util/errors.js';
import { prometheusReadings, readingsFromScrapes, scrapeTwice, sumBy, withoutCredentials, type CounterReading } from './counters.js';
import type { ObservedEdge, ObservedEdgeSource, ObservedPeer, ObserveWindow } from './model.js';

export const ISTIO_REQUESTS = 'istio_requests_total';
export const ISTIO_TCP_OPENED = 'istio_tcp_connections_opened_total';

const BY = ['reporter', 'source_workload', 'source_workload_namespace', 'source_cluster', 'destination_workload', 'destination_workload_namespace', 'destination_cluster', 'request_protocol'] as const;
const UNKNOWN = 'unknown';

/** Edges from readings of the two counters (any labels; they are summed by caller, callee, cluster, protocol and reporter first). */
export function istioEdges(requests: readonly CounterReading[], connections: readonly CounterReading[], source: string): ObservedEdge[] {
  return [...edgesOf(ISTIO_REQUESTS, requests, source), ...edgesOf(ISTIO_TCP_OPENED, connections, source)];
}

function edgesOf(metric: string, readings: readonly CounterReading[], source: string): ObservedEdge[] {
  const best = new Map<string, { reading: CounterReading; reporters: string[] }>();
  for (const reading of sumBy(readings, BY)) {
    const labels = reading.labels;
    if (!labels.destination_workload || labels.destination_workload === UNKNOWN) continue;
    const key = BY.filter((label) => label !== 'reporter').map((label) => labels[label]).join('\u0000');
    const known = best.get(key);
    if (!known) best.set(key, { reading, reporters: [labels.reporter ?? ''] });
    else {
      known.reporters.push(labels.reporter ?? '');
      if (reading.count > known.reading.count) known.reading = { ...reading, perSecond: Math.max(reading.perSecond, known.reading.perSecond) };
      else known.reading.perSecond = Math.max(reading.perSecond, known.reading.perSecond);
    }
  }
  return [...best.values()].map(({ reading, reporters }) => {
    const labels = reading.labels;
    const from: ObservedPeer = !labels.source_workload || labels.source_workload === UNKNOWN
      ? { outside: 'unknown' }
      : { namespace: labels.source_workload_namespace ?? '', name: labels.source_workload, ...(labels.source_cluster && labels.source_cluster !== UNKNOWN ? { cluster: labels.source_cluster } : {}) };
    const to: ObservedPeer = { namespace: labels.destination_workload_namespace ?? '', name: labels.destination_workload!, ...(labels.destination_cluster && labels.destination_cluster !== UNKNOWN ? { cluster: labels.destination_cluster } : {}) };
    const selector = `${metric}{source_workload="${labels.source_workload}",source_workload_namespace="${labels.source_workload_namespace}",destination_workload="${labels.destination_workload}",destination_workload_namespace="${labels.destination_workload_namespace}"}`;
    const reported = [...new Set(reporters)].sort().join('+');
    return {
      from,
      to,
      requestsPerSecond: reading.perSecond,
      requests: Math.round(reading.count),
      protocol: metric === ISTIO_TCP_OPENED ? 'tcp' : labels.request_protocol || 'http',
      evidence: `${selector} reporter=${reported}${reporters.length > 1 ? ' (the larger count)' : ''}`,
      source,
    };
  });
}

/** Istio's metrics in a Prometheus (`--observed prometheus=http://prometheus:9090`). */
export function istioPrometheusSource(name: string, url: string): ObservedEdgeSource {
  return {
    name,
    history: 'window',
    async observe(window: ObserveWindow) {
      const at = window.at ?? Date.now();
      const read = (metric: string) => prometheusReadings(url, metric, BY, window.seconds, at);
      try {
        const [requests, connections] = await Promise.all([read(ISTIO_REQUESTS), read(ISTIO_TCP_OPENED)]);
        return istioEdges(requests, connections, name);
      } catch (error) {
        throw prometheusError(name, url, error, `a Prometheus that scrapes Istio's proxies (istio_requests_total), e.g. --observed prometheus=http://prometheus.istio-system:9090`);
      }
    },
  };
}

/** Istio-shaped metrics read straight from their exporter (the lab's service network). */
export function istioExpositionSource(name: string, metricsUrl: () => Promise<string>, fix: string): ObservedEdgeSource {
  return {
    name,
    history: 'since-start',
    async observe(window: ObserveWindow) {
      const url = await metricsUrl();
      const { first, second, seconds } = await scrapeTwice(url, Math.min(window.sampleSeconds, window.seconds), name, fix, new Set([ISTIO_REQUESTS, ISTIO_TCP_OPENED]));
      return istioEdges(readingsFromScrapes(first, second, ISTIO_REQUESTS, seconds), readingsFromScrapes(first, second, ISTIO_TCP_OPENED, seconds), name);
    },
  };
}

export function prometheusError(source: string, url: string, error: unknown, fix: string): FerryError {
  // queryVector's own message names the URL already; its cause is the plain reason.
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const reason = error instanceof FerryError && error.code === 'analysis.promql' ? error.message : cause instanceof Error ? cause.message : String(cause);
  return new FerryError('graph.observed-unreachable', `--observed ${source}: cannot query Prometheus at ${withoutCredentials(url)}: ${reason}`, { location: { field: '--observed' }, fix: `pass the URL of ${fix}`, cause: error });
}
