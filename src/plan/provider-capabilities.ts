import type { TrafficProviderType } from '../traffic/provider.js';

/**
 * What each traffic provider can do, for checks that must run without building a provider
 * (no cluster, no socket). The providers declare the same in their `capabilities`
 * (src/traffic/*.ts); test/unit/plan/provider-capabilities.test.ts fails when the two differ.
 * `compare`: mirrored responses are compared with the primary's, so the shadow stage has a verdict.
 * `setsStickiness`: Ferry can tell the product the plan's `traffic.stickiness` (it has `setStickiness`).
 * `judged`: the ramp can be judged from Prometheus (default queries per product, src/analysis).
 */
export interface PlanProviderCapabilities {
  mirror: boolean;
  mirrorPercent: boolean;
  sticky: boolean;
  setsStickiness: boolean;
  compare: boolean;
  judged: boolean;
}

export const PROVIDER_CAPABILITIES: Readonly<Record<TrafficProviderType, PlanProviderCapabilities>> = {
  router: { mirror: true, mirrorPercent: true, sticky: true, setsStickiness: true, compare: true, judged: true },
  haproxy: { mirror: false, mirrorPercent: false, sticky: true, setsStickiness: false, compare: false, judged: true },
  istio: { mirror: true, mirrorPercent: true, sticky: false, setsStickiness: false, compare: false, judged: true },
  'gateway-api': { mirror: true, mirrorPercent: true, sticky: false, setsStickiness: false, compare: false, judged: true },
  'ingress-nginx': { mirror: false, mirrorPercent: false, sticky: false, setsStickiness: false, compare: false, judged: true },
  powerdns: { mirror: false, mirrorPercent: false, sticky: false, setsStickiness: false, compare: false, judged: true },
  // Route 53 change batches are generated, not sent, and resolvers hide how each side answered.
  route53: { mirror: false, mirrorPercent: false, sticky: false, setsStickiness: false, compare: false, judged: false },
};

export const TRAFFIC_PROVIDER_TYPES = Object.keys(PROVIDER_CAPABILITIES) as TrafficProviderType[];

/** Providers that have a capability, for messages. */
export function providersThat(capability: keyof PlanProviderCapabilities): TrafficProviderType[] {
  return TRAFFIC_PROVIDER_TYPES.filter((type) => PROVIDER_CAPABILITIES[type][capability]);
}
