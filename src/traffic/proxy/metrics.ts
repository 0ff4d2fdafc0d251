import { Counter, Gauge, Histogram, Registry, type HistogramConfiguration, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';
import type { MismatchReason } from './compare.js';
import { GRPC_STATUS_NAMES, grpcError } from './grpc.js';

/**
 * Per-backend request and error counts and latency histograms, served by the admin API at
 * /metrics (Prometheus) and /metrics.json, plus in-process observation listeners for the
 * analysis gates (docs/architecture.md, "The router's observation API").
 *
 * The request path only increments numbers in a fixed array per route/backend/role series
 * (resolved once per route, see `RouterMetrics.series`); prom-client reads those arrays when
 * /metrics is scraped. prom-client's own observe()/inc() hash the label set on every call,
 * which cost ~4 % of the router's CPU per request under load.
 */
export type BackendRole = 'source' | 'target' | 'shadow';

export interface ResponseObservation {
  route: string;
  backend: string;
  role: BackendRole;
  /**
   * HTTP status returned to the client (or by the shadow); 502 when no backend answered.
   * 0 for an attempt on this backend that got no response and was retried on the other one.
   */
  status: number;
  latencyMs: number;
  /** Epoch milliseconds from the router's injected clock, taken when the response ended. */
  at: number;
  /**
   * Set when the backend gave no (complete) response: the undici or HTTP/2 error code; or,
   * for a gRPC call answered with a grpc-status other than 0, `grpc <NAME>` (e.g. `grpc UNAVAILABLE`).
   */
  error?: string;
  /** The call's grpc-status (trailer, or header of a trailers-only response), for gRPC calls. */
  grpcStatus?: number;
  /** True when the request was answered by the other backend after a failed connect. */
  retried?: boolean;
}

export type ResponseListener = (observation: ResponseObservation) => void;

/** Upper bounds in seconds: fine below 10 ms where proxy overhead lives. */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LATENCY_BUCKETS_MS = LATENCY_BUCKETS_SECONDS.map((le) => le * 1000);
const STATUS_KEYS = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export interface BackendSnapshot {
  route: string;
  backend: string;
  role: BackendRole;
  requests: number;
  errors: number;
  byStatusClass: Record<string, number>;
  /** gRPC calls by grpc-status name, when there were any. */
  grpcByStatus?: Record<string, number>;
  websockets?: { opened: number; open: number };
  latency: { count: number; sumMs: number; bucketsMs: Array<{ le: number; count: number }>; p50Ms: number; p99Ms: number };
}

/** The counters of one route/backend/role, updated in place by the request path. */
export class Series {
  requests = 0;
  errors = 0;
  sumMs = 0;
  /** Requests by status class: index 0 'none' (no response), 1..5 '1xx'..'5xx'. */
  readonly byStatusClass = [0, 0, 0, 0, 0, 0];
  /** Non-cumulative latency bucket counts; the last slot is above the largest bound. */
  readonly counts = new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0);
  /** gRPC calls by grpc-status code (0–16); their HTTP status is counted above as well. */
  readonly grpcByStatus = new Array<number>(GRPC_STATUS_NAMES.length).fill(0);
  /** WebSocket (Upgrade) connections opened through this backend, and those still open. */
  websocketsOpened = 0;
  websocketsOpen = 0;
  readonly labels: { route: string; backend: string; role: BackendRole };

  constructor(
    readonly route: string,
    readonly backend: string,
    readonly role: BackendRole,
  ) {
    this.labels = { route, backend, role };
  }
}

/**
 * A prom-client histogram whose values come from the `Series` arrays at scrape time. Only
 * get()/getForPromString() are replaced; the exposition text is what prom-client's own
 * histogram prints (`le` first, then the series' labels).
 */
class SeriesHistogram extends Histogram<string> {
  private readonly metricName: string;
  private readonly metricHelp: string;

