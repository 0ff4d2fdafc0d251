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
    results.push(await runCheck(check, url));
  }
  const failed = results.filter((result) => !result.ok);
  if (failed.length > 0) {
    throw new FerryError('smoke', `smoke check${failed.length > 1 ? 's' : ''} failed on the target: ${failed.map((f) => `${f.name} (${f.url}): ${f.problem}`).join('; ')}`, {
      fix: 'the target is not serving correctly yet; no traffic was moved. Fix it and apply again',
    });
  }
  return results;
}

/**
 * One request; a connection refused or reset is retried (3 attempts, 0.5 s apart): an
 * endpoint that just turned ready may still be binding. A wrong answer is not retried.
 */
async function runCheck(check: SmokeCheck, url: string): Promise<SmokeResult> {
  let problem = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const response = await request(url, { method: check.method as 'GET', headersTimeout: 10_000, bodyTimeout: 10_000 });
      const body = await response.body.text();
      const wrong = response.statusCode !== check.expectStatus ? `expected status ${check.expectStatus}, got ${response.statusCode}`
        : check.expectBody !== undefined && !body.includes(check.expectBody) ? `body does not contain "${check.expectBody}"` : undefined;
      return { name: check.name, url, status: response.statusCode, ok: !wrong, ...(wrong ? { problem: wrong } : {}) };
    } catch (error) {
      problem = (error as Error).message || (error as { code?: string }).code || 'request failed';
      if (attempt < 3) await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return { name: check.name, url, status: 0, ok: false, problem };
}

type Obj = Record<string, any>;

/**
 * `namespace/name:port` → http://address:port of a ready endpoint of that Service, read
 * from its EndpointSlices (discovery.k8s.io/v1, what kube-proxy reads) or, on clusters
 * without them, its Endpoints. The port is matched by Service port number or name; the
 * endpoint port is the one with that Service port's name (a lab pod's mapped loopback port).
 */
async function serviceAddress(client: KubeClient, check: SmokeCheck): Promise<string> {
  const match = /^([^/]+)\/([^:]+)(?::(.+))?$/.exec(check.service ?? '');
  if (!match) {
    throw new FerryError('plan', `smoke check "${check.name}" needs url or service (namespace/name:port)`, { location: { field: 'smoke.service' }, fix: 'e.g. service: shop/web:80' });
  }
  const [, namespace, name, port] = match as unknown as [string, string, string, string | undefined];
  const service = await client.request<Obj>({ path: `/api/v1/namespaces/${namespace}/services/${name}` }).catch((error: FerryError) => {
    if (error.code !== 'http-404') throw error;
    throw new FerryError('smoke', `smoke check "${check.name}": Service ${namespace}/${name} is not on the target`, { location: { field: 'smoke.service' }, fix: 'add the Service to the slice, or correct the smoke check' });
  });
  const ports = (service.spec?.ports ?? []) as Array<{ name?: string; port: number }>;
  const servicePort = port === undefined ? ports[0] : ports.find((p) => String(p.port) === port || p.name === port);
  if (!servicePort) {
    throw new FerryError('smoke', `smoke check "${check.name}": Service ${namespace}/${name} has no port ${port}`, { location: { field: 'smoke.service' }, fix: `use one of: ${ports.map((p) => p.name ?? p.port).join(', ')}` });
  }
  const portName = servicePort.name ?? '';
  const slices = await client.request<{ items: Obj[] }>({ path: `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, query: { labelSelector: `kubernetes.io/service-name=${name}` } }).catch(() => ({ items: [] as Obj[] }));
  for (const slice of slices.items) {
    const endpointPort = ((slice.ports ?? []) as Array<{ name?: string; port?: number }>).find((p) => (p.name ?? '') === portName);
    const endpoint = ((slice.endpoints ?? []) as Obj[]).find((e) => e.conditions?.ready !== false && e.addresses?.length);
    if (endpointPort?.port && endpoint) return `http://${hostOf(endpoint.addresses[0])}:${endpointPort.port}`;
  }
  const endpoints = await client.request<{ subsets?: Array<{ addresses?: Array<{ ip: string }>; ports?: Array<{ name?: string; port: number }> }> }>({ path: `/api/v1/namespaces/${namespace}/endpoints/${name}` }).catch(() => ({ subsets: [] }));
  for (const subset of endpoints.subsets ?? []) {
    const endpointPort = (subset.ports ?? []).find((p) => (p.name ?? '') === portName);
    const address = subset.addresses?.[0];
    if (endpointPort && address) return `http://${hostOf(address.ip)}:${endpointPort.port}`;
  }
  throw new FerryError('smoke', `smoke check "${check.name}": Service ${namespace}/${name} has no ready endpoint on the target`, { fix: 'check the readiness of its pods and that its selector matches them' });
}

function hostOf(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}
