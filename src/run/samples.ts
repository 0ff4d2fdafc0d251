import type { LookInput } from '../analysis/judge.js';
import type { Bucket } from '../analysis/metrics-provider.js';
import { percentile } from '../analysis/stats/percentile.js';
import type { Journal } from '../journal/journal.js';

/** What one side served over a sample: errors are 5xx, no answer, or a gRPC status other than 0. */
export interface SideSample {
  requests: number;
  errors: number;
  p50Ms?: number;
  p99Ms?: number;
}

/** The `ramp-sample` journal record: the dashboard's, the metrics' and the report's timeline. */
export interface RampSample extends Record<string, unknown> {
  slice: string;
  weight: number;
  from: string;
  to: string;
  target: SideSample;
  source: SideSample;
  replicationLagMs?: number;
}

/** At most one sample a second: enough for a timeline, few enough fsyncs for a long ramp. */
const SAMPLE_EVERY_MS = 1000;

/**
 * Turns the judge's looks into `ramp-sample` records: each covers the whole buckets the judge
 * was shown since the previous sample (complete ones only: a bucket still filling would be
 * counted short), so the timeline is exactly what the verdicts were made from, and the
 * samples of a step add up to its requests.
 */
export class RampSampler {
  private sampledTo = 0;
  private weight = 0;

  constructor(
    private readonly slice: string,
    private readonly journal: Journal,
    private readonly everyMs = SAMPLE_EVERY_MS,
  ) {}

  stepStarted(weight: number): void {
    this.weight = weight;
  }

  look(input: LookInput, bucketMs: number): void {
    if (input.metricsError) return;
    const whole = (buckets: Bucket[]) => buckets.filter((bucket) => bucket.start >= this.sampledTo && bucket.start + bucketMs <= input.now);
    const target = whole(input.target);
    const source = whole(input.source);
    const starts = [...target, ...source].map((bucket) => bucket.start);
    if (starts.length === 0) return;
    const from = Math.min(...starts);
    const to = Math.max(...starts) + bucketMs;
    if (to - from < this.everyMs) return;
    this.sampledTo = to;
    const sample: RampSample = {
      slice: this.slice,
      weight: this.weight,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      target: summarize(target),
      source: summarize(source),
      ...(input.replicationLagMs !== undefined ? { replicationLagMs: input.replicationLagMs } : {}),
    };
    this.journal.append('ramp-sample', sample);
  }
}

function summarize(buckets: Bucket[]): SideSample {
  const latencies = buckets.flatMap((bucket) => bucket.latenciesMs);
  return {
    requests: buckets.reduce((sum, bucket) => sum + bucket.requests, 0),
    errors: buckets.reduce((sum, bucket) => sum + bucket.errors, 0),
    ...(latencies.length ? { p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) } : {}),
  };
}
