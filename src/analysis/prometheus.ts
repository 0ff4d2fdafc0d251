/**
 * MetricsProvider over Prometheus' HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/),
 * reading, per side, a requests counter, an errors counter and a latency histogram given as
 * PromQL (default-queries.ts: the series each traffic product exports; or the plan's
 * `traffic.queries`). Counts per bucket are differences of the raw counters sampled at bucket
 * edges — not `increase()`, which extrapolates to the range edges and gives fractional
 * requests. Latencies come from the histogram: each response counts at its bucket's upper
 * bound, so the rank test sees the histogram as tie groups (which is what it is).
 */
import { request } from 'undici';
import { FerryError } from '../util/errors.js';
import { withoutCredentials } from '../util/url.js';
import { routerQueries, type SideQueries } from './default-queries.js';
import type { Bucket, MetricsProvider } from './metrics-provider.js';

export interface PrometheusOptions {
  /** Base URL, e.g. http://127.0.0.1:9090 */
  url: string;
  /** Scrape interval of the jobs read, ms: the finest bucket Prometheus can give. */
  scrapeIntervalMs: number;
  timeoutMs?: number;
  /** The series of each backend, by the name `buckets()` is called with. */
  backends?: Record<string, SideQueries>;
  /** Why there is no latency histogram, when there is none (shown by latency gates). */
  noLatency?: string;
  /** Shorthand for the embedded router's series of one route: backends `source` and `target` (by role). */
  route?: string;
}

interface RangeSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

export class PrometheusMetricsProvider implements MetricsProvider {
  readonly name = 'prometheus';
  readonly resolutionMs: number;
  readonly noLatency?: string;
  private readonly backends: Record<string, SideQueries>;

  constructor(private readonly options: PrometheusOptions) {
    this.resolutionMs = options.scrapeIntervalMs;
    if (options.noLatency) this.noLatency = options.noLatency;
    const router = options.route !== undefined ? routerQueries(options.route) : undefined;
    this.backends = options.backends ?? (router ? { source: router.source, target: router.target } : {});
    if (Object.keys(this.backends).length === 0) {
      throw new FerryError('config', 'the Prometheus metrics provider was given no series to read', { fix: 'pass backends (see createMetricsProvider in src/analysis/index.ts) or a router route' });
    }
  }

  async isOnline(): Promise<boolean> {
    try {
      const response = await request(new URL('/-/ready', this.options.url), { headersTimeout: this.options.timeoutMs ?? 5000 });
      await response.body.dump();
      return response.statusCode === 200;
    } catch {
      return false;
    }
  }

  async query(expression: string, at: number): Promise<number> {
    const data = (await this.api('/api/v1/query', { query: expression, time: String(at / 1000) })) as { resultType: string; result: unknown };
    if (data.resultType === 'scalar') return Number((data.result as [number, string])[1]);
    const vector = data.result as Array<{ value: [number, string] }>;
    if (vector.length !== 1) {
      throw new FerryError('analysis.promql-shape', `PromQL gate query returned ${vector.length} series, expected exactly one: ${expression}`, {
        fix: 'aggregate the query to one number, e.g. wrap it in sum(...)',
      });
    }
    return Number(vector[0]!.value[1]);
  }