  constructor(
    configuration: HistogramConfiguration<string>,
    private readonly source: () => Iterable<Series>,
  ) {
    super(configuration);
    this.metricName = configuration.name;
    this.metricHelp = configuration.help;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const name = this.metricName;
    const values: Array<MetricValueWithName<string>> = [];
    for (const series of this.source()) {
      if (series.requests === 0) continue;
      let cumulative = 0;
      for (let i = 0; i < LATENCY_BUCKETS_SECONDS.length; i++) {
        cumulative += series.counts[i]!;
        values.push({ labels: { le: LATENCY_BUCKETS_SECONDS[i]!, ...series.labels }, value: cumulative, metricName: `${name}_bucket` });
      }
      values.push({ labels: { le: '+Inf', ...series.labels }, value: series.requests, metricName: `${name}_bucket` });
      values.push({ labels: { ...series.labels }, value: series.sumMs / 1000, metricName: `${name}_sum` });
      values.push({ labels: { ...series.labels }, value: series.requests, metricName: `${name}_count` });
    }
    // prom-client types `type` as a numeric enum that its JavaScript does not export; the registry prints the string.
    return { name, help: this.metricHelp, type: 'histogram' as unknown as MetricObjectWithValues<MetricValueWithName<string>>['type'], values, aggregator: 'sum', collect: () => undefined };
  }

  /** The registry prefers this one when present (prom-client's histogram defines it). */
  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    return this.get();
  }
}

export class RouterMetrics {
  readonly registry = new Registry();
  private readonly mirrorCompared: Counter<string>;
  private readonly mirrorMismatches: Counter<string>;
  private readonly byKey = new Map<string, Series>();
  private listeners: ResponseListener[] = [];

  constructor() {
    const registers = [this.registry];
    const all = () => this.byKey.values();
    new Counter({
      name: 'ferry_router_requests_total',
      help: 'Requests answered, by backend and status class',
      labelNames: ['route', 'backend', 'role', 'code'],
      registers,
      collect() {
        this.reset();
        for (const series of all()) {
          series.byStatusClass.forEach((count, i) => {
            if (count > 0) this.inc({ ...series.labels, code: STATUS_KEYS[i]! }, count);
          });
        }
      },
    });
    new Counter({
      name: 'ferry_router_errors_total',
      help: 'Responses with status >= 500, gRPC calls with a grpc-status other than 0, or no response',
      labelNames: ['route', 'backend', 'role'],
      registers,
      collect() {
        this.reset();
        for (const series of all()) if (series.errors > 0) this.inc(series.labels, series.errors);
      },
    });
    new Counter({
      name: 'ferry_router_grpc_calls_total',
      help: 'gRPC calls answered, by grpc-status code (a code other than 0 is also counted in ferry_router_errors_total)',
      labelNames: ['route', 'backend', 'role', 'grpc_status'],
      registers,
      collect() {
        this.reset();
        for (const series of all()) {
          series.grpcByStatus.forEach((count, code) => {
            if (count > 0) this.inc({ ...series.labels, grpc_status: String(code) }, count);
          });
        }
      },
    });
    new Counter({
      name: 'ferry_router_websocket_connections_total',
      help: 'WebSocket (HTTP/1.1 Upgrade) connections opened to a backend',
      labelNames: ['route', 'backend', 'role'],
      registers,
      collect() {
        this.reset();
        for (const series of all()) if (series.websocketsOpened > 0) this.inc(series.labels, series.websocketsOpened);
      },
    });
    new Gauge({
      name: 'ferry_router_websocket_connections_open',
      help: 'WebSocket connections open now, on the backend they were opened on',
      labelNames: ['route', 'backend', 'role'],
      registers,
      collect() {
        this.reset();
        for (const series of all()) if (series.websocketsOpened > 0) this.set(series.labels, series.websocketsOpen);
      },
    });
    new SeriesHistogram({ name: 'ferry_router_request_duration_seconds', help: 'Time from request start to response end', labelNames: ['route', 'backend', 'role'], buckets: LATENCY_BUCKETS_SECONDS, registers }, all);
    this.mirrorCompared = new Counter({ name: 'ferry_router_mirror_compared_total', help: 'Mirrored requests whose responses were compared', labelNames: ['route'], registers });
    this.mirrorMismatches = new Counter({ name: 'ferry_router_mirror_mismatches_total', help: 'Compared pairs that differed, by first reason', labelNames: ['route', 'reason'], registers });
  }

