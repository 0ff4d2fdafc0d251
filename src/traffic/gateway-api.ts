import { FerryError } from '../util/errors.js';
import type { KubeObject } from '../kube/object.js';
import type { ClusterObjects } from './cluster-objects.js';
import type { GatewayApiProviderConfig } from './provider-config.js';
import { assertMirror, assertWeight, type MirrorSetting, type TrafficProvider, type TrafficStatus, type TrafficWeights } from './provider.js';

/**
 * Gateway API: an HTTPRoute whose one rule lists the source and target Services as
 * weighted backendRefs; mirroring is the standard RequestMirror filter with `percent`
 * (standard channel since Gateway API v1.3).
 */
const API_VERSION = 'gateway.networking.k8s.io/v1';
const MANAGED = { 'app.kubernetes.io/managed-by': 'ferry' };

type ServiceRef = GatewayApiProviderConfig['source'];

export function gatewayHttpRoute(config: GatewayApiProviderConfig, targetPercent: number, mirror: MirrorSetting): KubeObject {
  const rule: Record<string, unknown> = {
    matches: [{ path: { type: 'PathPrefix', value: config.pathPrefix } }],
    backendRefs: [
      { ...backendRef(config.source), weight: 100 - targetPercent },
      { ...backendRef(config.target), weight: targetPercent },
    ],
  };
  if (mirror.enabled) {
    rule.filters = [{ type: 'RequestMirror', requestMirror: { backendRef: backendRef(config.target), percent: Math.round(mirror.percent) } }];
  }
  return {
    apiVersion: API_VERSION,
    kind: 'HTTPRoute',
    metadata: { name: config.name, namespace: config.namespace, labels: MANAGED },
    spec: {
      parentRefs: config.parentRefs.map((ref) => ({ group: 'gateway.networking.k8s.io', kind: 'Gateway', ...ref })),
      ...(config.hostnames.length > 0 ? { hostnames: config.hostnames } : {}),
      rules: [rule],
    },
  };
}

function backendRef(ref: ServiceRef): Record<string, unknown> {
  return { group: '', kind: 'Service', name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}), port: ref.port };
}

export class GatewayApiProvider implements TrafficProvider {
  readonly type = 'gateway-api' as const;
  readonly capabilities = { mirror: true, mirrorPercent: true, sticky: false };

  constructor(
    private readonly config: GatewayApiProviderConfig,
    private readonly cluster: ClusterObjects,
  ) {}

  async reconcile(): Promise<{ settleMs: number }> {
    const current = await this.read();
    const state = current ? readHttpRouteState(current, this.config) : undefined;
    await this.cluster.apply(gatewayHttpRoute(this.config, state?.weights.target ?? 0, state?.mirror ?? { enabled: false, percent: 0 }));
    return { settleMs: 0 };
  }

  async setWeight(targetPercent: number): Promise<void> {
    assertWeight(targetPercent);
    await this.cluster.apply(gatewayHttpRoute(this.config, targetPercent, (await this.state()).mirror));
  }

  async getWeights(): Promise<TrafficWeights> {
    return (await this.state()).weights;
  }

  async setMirror(mirror: MirrorSetting): Promise<void> {
    assertMirror(this, mirror);
    await this.cluster.apply(gatewayHttpRoute(this.config, (await this.state()).weights.target, mirror));
  }

  async status(): Promise<TrafficStatus> {
    const object = await this.read();
    if (!object) throw notReconciled(this.config);
    const parents = ((object.status as { parents?: Array<{ parentRef?: { name?: string }; conditions?: Array<{ type: string; status: string }> }> } | undefined)?.parents ?? []).map((parent) => ({
      gateway: parent.parentRef?.name,
      accepted: parent.conditions?.find((condition) => condition.type === 'Accepted')?.status,
    }));
    return { type: this.type, ...readHttpRouteState(object, this.config), detail: { httpRoute: `${this.config.namespace}/${this.config.name}`, parents } };
  }

  async finalize(): Promise<void> {
    await this.cluster.apply(gatewayHttpRoute(this.config, 0, { enabled: false, percent: 0 }));
  }

  private read(): Promise<KubeObject | undefined> {
    return this.cluster.get({ apiVersion: API_VERSION, kind: 'HTTPRoute', namespace: this.config.namespace, name: this.config.name });
  }

  private async state(): Promise<{ weights: TrafficWeights; mirror: MirrorSetting }> {
    const object = await this.read();
    if (!object) throw notReconciled(this.config);
    return readHttpRouteState(object, this.config);
  }
}

interface Rule {
  backendRefs?: Array<{ name?: string; namespace?: string; weight?: number }>;
  filters?: Array<{ type?: string; requestMirror?: { percent?: number; fraction?: { numerator: number; denominator?: number } } }>;
}

/** backendRefs without weight count as 1 (the Gateway API default). */
export function readHttpRouteState(object: KubeObject, config: GatewayApiProviderConfig): { weights: TrafficWeights; mirror: MirrorSetting } {
  const rule = ((object.spec as { rules?: Rule[] } | undefined)?.rules ?? [])[0];
  const refs = rule?.backendRefs ?? [];
  const weightOf = (side: ServiceRef): number => {
    const ref = refs.find((candidate) => candidate.name === side.name && (candidate.namespace ?? undefined) === side.namespace);
    return ref ? (ref.weight ?? 1) : 0;
  };
  const source = weightOf(config.source);
  const target = weightOf(config.target);
  const total = source + target;
  const targetPercent = total === 0 ? 0 : Math.round((target * 100) / total);
  const filter = rule?.filters?.find((candidate) => candidate.type === 'RequestMirror')?.requestMirror;
  const fraction = filter?.fraction ? (filter.fraction.numerator * 100) / (filter.fraction.denominator ?? 100) : undefined;
  return {
    weights: total === 0 ? { source: 0, target: 0 } : { source: 100 - targetPercent, target: targetPercent },
    mirror: { enabled: filter !== undefined, percent: filter ? (filter.percent ?? fraction ?? 100) : 0 },
  };
}

function notReconciled(config: GatewayApiProviderConfig): FerryError {
  return new FerryError('not-found', `HTTPRoute ${config.namespace}/${config.name} does not exist`, { fix: 'run the slice from its first traffic step (reconcile creates it)' });
}
