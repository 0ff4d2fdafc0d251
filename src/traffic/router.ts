import { FerryError } from '../util/errors.js';
import type { RouterProviderConfig } from './provider-config.js';
import { assertMirror, assertWeight, type MirrorSetting, type ShadowStats, type StickinessSetting, type TrafficProvider, type TrafficStatus, type TrafficWeights } from './provider.js';
import type { RouteView } from './proxy/routes.js';
import { describeCertificate, loadTlsMaterial, type CertificateView } from './proxy/tls.js';

/** The embedded router (src/traffic/proxy), driven through its admin API. */
export class RouterProvider implements TrafficProvider {
  readonly type = 'router' as const;
  readonly capabilities = { mirror: true, mirrorPercent: true, sticky: true, compare: true };

  constructor(
    private readonly config: RouterProviderConfig,
    private readonly token: string | undefined,
  ) {}

  async reconcile(): Promise<{ settleMs: number }> {
    await this.route();
    if (this.config.tls) await this.installCertificate(this.config.tls);
    return { settleMs: 0 };
  }

  /**
   * Reads the Secret and installs it on the router's TLS listener, then reads back the
   * fingerprint the router serves (observe-then-ensure, as weights are). The key goes only
   * into the request body to the admin API; nothing of it is returned, logged or journaled.
   */
  private async installCertificate(tls: NonNullable<RouterProviderConfig['tls']>): Promise<CertificateView> {
    const loaded = (await loadTlsMaterial(tls))!;
    const wanted = describeCertificate(loaded.material.cert, loaded.source);
    const current = (await this.call('GET', '/tls')) as { certificate?: CertificateView | null };
    if (current.certificate?.fingerprint256 === wanted.fingerprint256) return current.certificate;
    const installed = (await this.call('PUT', '/tls', { ...loaded.material, source: loaded.source })) as { certificate: CertificateView };
    if (installed.certificate.fingerprint256 !== wanted.fingerprint256) {
      throw new FerryError('router-tls', `the router serves certificate ${installed.certificate.fingerprint256}, not the one in ${loaded.source}`, { location: { field: 'traffic.provider.tls.secret' }, fix: 'check that nothing else replaces the router\'s certificate' });
    }
    return installed.certificate;
  }

  async setWeight(targetPercent: number): Promise<void> {
    assertWeight(targetPercent);
    await this.call('PUT', `/routes/${encodeURIComponent(this.config.route)}/weight`, { target: targetPercent });
  }

  async getWeights(): Promise<TrafficWeights> {
    return (await this.route()).weights;
  }

  async setMirror(mirror: MirrorSetting): Promise<void> {
    assertMirror(this, mirror);
    await this.call('PUT', `/routes/${encodeURIComponent(this.config.route)}/mirror`, mirror);
  }

  async shadowStats(): Promise<ShadowStats> {
    const stats = (await this.call('GET', `/routes/${encodeURIComponent(this.config.route)}/mirror`)) as { compared?: number; mismatched?: number; samples?: Array<{ method?: string; path?: string; differences?: Array<{ reason?: string; path?: string }> }> };
    // Journaled as evidence: where responses differed, never the bodies (they may hold user data).
    const samples = (stats.samples ?? []).slice(0, 5).map((pair) => ({ method: pair.method, path: pair.path?.split('?')[0], differences: (pair.differences ?? []).map((d) => ({ reason: d.reason, path: d.path })) }));
    return { compared: stats.compared ?? 0, mismatched: stats.mismatched ?? 0, samples };
  }

  async setStickiness(stickiness: StickinessSetting): Promise<void> {
    await this.call('PUT', `/routes/${encodeURIComponent(this.config.route)}/stickiness`, stickiness);
  }

  async status(): Promise<TrafficStatus> {
    const route = await this.route();
    const mirrorStats = await this.call('GET', `/routes/${encodeURIComponent(this.config.route)}/mirror`);
    const tls = this.config.tls ? ((await this.call('GET', '/tls')) as { certificate?: CertificateView | null }).certificate ?? null : undefined;
    return { type: this.type, weights: route.weights, mirror: { enabled: route.mirror.enabled, percent: route.mirror.percent }, detail: { route, mirrorStats, ...(tls !== undefined ? { certificate: tls } : {}) } };
  }

  async finalize(): Promise<void> {
    await this.setMirror({ enabled: false, percent: 0 });
    await this.setWeight(0);
  }

  private async route(): Promise<RouteView> {
    return (await this.call('GET', `/routes/${encodeURIComponent(this.config.route)}`)) as RouteView;
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path, this.config.adminUrl);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET') {
      if (!this.token) {
        throw new FerryError('forbidden', 'no admin token for the embedded router', {
          fix: `set ${this.config.tokenEnv} to the router's admin token`,
        });
      }
      headers.authorization = `Bearer ${this.token}`;
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    } catch (error) {
      throw new FerryError('router-unreachable', `cannot reach the router's admin API at ${this.config.adminUrl}: ${(error as Error).message}`, {
        location: { field: 'traffic.provider.adminUrl' },
        fix: 'start it with `ferry router --config router.yaml` and check the admin listen address',
        cause: error,
      });
    }
    const payload = (await response.json().catch(() => ({}))) as { message?: string; fix?: string };
    if (!response.ok) {
      throw new FerryError(`router-${response.status}`, `router admin API: ${method} ${url.pathname}: ${payload.message ?? response.statusText}`, { fix: payload.fix });
    }
    return payload;
  }
}
