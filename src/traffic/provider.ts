import { FerryError } from '../util/errors.js';

/**
 * One interface for every system that can split traffic between the source and the target
 * of a slice. Modelled on Flagger's router (Reconcile, SetRoutes, GetRoutes, Finalize) and
 * Argo Rollouts' traffic reconcilers (SetWeight, VerifyWeight, SetMirrorRoute,
 * RemoveManagedRoutes, Type). Weights are whole percentages of the route's traffic.
 */
export type TrafficProviderType = 'router' | 'haproxy' | 'istio' | 'gateway-api' | 'ingress-nginx' | 'powerdns' | 'route53';

export interface TrafficWeights {
  source: number;
  target: number;
}

export interface MirrorSetting {
  enabled: boolean;
  /** Share of requests copied to the target, 0–100. */
  percent: number;
  /** Also copy POST/PUT/PATCH/DELETE (the plan's `traffic.mirror.allowNonIdempotent`). */
  allowNonIdempotent?: boolean;
  /** Dotted JSON paths the response comparison leaves out (`traffic.mirror.ignoreJsonPaths`). */
  ignorePaths?: string[];
}

/** How a user is kept on one side: the plan's `traffic.stickiness`. */
export interface StickinessSetting {
  mode: 'cookie' | 'header';
  name: string;
}

/** What the shadow comparison saw since the route was created: cumulative counts. */
export interface ShadowStats {
  compared: number;
  mismatched: number;
  /** A few differing pairs, with the paths that differed (no bodies). */
  samples?: unknown[];
}

export interface TrafficCapabilities {
  /** The product can copy requests to the target without serving its response. */
  mirror: boolean;
  /** …and only a percentage of them. */
  mirrorPercent: boolean;
  /** Users stay on one side while the weight ramps (cookie or header bucket). */
  sticky: boolean;
  /** Mirrored responses are compared with the primary's, so the shadow stage has a verdict. */
  compare?: boolean;
}

export interface TrafficStatus {
  type: TrafficProviderType;
  weights: TrafficWeights;
  mirror: MirrorSetting;
  /** What was read, in the product's own terms (object names, server states, records). */
  detail: Record<string, unknown>;
}

export interface TrafficProvider {
  readonly type: TrafficProviderType;
  readonly capabilities: TrafficCapabilities;
  /**
   * Ensures the routing objects exist, sending everything to the source unless a weight was
   * already set (so repeating it after a crash changes nothing). Returns how long the caller
   * must wait before weight changes are seen everywhere (DNS: the old TTL).
   */
  reconcile(): Promise<{ settleMs: number }>;
  /** Sends `targetPercent` of traffic to the target and the rest to the source. */
  setWeight(targetPercent: number): Promise<void>;
  /** The weights as the product reports them now: read back, never remembered. */
  getWeights(): Promise<TrafficWeights>;
  setMirror(mirror: MirrorSetting): Promise<void>;
  /** Cumulative shadow comparison counts; only providers with `capabilities.compare`. */
  shadowStats?(): Promise<ShadowStats>;
  /** Sets how users are kept on one side; providers with `capabilities.sticky` and a settable key. */
  setStickiness?(stickiness: StickinessSetting): Promise<void>;
  /**
   * How long after a weight change clients can have seen it (DNS: the ramp TTL, which
   * resolvers may still serve from cache). The judged window of a step starts after it.
   */
  readonly changeSettleMs?: number;
  /**
   * The ramp reached 100 % and passed: make the target the plain, permanent answer (DNS: a
   * plain record of the target's addresses at the original TTL, the source's removed).
   */
  complete?(): Promise<void>;
  status(): Promise<TrafficStatus>;
  /** All traffic back to the source and the routes Ferry added removed. */
  finalize(): Promise<void>;
}

export function weightsFor(targetPercent: number): TrafficWeights {
  return { source: 100 - targetPercent, target: targetPercent };
}

/** Rejects weights a provider cannot represent, naming the field. */
export function assertWeight(targetPercent: number, field = 'traffic.steps'): void {
  if (!Number.isInteger(targetPercent) || targetPercent < 0 || targetPercent > 100) {
    throw new FerryError('weight', `weight must be a whole percentage from 0 to 100, got ${targetPercent}`, {
      location: { field },
      fix: 'use whole percentages such as 1, 10, 50, 100',
    });
  }
}

export function assertMirror(provider: TrafficProvider, mirror: MirrorSetting): void {
  if (!mirror.enabled) return;
  if (!provider.capabilities.mirror) {
    throw new FerryError('unsupported', `the ${provider.type} provider cannot mirror requests`, {
      location: { field: 'traffic.mirror' },
      fix: 'turn mirroring off for this slice, or route it through the embedded router (provider: router) for the shadow stage',
    });
  }
  if (!Number.isFinite(mirror.percent) || mirror.percent < 0 || mirror.percent > 100) {
    throw new FerryError('weight', `mirror percentage must be from 0 to 100, got ${mirror.percent}`, { location: { field: 'traffic.mirror.percent' } });
  }
  if (!provider.capabilities.mirrorPercent && mirror.percent !== 100) {
    throw new FerryError('unsupported', `the ${provider.type} provider mirrors all requests or none, not ${mirror.percent}%`, {
      location: { field: 'traffic.mirror.percent' },
      fix: 'set the mirror percentage to 100, or use the embedded router for sampled mirroring',
    });
  }
}

/**
 * Argo Rollouts' SetWeight + VerifyWeight as one step: set, read back, and fail loudly if
 * the product does not show what was asked. Safe to repeat (observe-then-ensure).
 */
export async function setAndVerifyWeight(provider: TrafficProvider, targetPercent: number): Promise<TrafficWeights> {
  assertWeight(targetPercent);
  await provider.setWeight(targetPercent);
  const actual = await provider.getWeights();
  if (actual.target !== targetPercent || actual.source !== 100 - targetPercent) {
    throw new FerryError('weight-not-applied', `${provider.type} reports source ${actual.source}% / target ${actual.target}% after setting target ${targetPercent}%`, {
      fix: 'someone else may be managing these routes; check the product and run the step again',
    });
  }
  return actual;
}
