import { FerryError } from '../util/errors.js';
import type { KubeObject } from '../kube/object.js';
import type { ClusterObjects } from './cluster-objects.js';
import type { IstioProviderConfig } from './provider-config.js';
import { assertMirror, assertWeight, type MirrorSetting, type TrafficProvider, type TrafficStatus, type TrafficWeights } from './provider.js';

/**
 * Istio: one VirtualService whose HTTP route named `ferry` splits between the source and
 * target destinations (weights, `mirror`, `mirrorPercentage`), and DestinationRules with
 * the subsets named in the config. Objects are server-side applied with field manager ferry.
 */
const API_VERSION = 'networking.istio.io/v1';
const ROUTE_NAME = 'ferry';
const MANAGED = { 'app.kubernetes.io/managed-by': 'ferry' };

type Destination = IstioProviderConfig['source'];

export function istioVirtualService(config: IstioProviderConfig, targetPercent: number, mirror: MirrorSetting): KubeObject {
  const http: Record<string, unknown> = {
    name: ROUTE_NAME,
    route: [
      { destination: destination(config.source), weight: 100 - targetPercent },
      { destination: destination(config.target), weight: targetPercent },
    ],
  };
  if (mirror.enabled) {
    http.mirror = destination(config.target);
    http.mirrorPercentage = { value: mirror.percent };
  }
  return {
    apiVersion: API_VERSION,
    kind: 'VirtualService',
    metadata: { name: config.name, namespace: config.namespace, labels: MANAGED },
    spec: { hosts: config.hosts, ...(config.gateways ? { gateways: config.gateways } : {}), http: [http] },
  };
}

/** One DestinationRule per destination host that has labelled subsets. */
export function istioDestinationRules(config: IstioProviderConfig): KubeObject[] {
  const byHost = new Map<string, Array<{ name: string; labels: Record<string, string> }>>();
  for (const side of [config.source, config.target]) {
    if (!side.subset || !side.labels) continue;
    const subsets = byHost.get(side.host) ?? [];
    subsets.push({ name: side.subset, labels: side.labels });
    byHost.set(side.host, subsets);
  }
  return [...byHost.entries()].map(([host, subsets]) => ({
    apiVersion: API_VERSION,
    kind: 'DestinationRule',
    metadata: { name: `${config.name}-${host.split('.')[0]}`, namespace: config.namespace, labels: MANAGED },
    spec: { host, subsets },
  }));
}

function destination(side: Destination): Record<string, unknown> {
  return { host: side.host, ...(side.subset ? { subset: side.subset } : {}), ...(side.port ? { port: { number: side.port } } : {}) };
}

export class IstioProvider implements TrafficProvider {
  readonly type = 'istio' as const;
  readonly capabilities = { mirror: true, mirrorPercent: true, sticky: false };

  constructor(
    private readonly config: IstioProviderConfig,
    private readonly cluster: ClusterObjects,
  ) {}

  async reconcile(): Promise<{ settleMs: number }> {
    for (const rule of istioDestinationRules(this.config)) await this.cluster.apply(rule);
    const current = await this.read();
    // Adopt a VirtualService Ferry already wrote (resume after a crash); otherwise start at 0%.
    const state = current ? readState(current, this.config) : undefined;
    await this.cluster.apply(istioVirtualService(this.config, state?.weights.target ?? 0, state?.mirror ?? { enabled: false, percent: 0 }));
    return { settleMs: 0 };
  }

  async setWeight(targetPercent: number): Promise<void> {
    assertWeight(targetPercent);
    const mirror = (await this.state()).mirror;
    await this.cluster.apply(istioVirtualService(this.config, targetPercent, mirror));
  }

  async getWeights(): Promise<TrafficWeights> {
    return (await this.state()).weights;
  }

  async setMirror(mirror: MirrorSetting): Promise<void> {
    assertMirror(this, mirror);
    const weights = (await this.state()).weights;
    await this.cluster.apply(istioVirtualService(this.config, weights.target, mirror));
  }

  async status(): Promise<TrafficStatus> {
    const state = await this.state();
    return { type: this.type, ...state, detail: { virtualService: `${this.config.namespace}/${this.config.name}`, destinationRules: istioDestinationRules(this.config).map((rule) => rule.metadata.name) } };
  }

  async finalize(): Promise<void> {
    await this.cluster.apply(istioVirtualService(this.config, 0, { enabled: false, percent: 0 }));
  }

  private read(): Promise<KubeObject | undefined> {
    return this.cluster.get({ apiVersion: API_VERSION, kind: 'VirtualService', namespace: this.config.namespace, name: this.config.name });
  }

  private async state(): Promise<{ weights: TrafficWeights; mirror: MirrorSetting }> {
    const object = await this.read();
    if (!object) throw notReconciled(this.config);
    return readState(object, this.config);
  }
}

interface HttpRoute {
  name?: string;
  route?: Array<{ destination?: { host?: string; subset?: string }; weight?: number }>;
  mirror?: { host?: string };
  mirrorPercentage?: { value?: number };
}

/** Weights and mirror as the cluster has them; a destination without weight gets the rest. */
export function readState(object: KubeObject, config: IstioProviderConfig): { weights: TrafficWeights; mirror: MirrorSetting } {
  const routes = ((object.spec as { http?: HttpRoute[] } | undefined)?.http ?? []);
  const http = routes.find((route) => route.name === ROUTE_NAME) ?? routes[0];
  const entries = http?.route ?? [];
  const weightOf = (side: Destination): number => {
    const entry = entries.find((candidate) => candidate.destination?.host === side.host && (candidate.destination?.subset ?? undefined) === side.subset);
    if (!entry) return 0;
    return entry.weight ?? (entries.length === 1 ? 100 : 0);
  };
  const mirrored = http?.mirror !== undefined;
  return {
    weights: { source: weightOf(config.source), target: weightOf(config.target) },
    // Istio mirrors 100% when mirrorPercentage is absent.
    mirror: { enabled: mirrored, percent: mirrored ? (http?.mirrorPercentage?.value ?? 100) : 0 },
  };
}

function notReconciled(config: IstioProviderConfig): FerryError {
  return new FerryError('not-found', `VirtualService ${config.namespace}/${config.name} does not exist`, { fix: 'run the slice from its first traffic step (reconcile creates it)' });
}
