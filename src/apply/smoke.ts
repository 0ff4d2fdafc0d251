import { request } from 'undici';
import type { KubeClient } from '../kube/client.js';
import type { Slice } from '../plan/schema.js';
import { FerryError } from '../util/errors.js';

export interface SmokeResult {
  name: string;
  url: string;
  status: number;
  ok: boolean;
  problem?: string;
}

type SmokeCheck = NonNullable<Slice['smoke']>[number];

/**
 * The slice's smoke checks, run against the target before it gets any traffic: an HTTP
 * request to a URL, or to a Service on the target reached through its ready Endpoints.
 */
export async function runSmokeChecks(client: KubeClient, checks: readonly SmokeCheck[]): Promise<SmokeResult[]> {
  const results: SmokeResult[] = [];
  for (const check of checks) {
    const base = check.url ?? (await serviceAddress(client, check));
    const url = new URL(check.path, base).toString();
    try {
      const response = await request(url, { method: check.method as 'GET', headersTimeout: 10_000, bodyTimeout: 10_000 });
      const body = await response.body.text();
      const problem = response.statusCode !== check.expectStatus ? `expected status ${check.expectStatus}, got ${response.statusCode}`
        : check.expectBody !== undefined && !body.includes(check.expectBody) ? `body does not contain "${check.expectBody}"` : undefined;
      results.push({ name: check.name, url, status: response.statusCode, ok: !problem, ...(problem ? { problem } : {}) });
    } catch (error) {
      results.push({ name: check.name, url, status: 0, ok: false, problem: (error as Error).message });
    }
  }
  const failed = results.filter((result) => !result.ok);
  if (failed.length > 0) {
    throw new FerryError('smoke', `smoke check${failed.length > 1 ? 's' : ''} failed on the target: ${failed.map((f) => `${f.name} (${f.url}): ${f.problem}`).join('; ')}`, {
      fix: 'the target is not serving correctly yet; no traffic was moved. Fix it and apply again',
    });
  }
  return results;
}

/** `namespace/name:port` → http://address:port of a ready endpoint of that Service. */
async function serviceAddress(client: KubeClient, check: SmokeCheck): Promise<string> {
  const match = /^([^/]+)\/([^:]+)(?::(.+))?$/.exec(check.service ?? '');
  if (!match) {
    throw new FerryError('plan', `smoke check "${check.name}" needs url or service (namespace/name:port)`, { location: { field: 'smoke.service' }, fix: 'e.g. service: shop/web:80' });
  }
  const [, namespace, name, port] = match as unknown as [string, string, string, string | undefined];
  const service = await client.request<{ spec?: { ports?: Array<{ name?: string; port: number }> } }>({ path: `/api/v1/namespaces/${namespace}/services/${name}` });
  const servicePort = (service.spec?.ports ?? []).find((p) => port === undefined || String(p.port) === port || p.name === port);
  const endpoints = await client.request<{ subsets?: Array<{ addresses?: Array<{ ip: string }>; ports?: Array<{ name?: string; port: number }> }> }>({ path: `/api/v1/namespaces/${namespace}/endpoints/${name}` });
  for (const subset of endpoints.subsets ?? []) {
    const endpointPort = (subset.ports ?? []).find((p) => !servicePort?.name || p.name === servicePort.name);
    const address = subset.addresses?.[0];
    if (endpointPort && address) return `http://${address.ip}:${endpointPort.port}`;
  }
  throw new FerryError('smoke', `Service ${namespace}/${name} has no ready endpoint on the target`, { fix: 'wait for its pods to be ready, or check their readiness probes' });
}
