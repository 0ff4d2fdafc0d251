/**
 * `MetricsProvider`: where the judge's numbers come from. One interface, one file per
 * product (`router-metrics.ts`: the embedded router's own counters; `prometheus.ts`: PromQL
 * over Prometheus' HTTP API), like Flagger's metrics providers (`RunQuery`, `IsOnline`).
 *
 * The judge compares distributions, not single numbers, so besides a scalar query a
 * provider returns per-backend time buckets: request and error counts and the latencies
 * observed in each bucket (raw observations, or a histogram expanded to its bucket bounds).
 */

/** What one backend did in [start, start + width). Times are epoch milliseconds. */
export interface Bucket {
  start: number;
  requests: number;
  /** Responses with status ≥ 500, or no response at all (connection error, timeout). */
  errors: number;
  /** Latency in milliseconds of each response in the bucket, in arrival order. */
  latenciesMs: number[];
}

export interface MetricsProvider {
  /** `router` or `prometheus`: shown in verdicts. */
  readonly name: string;
  /** Smallest bucket width it can give, in ms (the scrape interval for Prometheus). */
  readonly resolutionMs: number;
  /**
   * Set when the provider has no latency data at all, saying why (e.g. HAProxy's exporter has
   * no per-server histogram): latency gates are then inconclusive with this reason, never passed.
   */
  readonly noLatency?: string;
  /** Can it answer now? The controller refuses to start a ramp it cannot judge. */
  isOnline(): Promise<boolean>;
  /**
   * Buckets of width `widthMs` (a multiple of `resolutionMs`) covering [from, to) for one
   * backend, oldest first; buckets without traffic are present with zero counts.
   */
  buckets(backend: string, from: number, to: number, widthMs: number): Promise<Bucket[]>;
  /** One number for a custom gate (PromQL for Prometheus). Throws FerryError if unsupported. */
  query(expression: string, at: number): Promise<number>;
}

/** Response classification shared by every provider. */
export function isErrorStatus(status: number): boolean {
  return status >= 500 || status <= 0;
}
