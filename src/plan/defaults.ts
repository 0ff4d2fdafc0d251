import { sliceDefaultsSchema, type SliceDefaults } from './schema.js';

/** Ferry's defaults for every slice: a 1→10→50→100 ramp judged on errors and p99 latency. */
export function defaultSliceDefaults(overrides: { steps?: number[]; stepWindow?: string; provider?: SliceDefaults['traffic']['provider'] } = {}): SliceDefaults {
  return sliceDefaultsSchema.parse({
    traffic: {
      provider: overrides.provider ?? 'router',
      steps: overrides.steps ?? [1, 10, 50, 100],
      stepWindow: overrides.stepWindow ?? '5m',
      mirror: { percent: 10, duration: '5m', allowNonIdempotent: false, ignoreJsonPaths: [] },
      stickiness: { cookie: 'ferry-user' },
    },
    gates: {
      minRequests: 50,
      errorRate: { max: 0.01, maxIncrease: 0.005 },
      latency: [{ percentile: 99, maxIncrease: 0.2 }],
      shadowMismatch: { maxRate: 0.01 },
    },
    analysis: {},
    rollback: {},
    decommission: {},
  });
}
