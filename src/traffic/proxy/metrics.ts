import { Counter, Histogram, Registry, type LabelValues } from 'prom-client';
import type { MismatchReason } from './compare.js';

/**
 * Per-backend request and error counts and latency histograms, served by the admin API at
 * /metrics (Prometheus) and /metrics.json, plus in-process observation listeners for the
 * analysis gates (docs/architecture.md, "The router's observation API").
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
  /** Set when the backend gave no (complete) response: the undici error code. */
  error?: string;
  /** True when the request was answered by the other backend after a failed connect. */
  retried?: boolean;
}

export type ResponseListener = (observation: ResponseObservation) => void;

/** Upper bounds in seconds: fine below 10 ms where proxy overhead lives. */
export const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface BackendSnapshot {
  route: string;
  backend: string;
  role: BackendRole;
  requests: number;
  errors: number;
  byStatusClass: Record<string, number>;
  latency: { count: number; sumMs: number; bucketsMs: Array<{ le: number; count: number }>; p50Ms: number; p99Ms: number };
}

interface Series {
  snapshot: BackendSnapshot;
  counts: number[];
  requests: Array<Counter.Internal | undefined>;
  errors: Counter.Internal;
  duration: Histogram.Internal<string>;
  labels: LabelValues<string>;
}

export class RouterMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<string>;
  private readonly errors: Counter<string>;
  private readonly duration: Histogram<string>;
  private readonly mirrorCompared: Counter<string>;
  private readonly mirrorMismatches: Counter<string>;
  private readonly series = new Map<string, Series>();
  private listeners: ResponseListener[] = [];

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'ferry_router_requests_total', help: 'Requests answered, by backend and status class', labelNames: ['route', 'backend', 'role', 'code'], registers });
    this.errors = new Counter({ name: 'ferry_router_errors_total', help: 'Responses with status >= 500 or no response', labelNames: ['route', 'backend', 'role'], registers });
    this.duration = new Histogram({ name: 'ferry_router_request_duration_seconds', help: 'Time from request start to response end', labelNames: ['route', 'backend', 'role'], buckets: LATENCY_BUCKETS_SECONDS, registers });
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

  observe(observation: ResponseObservation): void {
    const series = this.seriesFor(observation.route, observation.backend, observation.role);
    const { snapshot } = series;
    // Index 0 ('none') counts attempts that got no response at all (status 0).
    const statusClass = observation.status === 0 ? 0 : Math.min(5, Math.max(1, Math.floor(observation.status / 100)));
    snapshot.requests++;
    const key = statusClass === 0 ? 'none' : `${statusClass}xx`;
    snapshot.byStatusClass[key] = (snapshot.byStatusClass[key] ?? 0) + 1;
    let counter = series.requests[statusClass];
    if (!counter) {
      counter = this.requests.labels({ ...series.labels, code: key });
      series.requests[statusClass] = counter;
    }
    counter.inc();
    if (observation.status >= 500 || observation.error !== undefined) {
      snapshot.errors++;
      series.errors.inc();
    }
    const seconds = observation.latencyMs / 1000;
    series.duration.observe(seconds);
    snapshot.latency.count++;
    snapshot.latency.sumMs += observation.latencyMs;
    let i = 0;
    while (i < LATENCY_BUCKETS_SECONDS.length && seconds > LATENCY_BUCKETS_SECONDS[i]!) i++;
    series.counts[i]!++;
    for (const listener of this.listeners) listener(observation);
  }

  countComparison(route: string, reason: MismatchReason | undefined): void {
    this.mirrorCompared.labels({ route }).inc();
    if (reason) this.mirrorMismatches.labels({ route, reason }).inc();
  }

  /** Per route/backend/role counters and latency histogram, in a stable order. */
  snapshot(): BackendSnapshot[] {
    return [...this.series.keys()].sort().map((key) => {
      const series = this.series.get(key)!;
      let cumulative = 0;
      const bucketsMs = LATENCY_BUCKETS_SECONDS.map((le, i) => ({ le: le * 1000, count: (cumulative += series.counts[i]!) }));
      bucketsMs.push({ le: Number.POSITIVE_INFINITY, count: cumulative + series.counts[LATENCY_BUCKETS_SECONDS.length]! });
      const count = series.snapshot.latency.count;
      return {
        ...series.snapshot,
        byStatusClass: { ...series.snapshot.byStatusClass },
        latency: { ...series.snapshot.latency, bucketsMs, p50Ms: quantileFromBuckets(bucketsMs, count, 0.5), p99Ms: quantileFromBuckets(bucketsMs, count, 0.99) },
      };
    });
  }

  private seriesFor(route: string, backend: string, role: BackendRole): Series {
    const key = `${route}\u0000${role}\u0000${backend}`;
    let series = this.series.get(key);
    if (!series) {
      const labels = { route, backend, role };
      series = {
        labels,
        snapshot: { route, backend, role, requests: 0, errors: 0, byStatusClass: {}, latency: { count: 0, sumMs: 0, bucketsMs: [], p50Ms: 0, p99Ms: 0 } },
        counts: new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0),
        requests: [],
        errors: this.errors.labels(labels),
        duration: this.duration.labels(labels),
      };
      this.series.set(key, series);
    }
    return series;
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
