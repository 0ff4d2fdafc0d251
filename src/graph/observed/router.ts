/**
 * Edges from the embedded router's own metrics (its admin API's `/metrics`):
 * `ferry_router_requests_total{route, backend, role, code}`. The router stands in front of
 * users, and a route is named after the plan slice it carries, so each route with requests
 * is an edge from users to that slice. Mirrored copies (`role="shadow"`) are not user
 * requests and do not count.
 */
import { readingsFromScrapes, scrapeTwice, sumBy, type CounterReading } from './counters.js';
import type { ObservedEdge, ObservedEdgeSource, ObserveWindow } from './model.js';

export const ROUTER_REQUESTS = 'ferry_router_requests_total';

export function routerEdges(readings: readonly CounterReading[], source: string): ObservedEdge[] {
  return sumBy(readings.filter((reading) => reading.labels.role !== 'shadow'), ['route'])
    .filter((reading) => reading.labels.route)
    .map((reading) => ({
      from: { outside: 'users' as const },
      to: { slice: reading.labels.route! },
      requestsPerSecond: reading.perSecond,
      requests: Math.round(reading.count),
      protocol: 'http',
      evidence: `${ROUTER_REQUESTS}{route="${reading.labels.route}",role=~"source|target"}`,
      source,
    }));
}

/** `router=http://admin:9901`: the admin API's /metrics, read directly. */
export function routerSource(name: string, adminUrl: string): ObservedEdgeSource {
  const url = new URL('/metrics', adminUrl).toString();
  return {
    name,
    history: 'since-start',
    async observe(window: ObserveWindow) {
      const fix = 'pass the router\'s admin API (the adminUrl of router.yaml), e.g. --observed router=http://127.0.0.1:9901';
      const { first, second, seconds } = await scrapeTwice(url, Math.min(window.sampleSeconds, window.seconds), name, fix, new Set([ROUTER_REQUESTS]));
      return routerEdges(readingsFromScrapes(first, second, ROUTER_REQUESTS, seconds), name);
    },
  };
}
