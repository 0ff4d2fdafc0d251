/**
 * MetricsProvider over the embedded router's own observations: every response the router
 * proxies (backend, status, latency, time) lands in per-backend sliding windows of small
 * buckets, so the judge sees a bad target within one bucket of the response, with no
 * scrape interval in the way.
 */
import type { ResponseObservation } from '../traffic/index.js';
import { FerryError } from '../util/errors.js';
import { isErrorStatus, type Bucket, type MetricsProvider } from './metrics-provider.js';

export interface Observation {
  backend: string;
  /** HTTP status; 0 when there was no response. */
  status: number;
  latencyMs: number;
  /** Epoch ms when the response finished. */
  at: number;
}

interface Series {
  /** Bucket start → bucket, for buckets still retained. */
  buckets: Map<number, Bucket>;
  oldest: number;
}

export interface RouterMetricsOptions {
  /** Width of the stored buckets in ms (default 100). */
  resolutionMs?: number;
  /** How long observations are kept in ms (default 15 min). */
  retentionMs?: number;
}

export class RouterMetricsProvider implements MetricsProvider {
  readonly name = 'router';
  readonly resolutionMs: number;
  private readonly retentionMs: number;
  private readonly series = new Map<string, Series>();
  private latest = 0;

  constructor(options: RouterMetricsOptions = {}) {
    this.resolutionMs = options.resolutionMs ?? 100;
    this.retentionMs = options.retentionMs ?? 15 * 60_000;
  }

  /** Feed one response; wire this to the router's observation API. */
  record(observation: Observation): void {
    const start = observation.at - (observation.at % this.resolutionMs);
    let series = this.series.get(observation.backend);
    if (!series) {
      series = { buckets: new Map(), oldest: start };
      this.series.set(observation.backend, series);
    }
    let bucket = series.buckets.get(start);
    if (!bucket) {
      bucket = { start, requests: 0, errors: 0, latenciesMs: [] };
      series.buckets.set(start, bucket);
      if (start < series.oldest) series.oldest = start;
    }
    bucket.requests++;
    if (isErrorStatus(observation.status)) bucket.errors++;
    bucket.latenciesMs.push(observation.latencyMs);
    if (observation.at > this.latest) {
      this.latest = observation.at;
      this.prune(series);
    }
  }

  /** Backends seen so far. */
  backends(): string[] {
    return [...this.series.keys()].sort();
  }

  async isOnline(): Promise<boolean> {
    return true;
  }

  async buckets(backend: string, from: number, to: number, widthMs: number): Promise<Bucket[]> {
    return this.bucketsNow(backend, from, to, widthMs);
  }

  /** Synchronous form of `buckets`, for simulations that run the judge without awaiting. */
  bucketsNow(backend: string, from: number, to: number, widthMs: number): Bucket[] {
    if (widthMs % this.resolutionMs !== 0) {
      throw new FerryError('analysis.resolution', `bucket width ${widthMs} ms is not a multiple of the router's ${this.resolutionMs} ms resolution`, {
        fix: `use a multiple of ${this.resolutionMs} ms for the analysis interval`,
      });
    }
    const series = this.series.get(backend);
    const out: Bucket[] = [];
    for (let start = from; start < to; start += widthMs) {
      const merged: Bucket = { start, requests: 0, errors: 0, latenciesMs: [] };
      const end = Math.min(to, start + widthMs);
      for (let s = start - (start % this.resolutionMs); s < end && series; s += this.resolutionMs) {
        const bucket = series.buckets.get(s);
        if (!bucket) continue;
        merged.requests += bucket.requests;
        merged.errors += bucket.errors;
        for (const latency of bucket.latenciesMs) merged.latenciesMs.push(latency);
      }
      out.push(merged);
    }
    return out;
  }

  async query(expression: string): Promise<number> {
    throw new FerryError('analysis.query-unsupported', `the router's own counters cannot evaluate the query ${JSON.stringify(expression)}`, {
      fix: 'set the slice metrics provider to prometheus for custom PromQL gates',
    });
  }

  private prune(series: Series): void {
    // Drop whole buckets only, and at most once per bucket width of new data.
    const cutoff = this.latest - this.retentionMs;
    if (cutoff - series.oldest < this.resolutionMs) return;
    for (let start = series.oldest; start + this.resolutionMs <= cutoff; start += this.resolutionMs) series.buckets.delete(start);
    series.oldest = cutoff - (cutoff % this.resolutionMs);
  }
}

/**
 * Feeds `provider` from the embedded router's observation API (docs/architecture.md, "The
 * router's observation API"): primary responses of one route only — mirrored (shadow)
 * responses are judged by the shadow gate, not as target traffic. Returns the unsubscribe.
 */
export function observeRouter(
  router: { onResponse(listener: (observation: ResponseObservation) => void): () => void },
  provider: RouterMetricsProvider,
  route: string,
): () => void {
  return router.onResponse((observation) => {
    if (observation.route !== route || observation.role === 'shadow') return;
    // An attempt with no response counts as an error even when the retry on the other
    // backend saved the user: it is the backend's health being judged.
    provider.record({ backend: observation.backend, status: observation.error !== undefined ? 0 : observation.status, latencyMs: observation.latencyMs, at: observation.at });
  });
}
