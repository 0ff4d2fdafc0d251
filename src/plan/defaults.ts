import { PROVIDER_CAPABILITIES } from './provider-capabilities.js';
import { sliceDefaultsSchema, type SliceDefaults } from './schema.js';
import type { TrafficKind } from './traffic-choice.js';

/**
 * Ferry's defaults for every slice: a 1→10→50→100 ramp judged on errors and p99 latency.
 * What the traffic provider cannot do is left out, so the plan runs as generated: mirroring
 * only where the provider compares the mirrored responses (the router; Istio and Gateway API
 * mirror but report no comparison, so their shadow stage would have no verdict), stickiness
 * only where Ferry can tell the provider how to keep users on one side (the router; HAProxy
 * keeps them by its own cookie, configured in haproxy.cfg), and no latency gate over HAProxy, whose
 * exporter has no per-server latency histogram. With a `kind`, every slice names its own
 * provider and the defaults say `none`; without one they name the bare kind `router`, the
 * settings still to be filled in (`ferry validate` says so).
 */
export function defaultSliceDefaults(overrides: { steps?: number[]; stepWindow?: string; kind?: TrafficKind } = {}): SliceDefaults {
  const capabilities = PROVIDER_CAPABILITIES[overrides.kind === undefined || overrides.kind === 'none' ? 'router' : overrides.kind];
  const mirror = capabilities.mirror && capabilities.compare;
  return sliceDefaultsSchema.parse({
    traffic: {
      provider: overrides.kind === undefined ? 'router' : 'none',
      steps: overrides.steps ?? [1, 10, 50, 100],
      stepWindow: overrides.stepWindow ?? '5m',
      ...(mirror ? { mirror: { percent: 10, duration: '5m', allowNonIdempotent: false, ignoreJsonPaths: [] } } : {}),
      ...(capabilities.setsStickiness ? { stickiness: { cookie: 'ferry-user' } } : {}),
    },
    gates: {
      minRequests: 50,
      errorRate: { max: 0.01, maxIncrease: 0.005 },
      ...(overrides.kind === 'haproxy' ? {} : { latency: [{ percentile: 99, maxIncrease: 0.2 }] }),
      ...(mirror ? { shadowMismatch: { maxRate: 0.01 } } : {}),
    },
    analysis: {},
    rollback: {},
    decommission: {},
  });
}
