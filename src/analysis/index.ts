/**
 * The metrics-provider factory: one case per product, like the traffic factory
 * (src/traffic/index.ts) — a misspelt type is an error naming the field, never a guess.
 * `metricsForSlice` is what a run calls for each slice that moves traffic: the plan's
 * Prometheus, reading the series the slice's traffic product exports (default-queries.ts)
 * or the slice's own `traffic.queries`.
 */
import { z } from 'zod';
import type { MigrationPlan } from '../plan/schema.js';
import type { TrafficProviderConfig } from '../traffic/provider-config.js';
import { FerryError } from '../util/errors.js';
import { defaultQueries, overrideQueries, type SliceQueries } from './default-queries.js';
import { parseDuration } from './gates-schema.js';
import type { MetricsProvider } from './metrics-provider.js';
import { PrometheusMetricsProvider } from './prometheus.js';
import type { SideQueriesOverride } from './queries-schema.js';
import { RouterMetricsProvider } from './router-metrics.js';

export type { Bucket, MetricsProvider } from './metrics-provider.js';
export type { SideQueries, SliceQueries } from './default-queries.js';
export { defaultQueries, overrideQueries } from './default-queries.js';
export { sideQueriesSchema, type SideQueriesOverride } from './queries-schema.js';
export { PrometheusMetricsProvider } from './prometheus.js';
export { RouterMetricsProvider, observeRouter } from './router-metrics.js';

const seriesSchema = z
  .object({
    requests: z.string().min(1),
    errors: z.string().min(1),
    latency: z.object({ query: z.string().min(1), unit: z.enum(['s', 'ms']) }).strict().optional(),
  })
  .strict();

export const metricsProviderSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('router'),
      resolutionMs: z.number().int().positive().optional(),
      retentionMs: z.number().int().positive().optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('prometheus'),
      url: z.url({ protocol: /^https?$/ }),
      scrapeIntervalMs: z.number().int().positive(),
      timeoutMs: z.number().int().positive().optional(),
      /** The series of each backend, by the name the judge calls it. */
      backends: z.record(z.string(), seriesSchema),
      noLatency: z.string().optional(),
    })
    .strict(),
]);

export type MetricsProviderConfig = z.input<typeof metricsProviderSchema>;

/** Picks the metrics module for a config: one line per product. */
export function createMetricsProvider(input: MetricsProviderConfig | unknown): MetricsProvider {
  const parsed = metricsProviderSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new FerryError('config', issue.message, {
      location: { field: ['metrics', ...issue.path].map(String).join('.') },
      fix: 'see docs/architecture.md (Analysis, "Default queries per provider")',
    });
  }
  const config = parsed.data;
  switch (config.type) {
    case 'router':
      return new RouterMetricsProvider({ ...(config.resolutionMs ? { resolutionMs: config.resolutionMs } : {}), ...(config.retentionMs ? { retentionMs: config.retentionMs } : {}) });
    case 'prometheus':
      return new PrometheusMetricsProvider({
        url: config.url,
        scrapeIntervalMs: config.scrapeIntervalMs,
        backends: config.backends,
        ...(config.timeoutMs ? { timeoutMs: config.timeoutMs } : {}),
        ...(config.noLatency ? { noLatency: config.noLatency } : {}),
      });
  }
}

export interface SliceMetricsInput {
  metrics: MigrationPlan['spec']['metrics'];
  /** The slice's traffic provider settings. */
  traffic: TrafficProviderConfig;
  /** The slice's `traffic.queries`, which replace the provider's defaults. */
  queries?: SideQueriesOverride | undefined;
  /** kubeconfig context names of the plan's source and target. */
  clusters: { source?: string | undefined; target?: string | undefined };
  sliceName: string;
}

/** What each product's metrics come from, for the message when the plan has no spec.metrics. */
const SCRAPE_HINT: Record<TrafficProviderConfig['type'], string> = {
  router: 'scraping the router\'s admin /metrics',
  haproxy: 'scraping HAProxy\'s exporter (http-request use-service prometheus-exporter if { path /metrics })',
  istio: 'scraping Istio\'s proxies',
  'gateway-api': 'scraping the Gateway implementation\'s proxies',
  'ingress-nginx': 'scraping the ingress-nginx controller (:10254/metrics)',
  powerdns: 'scraping both clusters\' ingress controllers, each job adding a cluster label',
  route53: 'scraping both clusters\' ingress or load balancer metrics',
};

/**
 * The series the judge reads for one slice: the slice's `traffic.queries`, or its provider's
 * defaults. Pure; throws a FerryError naming the field and the fix when there are none.
 */
export function queriesForSlice(input: Omit<SliceMetricsInput, 'metrics'>): SliceQueries {
  if (input.queries) return overrideQueries(input.queries);
  return defaultQueries(input.traffic, { clusters: clean(input.clusters), sliceName: input.sliceName });
}

/**
 * The judge's metrics for a slice that moves traffic: the plan's Prometheus reading the
 * slice's series, and the backend names to judge (`source`, `target`: also what `$source`
 * and `$target` become in PromQL gates). Builds nothing that connects: no I/O until used.
 */
export function metricsForSlice(input: SliceMetricsInput): { provider: MetricsProvider; source: string; target: string } {
  if (!input.metrics) {
    throw new FerryError('plan', `slice ${input.sliceName} moves traffic (${input.traffic.type}) but the plan names no metrics to judge it by`, {
      location: { field: 'spec.metrics' },
      fix: `add spec.metrics: { provider: prometheus, url: http://…:9090, scrapeInterval: 5s } with a Prometheus ${SCRAPE_HINT[input.traffic.type]}`,
    });
  }
  const queries = queriesForSlice(input);
  const provider = createMetricsProvider({
    type: 'prometheus',
    url: input.metrics.url,
    scrapeIntervalMs: parseDuration(input.metrics.scrapeInterval),
    backends: { [queries.names.source]: queries.source, [queries.names.target]: queries.target },
    ...(queries.noLatency ? { noLatency: queries.noLatency } : {}),
  });
  return { provider, source: queries.names.source, target: queries.names.target };
}

function clean(clusters: SliceMetricsInput['clusters']): { source?: string; target?: string } {
  return { ...(clusters.source ? { source: clusters.source } : {}), ...(clusters.target ? { target: clusters.target } : {}) };
}