  /** Subscribes to every finished response; returns the unsubscribe function. */
  onResponse(listener: ResponseListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((existing) => existing !== listener);
    };
  }

  /** The series of one route/backend/role; the router resolves it once per route and backend. */
  series(route: string, backend: string, role: BackendRole): Series {
    const key = `${route}\u0000${role}\u0000${backend}`;
    let series = this.byKey.get(key);
    if (!series) {
      series = new Series(route, backend, role);
      this.byKey.set(key, series);
    }
    return series;
  }

  observe(observation: ResponseObservation): void {
    this.record(this.series(observation.route, observation.backend, observation.role), observation.status, observation.latencyMs, observation.at, observation.error, observation.retried === true, observation.grpcStatus ?? -1);
  }

  /**
   * The request path's entry: counts one response (or failed attempt) of `series`.
   * `grpcStatus` is the call's grpc-status, -1 for plain HTTP: a gRPC failure answers HTTP
   * 200, so a code other than 0 is an error exactly as a 5xx is, and reaches the listeners
   * with `error: "grpc NAME"` (what src/analysis/router-metrics.ts counts as a failure).
   */
  record(series: Series, status: number, latencyMs: number, at: number, error: string | undefined, retried: boolean, grpcStatus = -1): void {
    // Index 0 ('none') counts attempts that got no response at all (status 0).
    const statusClass = status === 0 ? 0 : status >= 500 ? 5 : status < 100 ? 1 : (status / 100) | 0;
    series.requests++;
    series.byStatusClass[statusClass]!++;
    if (grpcStatus >= 0) {
      series.grpcByStatus[grpcStatus]!++;
      if (grpcStatus > 0 && error === undefined) error = grpcError(grpcStatus);
    }
    if (status >= 500 || error !== undefined) series.errors++;
    series.sumMs += latencyMs;
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && latencyMs > LATENCY_BUCKETS_MS[i]!) i++;
    series.counts[i]!++;
    const listeners = this.listeners;
    if (listeners.length === 0) return;
    const observation: ResponseObservation = { route: series.route, backend: series.backend, role: series.role, status, latencyMs, at };
    if (error !== undefined) observation.error = error;
    if (retried) observation.retried = true;
    if (grpcStatus >= 0) observation.grpcStatus = grpcStatus;
    for (const listener of listeners) listener(observation);
  }

  countComparison(route: string, reason: MismatchReason | undefined): void {
    this.mirrorCompared.labels({ route }).inc();
    if (reason) this.mirrorMismatches.labels({ route, reason }).inc();
  }

  /** Per route/backend/role counters and latency histogram, in a stable order. */
  snapshot(): BackendSnapshot[] {
    return [...this.byKey.keys()].sort().flatMap((key) => {
      const series = this.byKey.get(key)!;
      if (series.requests === 0) return [];
      let cumulative = 0;
      const bucketsMs = LATENCY_BUCKETS_MS.map((le, i) => ({ le, count: (cumulative += series.counts[i]!) }));
      bucketsMs.push({ le: Number.POSITIVE_INFINITY, count: cumulative + series.counts[LATENCY_BUCKETS_MS.length]! });
      const count = series.requests;
      const byStatusClass: Record<string, number> = {};
      series.byStatusClass.forEach((n, i) => {
        if (n > 0) byStatusClass[STATUS_KEYS[i]!] = n;
      });
      let grpcByStatus: Record<string, number> | undefined;
      series.grpcByStatus.forEach((n, code) => {
        if (n > 0) (grpcByStatus ??= {})[GRPC_STATUS_NAMES[code]!] = n;
      });
      return [
        {
          route: series.route,
          backend: series.backend,
          role: series.role,
          requests: series.requests,
          errors: series.errors,
          byStatusClass,
          ...(grpcByStatus ? { grpcByStatus } : {}),
          ...(series.websocketsOpened > 0 ? { websockets: { opened: series.websocketsOpened, open: series.websocketsOpen } } : {}),
          latency: { count, sumMs: series.sumMs, bucketsMs, p50Ms: quantileFromBuckets(bucketsMs, count, 0.5), p99Ms: quantileFromBuckets(bucketsMs, count, 0.99) },
        },
      ];
    });
  }
}

/** Linear interpolation inside the bucket holding the quantile, as Prometheus' histogram_quantile does. */
export function quantileFromBuckets(buckets: Array<{ le: number; count: number }>, total: number, q: number): number {
  if (total === 0) return 0;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return lower;
      const inBucket = bucket.count - below;
      return inBucket === 0 ? bucket.le : lower + ((bucket.le - lower) * (rank - below)) / inBucket;
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return lower;
}
