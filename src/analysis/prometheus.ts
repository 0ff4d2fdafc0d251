/**
 * MetricsProvider over Prometheus' HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/),
 * reading the embedded router's series (docs/architecture.md, "The router's observation
 * API"). Counts per bucket are differences of the raw counters sampled at bucket edges —
 * not `increase()`, which extrapolates to the range edges and gives fractional requests.
 * Latencies come from the duration histogram: each response counts at its bucket's upper
 * bound, so the rank test sees the histogram as tie groups (which is what it is).
 */
import { request } from 'undici';
import { FerryError } from '../util/errors.js';
import type { Bucket, MetricsProvider } from './metrics-provider.js';

export interface PrometheusOptions {
  /** Base URL, e.g. http://127.0.0.1:9090 */
  url: string;
  /** The router route whose backends are judged. */
  route: string;
  /** Scrape interval of the router job, ms: the finest bucket Prometheus can give. */
  scrapeIntervalMs: number;
  timeoutMs?: number;
}

interface RangeSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

export class PrometheusMetricsProvider implements MetricsProvider {
  readonly name = 'prometheus';
  readonly resolutionMs: number;

  constructor(private readonly options: PrometheusOptions) {
    this.resolutionMs = options.scrapeIntervalMs;
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
    const selector = `{route=${JSON.stringify(this.options.route)},backend=${JSON.stringify(backend)},role!="shadow"}`;
    const [requests, errors, histogram] = await Promise.all([
      this.range(`sum(ferry_router_requests_total${selector})`, from, to, widthMs),
      this.range(`sum(ferry_router_errors_total${selector})`, from, to, widthMs),
      this.range(`sum by (le) (ferry_router_request_duration_seconds_bucket${selector})`, from, to, widthMs),
    ]);
    const edges: number[] = [];
    for (let t = from; t <= to; t += widthMs) edges.push(t);
    const requestDeltas = deltas(requests[0], edges);
    const errorDeltas = deltas(errors[0], edges);
    const les = histogram
      .map((series) => ({ le: series.metric.le === '+Inf' ? Infinity : Number(series.metric.le), cumulative: deltas(series, edges) }))
      .sort((a, b) => a.le - b.le);
    const lastFinite = les.filter((b) => Number.isFinite(b.le)).at(-1)?.le ?? 10;
    return edges.slice(0, -1).map((start, i) => {
      const latenciesMs: number[] = [];
      let below = 0;
      for (const bucket of les) {
        const cumulative = bucket.cumulative[i] ?? 0;
        const count = Math.max(0, cumulative - below);
        below = Math.max(below, cumulative);
        const valueMs = (Number.isFinite(bucket.le) ? bucket.le : 2 * lastFinite) * 1000;
        for (let k = 0; k < count; k++) latenciesMs.push(valueMs);
      }
      return { start, requests: requestDeltas[i] ?? 0, errors: errorDeltas[i] ?? 0, latenciesMs };
    });
  }

  private async range(query: string, from: number, to: number, stepMs: number): Promise<RangeSeries[]> {
    const data = (await this.api('/api/v1/query_range', { query, start: String(from / 1000), end: String(to / 1000), step: String(stepMs / 1000) })) as { result: RangeSeries[] };
    return data.result;
  }

  private async api(path: string, params: Record<string, string>): Promise<unknown> {
    const url = new URL(path, this.options.url);
    let payload: { status?: string; data?: unknown; error?: string };
    try {
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString(),
        headersTimeout: this.options.timeoutMs ?? 5000,
        bodyTimeout: this.options.timeoutMs ?? 5000,
      });
      payload = (await response.body.json()) as typeof payload;
    } catch (error) {
      throw new FerryError('analysis.prometheus-unreachable', `cannot reach Prometheus at ${this.options.url}: ${(error as Error).message}`, {
        fix: 'check the metrics provider URL in the plan and that Prometheus is running',
        cause: error,
      });
    }
    if (payload.status !== 'success') {
      throw new FerryError('analysis.promql', `Prometheus rejected ${params.query}: ${payload.error ?? 'unknown error'}`, { fix: 'correct the PromQL expression' });
    }
    return payload.data;
  }
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
