/**
 * Edges from Linkerd's proxy metrics in a Prometheus
 * (https://linkerd.io/2/reference/proxy-metrics/): `request_total{direction="outbound"}` and
 * `tcp_open_total{direction="outbound"}`, caller = `namespace` + `deployment`/`statefulset`/
 * `daemonset`, callee = `dst_namespace` + `dst_deployment`/`dst_statefulset`/`dst_daemonset`.
 * Only the caller's proxy reports outbound traffic, so nothing is counted twice; a caller
 * outside the mesh has no outbound series and is not seen (its callee's inbound series do
 * not name it).
 */
import { prometheusReadings, type CounterReading } from './counters.js';
import { prometheusError } from './istio.js';
import type { ObservedEdge, ObservedEdgeSource, ObservedWorkload, ObserveWindow } from './model.js';

const KINDS = [['deployment', 'Deployment'], ['statefulset', 'StatefulSet'], ['daemonset', 'DaemonSet']] as const;
const BY = ['namespace', 'dst_namespace', ...KINDS.flatMap(([label]) => [label, `dst_${label}`])];

export function linkerdEdges(requests: readonly CounterReading[], connections: readonly CounterReading[], source: string): ObservedEdge[] {
  const edges: ObservedEdge[] = [];
  for (const [metric, readings, protocol] of [['request_total', requests, 'http'], ['tcp_open_total', connections, 'tcp']] as const) {
    for (const reading of readings) {
      const from = workload(reading.labels, '');
      const to = workload(reading.labels, 'dst_');
      if (!from || !to) continue;
      const selector = `${metric}{direction="outbound",namespace="${from.namespace}",${from.kind!.toLowerCase()}="${from.name}",dst_namespace="${to.namespace}",dst_${to.kind!.toLowerCase()}="${to.name}"}`;
      edges.push({ from, to, requestsPerSecond: reading.perSecond, requests: Math.round(reading.count), protocol, evidence: selector, source });
    }
  }
  return edges;
}

function workload(labels: Record<string, string>, prefix: '' | 'dst_'): ObservedWorkload | undefined {
  const namespace = labels[`${prefix}namespace`];
  for (const [label, kind] of KINDS) {
    const name = labels[`${prefix}${label}`];
    if (name && namespace) return { namespace, name, kind };
  }
  return undefined;
}

export function linkerdPrometheusSource(name: string, url: string): ObservedEdgeSource {
  return {
    name,
    history: 'window',
    async observe(window: ObserveWindow) {
      const at = window.at ?? Date.now();
      try {
        const [requests, connections] = await Promise.all([
          prometheusReadings(url, 'request_total{direction="outbound"}', BY, window.seconds, at),
          prometheusReadings(url, 'tcp_open_total{direction="outbound"}', BY, window.seconds, at),
        ]);
        return linkerdEdges(requests, connections, name);
      } catch (error) {
        throw prometheusError(name, url, error, 'the Prometheus that scrapes Linkerd\'s proxies (linkerd-viz installs one), e.g. --observed linkerd=http://prometheus.linkerd-viz:9090');
      }
    },
  };
}
