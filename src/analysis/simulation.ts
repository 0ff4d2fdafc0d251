/**
 * A seeded traffic model in simulated time, for judging the judge: requests arrive at a
 * fixed rate, are routed to the target with the current weight, and get an error and a
 * latency from each backend's distribution. It implements the same Clock and weight calls
 * the canary loop uses on the real router, so 100 ramps run in seconds and reproduce
 * exactly from their seed. (Real-router behaviour is tested in test/integration/analysis.)
 */
import type { TrafficWeights } from '../traffic/provider.js';
import { seededRandom } from '../util/random.js';
import type { Clock } from './clock.js';
import type { Observation } from './router-metrics.js';

export interface BackendModel {
  errorRate: number;
  /** Lognormal latency: median in ms and σ of its log. */
  medianMs: number;
  sigma: number;
}

export interface SimulationOptions {
  seed: number;
  requestsPerSecond: number;
  source: BackendModel;
  /** The target's behaviour at simulated time `t` (epoch ms) — change it to inject a fault. */
  target: (t: number) => BackendModel;
  /** Where observations go (usually RouterMetricsProvider.record). */
  observe: (observation: Observation) => void;
  startAt?: number;
  sourceName?: string;
  targetName?: string;
}


export class SimulatedTraffic implements Clock {
  private time: number;
  private weight = 0;
  private readonly random: () => number;
  private readonly gapMs: number;
  private nextArrival: number;
  private spare: number | undefined;
  /** What users saw, per backend. */
  readonly served = { source: { requests: 0, errors: 0 }, target: { requests: 0, errors: 0 } };
  readonly weightLog: Array<{ at: number; target: number }> = [];

  constructor(private readonly options: SimulationOptions) {
    this.time = options.startAt ?? 1_700_000_000_000;
    this.random = seededRandom(options.seed);
    this.gapMs = 1000 / options.requestsPerSecond;
    this.nextArrival = this.time;
  }

  now(): number {
    return this.time;
  }

  async sleep(ms: number): Promise<void> {
    this.advance(this.time + ms);
  }

  async setWeight(targetPercent: number): Promise<void> {
    this.weight = targetPercent;
    this.weightLog.push({ at: this.time, target: targetPercent });
  }

  async getWeights(): Promise<TrafficWeights> {
    return { source: 100 - this.weight, target: this.weight };
  }

  /** Generates every request that arrives before `until`. */
  advance(until: number): void {
    const { source, target, observe } = this.options;
    const sourceName = this.options.sourceName ?? 'source';
    const targetName = this.options.targetName ?? 'target';
    while (this.nextArrival < until) {
      const at = this.nextArrival;
      const toTarget = this.random() * 100 < this.weight;
      const model = toTarget ? target(at) : source;
      const failed = this.random() < model.errorRate;
      const latencyMs = model.medianMs * Math.exp(model.sigma * this.gaussian());
      const served = toTarget ? this.served.target : this.served.source;
      served.requests++;
      if (failed) served.errors++;
      observe({ backend: toTarget ? targetName : sourceName, status: failed ? 503 : 200, latencyMs, at });
      // Exponential gaps: Poisson arrivals at the configured mean rate.
      this.nextArrival += -Math.log(1 - this.random()) * this.gapMs;
    }
    this.time = until;
  }

  private gaussian(): number {
    if (this.spare !== undefined) {
      const value = this.spare;
      this.spare = undefined;
      return value;
    }
    const u = 1 - this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}