  async buckets(backend: string, from: number, to: number, widthMs: number): Promise<Bucket[]> {
    const queries = this.backends[backend];
    if (!queries) {
      throw new FerryError('analysis.unknown-backend', `the Prometheus metrics provider has no series for backend ${JSON.stringify(backend)} (it knows ${Object.keys(this.backends).map((name) => JSON.stringify(name)).join(', ')})`, {
        fix: 'judge the slice with the source and target names metricsForSlice returned',
      });
    }
    const [requests, errors, histogram] = await Promise.all([
      this.range(queries.requests, from, to, widthMs),
      this.range(queries.errors, from, to, widthMs),
      queries.latency ? this.range(queries.latency.query, from, to, widthMs) : Promise.resolve([]),
    ]);
    const edges: number[] = [];
    for (let t = from; t <= to; t += widthMs) edges.push(t);
    const requestDeltas = deltas(single(requests, queries.requests), edges);
    const errorDeltas = deltas(single(errors, queries.errors), edges);
    const toMs = queries.latency?.unit === 'ms' ? 1 : 1000;
    const les = histogram
      .map((series) => ({ le: series.metric.le === '+Inf' ? Infinity : Number(series.metric.le), cumulative: deltas(series, edges) }))
      .sort((a, b) => a.le - b.le);
    const lastFinite = les.filter((b) => Number.isFinite(b.le)).at(-1)?.le ?? 10_000 / toMs;
    return edges.slice(0, -1).map((start, i) => {
      const latenciesMs: number[] = [];
      let below = 0;
      for (const bucket of les) {
        const cumulative = bucket.cumulative[i] ?? 0;
        const count = Math.max(0, cumulative - below);
        below = Math.max(below, cumulative);
        const valueMs = (Number.isFinite(bucket.le) ? bucket.le : 2 * lastFinite) * toMs;
        for (let k = 0; k < count; k++) latenciesMs.push(valueMs);
      }
      return { start, requests: requestDeltas[i] ?? 0, errors: errorDeltas[i] ?? 0, latenciesMs };
    });
  }

  private async range(query: string, from: number, to: number, stepMs: number): Promise<RangeSeries[]> {
    const data = (await this.api('/api/v1/query_range', { query, start: String(from / 1000), end: String(to / 1000), step: String(stepMs / 1000) })) as { result: RangeSeries[] };
    return data.result;
  }

  private api(path: string, params: Record<string, string>): Promise<unknown> {
    return prometheusApi(this.options.url, path, params, this.options.timeoutMs);
  }
}

/** One labelled value of an instant vector. */
export interface VectorSample {
  labels: Record<string, string>;
  value: number;
}

/** An instant query's whole vector (e.g. call counts by caller), for callers that need the labels. */
export async function queryVector(url: string, expression: string, at: number, timeoutMs?: number): Promise<VectorSample[]> {
  const data = (await prometheusApi(url, '/api/v1/query', { query: expression, time: String(at / 1000) }, timeoutMs)) as { resultType: string; result: unknown };
  if (data.resultType !== 'vector') return [];
  return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((sample) => ({ labels: sample.metric, value: Number(sample.value[1]) }));
}

async function prometheusApi(base: string, path: string, params: Record<string, string>, timeoutMs = 5000): Promise<unknown> {
  const url = new URL(path, base);
  let payload: { status?: string; data?: unknown; error?: string };
  try {
    const response = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    payload = (await response.body.json()) as typeof payload;
  } catch (error) {
    throw new FerryError('analysis.prometheus-unreachable', `cannot reach Prometheus at ${withoutCredentials(base, '<the configured Prometheus URL>')}: ${(error as Error).message}`, {
      fix: 'check the metrics provider URL in the plan and that Prometheus is running',
      cause: error,
    });
  }
  if (payload.status !== 'success') {
    throw new FerryError('analysis.promql', `Prometheus rejected ${params.query}: ${payload.error ?? 'unknown error'}`, { fix: 'correct the PromQL expression' });
  }
  return payload.data;
}

/** The one series a counter query must give (none yet is fine: no traffic so far). */
function single(result: RangeSeries[], query: string): RangeSeries | undefined {
  if (result.length > 1) {
    throw new FerryError('analysis.promql-shape', `the counter query returned ${result.length} series, expected one: ${query}`, { fix: 'aggregate it to one series, e.g. wrap it in sum(...)' });
  }
  return result[0];
}

/**
 * Per-interval increases of a counter sampled at `edges`: a missing sample (no series yet)
 * is 0, and a decrease is a counter reset (router restarted), after which the new value is
 * the increase.
 */
function deltas(series: RangeSeries | undefined, edges: number[]): number[] {
  const byTime = new Map<number, number>();
  for (const [t, v] of series?.values ?? []) byTime.set(Math.round(t * 1000), Number(v));
  const values = edges.map((edge) => byTime.get(edge) ?? 0);
  return values.slice(1).map((value, i) => (value >= values[i]! ? value - values[i]! : value));
}
