import https from 'node:https';
import http from 'node:http';
import type { KubeConfig } from './client-node.js';
import { FerryError } from '../util/errors.js';
import type { KubeObject } from './object.js';

/** A served resource type, as discovery reports it (preferred version of each group). */
export interface ApiResource {
  group: string;
  version: string;
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  verbs: string[];
}

export interface KubeRequest {
  method?: string;
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
}

/**
 * Raw access to a cluster's REST API with the official client's authentication
 * (`KubeConfig.applyToHTTPSOptions`: CA, client certs, tokens, exec plugins). Used where
 * the generated clients have no call: discovery of every group and listing any resource.
 */
export class KubeClient {
  readonly server: string;
  readonly contextName: string;

  private agent: https.Agent | undefined;

  constructor(private readonly config: KubeConfig) {
    this.server = config.getCurrentCluster()?.server ?? '';
    this.contextName = config.getCurrentContext();
  }

  async request<T>(request: KubeRequest): Promise<T> {
    const url = new URL(request.path, this.server);
    for (const [key, value] of Object.entries(request.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    const options: https.RequestOptions = { method: request.method ?? 'GET', headers: { accept: 'application/json' } };
    await this.config.applyToHTTPSOptions(options);
    // The official client builds a fresh agent per call (a TLS handshake each time); one
    // keep-alive agent per client, with the same TLS settings, makes bulk applies ~3× faster.
    // Headers (tokens, exec credentials) are still computed per request.
    this.agent ??= new https.Agent({ keepAlive: true, maxSockets: 16, ca: options.ca, cert: options.cert, key: options.key, ...(options.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}), ...(options.servername ? { servername: options.servername } : {}) });
    if (url.protocol === 'https:') options.agent = this.agent;
    const payload = request.body === undefined ? undefined : typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
    if (payload !== undefined) options.headers = { ...options.headers, 'content-type': request.contentType ?? 'application/json' };
    const transport = url.protocol === 'http:' ? http : https;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = transport.request(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error('request timed out after 30 s')));
      if (payload !== undefined) req.write(payload);
      req.end();
    }).catch((error: Error) => {
      throw new FerryError('cluster-unreachable', `cannot reach cluster "${this.contextName}" at ${this.server}: ${error.message}`, {
        fix: 'check the cluster is running and the kubeconfig points at it (for local clusters: `ferry lab up`)',
        cause: error,
      });
    });
    if (status >= 400) throw statusError(status, text, this.contextName, `${options.method} ${url.pathname}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** Closes kept-alive connections (so a short-lived process can exit at once). */
  close(): void {
    this.agent?.destroy();
  }

  async serverVersion(): Promise<{ major: string; minor: string; gitVersion: string }> {
    return this.request({ path: '/version' });
  }

  /** Every listable resource the server serves, in the preferred version of each group. */
  async discoverResources(): Promise<ApiResource[]> {
    return this.discover('preferred');
  }

  /** Every resource in every served version (preflight asks "is this exact version served?"). */
  async discoverResourcesAllVersions(): Promise<ApiResource[]> {
    return this.discover('all');
  }

  private async discover(which: 'preferred' | 'all'): Promise<ApiResource[]> {
    const core = await this.request<{ resources: RawResource[] }>({ path: '/api/v1' });
    const groups = await this.request<{ groups: Array<{ name: string; preferredVersion: { version: string }; versions: Array<{ version: string }> }> }>({ path: '/apis' });
    const groupVersions = groups.groups.flatMap((group) =>
      (which === 'preferred' ? [group.preferredVersion.version] : group.versions.map((v) => v.version)).map((version) => ({ group: group.name, version })),
    );
    const lists = await Promise.all(
      groupVersions.map(async ({ group, version }) => ({
        group,
        version,
        resources: (await this.request<{ resources: RawResource[] }>({ path: `/apis/${group}/${version}` })).resources,
      })),
    );
    return [{ group: '', version: 'v1', resources: core.resources }, ...lists].flatMap(({ group, version, resources }) =>
      resources
        .filter((resource) => !resource.name.includes('/'))
        .map((resource) => ({
          group,
          version,
          apiVersion: group ? `${group}/${version}` : version,
          kind: resource.kind,
          plural: resource.name,
          namespaced: resource.namespaced,
          verbs: resource.verbs ?? [],
        })),
    );
  }

  /** Lists all objects of a resource across namespaces, following `continue` tokens. */
  async listAll(resource: ApiResource, pageSize = 500): Promise<KubeObject[]> {
    const base = resource.group ? `/apis/${resource.group}/${resource.version}` : `/api/${resource.version}`;
    const objects: KubeObject[] = [];
    let next: string | undefined;
    do {
      const page = await this.request<{ items: KubeObject[]; metadata?: { continue?: string } }>({
        path: `${base}/${resource.plural}`,
        query: { limit: pageSize, continue: next },
      });
      for (const item of page.items ?? []) objects.push({ ...item, apiVersion: resource.apiVersion, kind: resource.kind });
      next = page.metadata?.continue || undefined;
    } while (next);
    return objects;
  }
}

interface RawResource {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs?: string[];
}

function statusError(status: number, text: string, context: string, what: string): FerryError {
  let message = text.slice(0, 300);
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? message;
  } catch {
    // not a Kubernetes Status body; keep the text
  }
  const fix =
    status === 401 ? 'the credentials in the kubeconfig were refused: refresh the token or certificate'
    : status === 403 ? 'the kubeconfig user lacks permission: grant list/get on this resource or use another context'
    : status === 404 ? 'the resource is not served by this cluster: check the API version'
    : 'see the message from the API server';
  return new FerryError(`http-${status}`, `cluster "${context}" answered ${status} to ${what}: ${message}`, { fix });
}
