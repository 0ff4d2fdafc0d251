import { FerryError } from '../util/errors.js';
import type { KubeObject } from '../kube/object.js';
import type { ClusterObjects } from './cluster-objects.js';
import type { IngressNginxProviderConfig } from './provider-config.js';
import { assertMirror, assertWeight, type MirrorSetting, type TrafficProvider, type TrafficStatus, type TrafficWeights } from './provider.js';

/**
 * ingress-nginx canary (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#canary):
 * a second Ingress for the same host and path, marked `canary: "true"`, receives
 * `canary-weight` percent of requests; the `canary-by-cookie` cookie pins a user to the
 * target ("always") or the source ("never") and takes precedence over the weight.
 */
const PREFIX = 'nginx.ingress.kubernetes.io/';
const MANAGED = { 'app.kubernetes.io/managed-by': 'ferry' };

export function canaryName(config: IngressNginxProviderConfig): string {
  return `${config.name}-ferry-canary`;
}

function ingress(config: IngressNginxProviderConfig, name: string, service: { service: string; port: number }, annotations: Record<string, string> | undefined, labels: Record<string, string> | undefined): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: config.namespace, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
    spec: {
      ingressClassName: config.ingressClassName,
      rules: [
        {
          host: config.host,
          http: { paths: [{ path: config.pathPrefix, pathType: 'Prefix', backend: { service: { name: service.service, port: { number: service.port } } } }] },
        },
      ],
    },
  };
}

/** The primary Ingress serving the source, written only when the user has none. */
export function nginxPrimaryIngress(config: IngressNginxProviderConfig): KubeObject {
  return ingress(config, config.name, config.source, undefined, MANAGED);
}

export function nginxCanaryIngress(config: IngressNginxProviderConfig, targetPercent: number): KubeObject {
  return ingress(config, canaryName(config), config.target, {
    [`${PREFIX}canary`]: 'true',
    [`${PREFIX}canary-weight`]: String(targetPercent),
    [`${PREFIX}canary-weight-total`]: '100',
    [`${PREFIX}canary-by-cookie`]: config.canaryCookie,
  }, MANAGED);
}

export class IngressNginxProvider implements TrafficProvider {
  readonly type = 'ingress-nginx' as const;
  readonly capabilities = { mirror: false, mirrorPercent: false, sticky: false };

  constructor(
    private readonly config: IngressNginxProviderConfig,
    private readonly cluster: ClusterObjects,
  ) {}

  async reconcile(): Promise<{ settleMs: number }> {
    const primary = await this.cluster.get({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: this.config.namespace, name: this.config.name });
    if (!primary) await this.cluster.apply(nginxPrimaryIngress(this.config));
    const canary = await this.readCanary();
    await this.cluster.apply(nginxCanaryIngress(this.config, canary ? readCanaryWeight(canary) : 0));
    return { settleMs: 0 };
  }

  async setWeight(targetPercent: number): Promise<void> {
    assertWeight(targetPercent);
    await this.cluster.apply(nginxCanaryIngress(this.config, targetPercent));
  }

  async getWeights(): Promise<TrafficWeights> {
    const canary = await this.readCanary();
    if (!canary) throw new FerryError('not-found', `canary Ingress ${this.config.namespace}/${canaryName(this.config)} does not exist`, { fix: 'run the slice from its first traffic step (reconcile creates it)' });
    const target = readCanaryWeight(canary);
    return { source: 100 - target, target };
  }

  async setMirror(mirror: MirrorSetting): Promise<void> {
    assertMirror(this, mirror);
  }

  async status(): Promise<TrafficStatus> {
    const canary = await this.readCanary();
    return {
      type: this.type,
      weights: await this.getWeights(),
      mirror: { enabled: false, percent: 0 },
      detail: { primary: `${this.config.namespace}/${this.config.name}`, canary: `${this.config.namespace}/${canaryName(this.config)}`, annotations: canary?.metadata.annotations ?? {} },
    };
  }

  async finalize(): Promise<void> {
    await this.cluster.delete({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: this.config.namespace, name: canaryName(this.config) });
  }

  private readCanary(): Promise<KubeObject | undefined> {
    return this.cluster.get({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: this.config.namespace, name: canaryName(this.config) });
  }
}

/** Canary share in percent, honouring canary-weight-total (default 100) and canary: "false". */
export function readCanaryWeight(object: KubeObject): number {
  const annotations = object.metadata.annotations ?? {};
  if (annotations[`${PREFIX}canary`] !== 'true') return 0;
  const weight = Number(annotations[`${PREFIX}canary-weight`] ?? 0);
  const total = Number(annotations[`${PREFIX}canary-weight-total`] ?? 100);
  return total > 0 ? Math.round((weight * 100) / total) : 0;
}
