import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { Pool } from 'undici';

export interface IngressEndpoint {
  host: string;
  port: number;
}

export interface ClusterIngressOptions {
  /** Cluster name, sent back as header x-ferry-cluster so traffic tests can tell clusters apart. */
  cluster?: string;
  /** Loopback address to listen on; default 127.0.0.1 (any 127.x.y.z works on Linux). */
  host?: string;
  /** Default 0: the OS picks a free port. */
  port?: number;
  /**
   * The endpoints serving a request. `undefined`: no rule matches (404); `[]`: a rule
   * matches but its Service has no ready endpoint (503), as ingress-nginx answers.
   */
  resolve(host: string, path: string): IngressEndpoint[] | undefined | Promise<IngressEndpoint[] | undefined>;
}

export interface ClusterIngress {
  /** http://host:port — "the cluster's address" for traffic. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

// Hop-by-hop headers are the proxy's own and must not be forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

function forwardable(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

/**
 * A cluster's ingress on loopback: an HTTP reverse proxy that asks `resolve` for the
 * endpoints of each request's Host and path and balances round-robin over them, one
 * keep-alive undici Pool per endpoint.
 */
export async function startClusterIngress(options: ClusterIngressOptions): Promise<ClusterIngress> {
  const pools = new Map<string, Pool>();
  // Round-robin per set of endpoints, so interleaved routes do not skew each other's turns.
  const turns = new Map<string, number>();
  const poolFor = (endpoint: IngressEndpoint): Pool => {
    const origin = `http://${endpoint.host}:${endpoint.port}`;
    let pool = pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { connections: 64, keepAliveTimeout: 10_000 });
      pools.set(origin, pool);
    }
    return pool;
  };
  const reply = (response: import('node:http').ServerResponse, status: number, message: string) => {
    response.writeHead(status, { 'content-type': 'text/plain', ...(options.cluster ? { 'x-ferry-cluster': options.cluster } : {}) });
    response.end(`${message}\n`);
  };

  const server: Server = createServer(async (request, response) => {
    const host = request.headers.host ?? '';
    const path = request.url ?? '/';
    let endpoints: IngressEndpoint[] | undefined;
    try {
      endpoints = await options.resolve(host.replace(/:\d+$/, ''), path.split('?')[0] ?? '/');
    } catch {
      return reply(response, 500, 'ingress: route lookup failed');
    }
    if (endpoints === undefined) return reply(response, 404, `ingress: no rule for ${host}${path}`);
    if (endpoints.length === 0) return reply(response, 503, `ingress: no ready endpoint for ${host}${path}`);
    const key = endpoints.map((e) => `${e.host}:${e.port}`).join(',');
    const turn = turns.get(key) ?? 0;
    turns.set(key, turn + 1);
    if (turns.size > 10_000) turns.clear();
    const endpoint = endpoints[turn % endpoints.length] as IngressEndpoint;
    const headers = forwardable(request.headers);
    headers['x-forwarded-for'] = request.socket.remoteAddress ?? '';
    headers['x-forwarded-host'] = host;
    try {
      const upstream = await poolFor(endpoint).request({
        method: (request.method ?? 'GET') as 'GET',
        path,
        headers,
        body: request.method === 'GET' || request.method === 'HEAD' ? null : request,
      });
      const out = forwardable(upstream.headers as IncomingHttpHeaders);
      if (options.cluster) out['x-ferry-cluster'] = options.cluster;
      response.writeHead(upstream.statusCode, out);
      for await (const chunk of upstream.body) response.write(chunk);
      response.end();
    } catch (error) {
      if (!response.headersSent) reply(response, 502, `ingress: upstream ${endpoint.host}:${endpoint.port} failed: ${(error as Error).message}`);
      else response.destroy();
    }
  });
  server.keepAliveTimeout = 65_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://${host}:${port}`,
    host,
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...pools.values()].map((pool) => pool.close()));
    },
  };
}
