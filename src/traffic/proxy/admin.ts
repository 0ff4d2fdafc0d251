import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { authoriseBearer, readJsonBody, sendAdminError, tokenDigest } from '../../util/admin-http.js';
import { FerryError } from '../../util/errors.js';
import { splitListen } from './config.js';
import type { RouterControl } from './control.js';
import { closeServer, listen } from './server.js';

/**
 * The router's admin API. Reads are open (metrics, routes, mirror statistics); changes need
 * `Authorization: Bearer <token>`. Without a configured token the API is read-only. With
 * several workers it runs in the primary process: a change answers once every worker has
 * applied it, and reads sum every worker's counters (cluster-primary.ts).
 *
 *   GET  /healthz                     ok
 *   GET  /metrics                     Prometheus text (prom-client)
 *   GET  /metrics.json                per-backend counters and latency histograms
 *   GET  /routes, /routes/NAME        weights, stickiness, mirror setting
 *   GET  /routes/NAME/mirror          mismatch counts and the sample of differing pairs
 *   PUT  /routes/NAME/weight          {"target": 10}            (token)
 *   PUT  /routes/NAME/mirror          {"enabled": true, "percent": 5, "allowNonIdempotent"?, "ignorePaths"?}   (token)
 *   PUT  /routes/NAME/stickiness      {"mode": "cookie"|"header"|"none", "name": "ferry_user"}   (token)
 *   GET  /tls                         the TLS listener's certificate (subject, names, expiry, fingerprint; never the key)
 *   PUT  /tls                         {"cert": PEM, "key": PEM, "source"?: "Secret ns/name"}   (token) replaces it
 */
export async function startAdmin(listenAddress: string, router: RouterControl, token: string | undefined): Promise<{ url: string; close(): Promise<void> }> {
  const expected = token ? tokenDigest(token) : undefined;
  const server = createServer((req, res) => {
    handle(req, res, router, expected).catch((error: unknown) => sendAdminError(res, error, sendJson));
  });
  const { host, port } = splitListen(listenAddress);
  await listen(server, host, port, 'admin.listen');
  const address = server.address() as AddressInfo;
  const printable = address.address.includes(':') ? `[${address.address}]` : address.address;
  return { url: `http://${printable}:${address.port}`, close: () => closeServer(server) };
}

async function handle(req: IncomingMessage, res: ServerResponse, router: RouterControl, expected: Buffer | undefined): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') {
    if (url.pathname === '/healthz') return sendText(res, 200, 'ok\n');
    if (url.pathname === '/metrics') {
      const { text, contentType } = await router.metricsText();
      return sendText(res, 200, text, contentType);
    }
    if (url.pathname === '/metrics.json') return sendJson(res, 200, { backends: await router.metricsSnapshot() });
    if (url.pathname === '/tls') {
      if (!router.tlsUrl) return sendJson(res, 404, { code: 'not-found', message: 'the router has no TLS listener' });
      return sendJson(res, 200, { url: router.tlsUrl, certificate: (await router.certificate()) ?? null });
    }
    if (parts[0] === 'routes' && parts.length === 1) return sendJson(res, 200, { routes: await router.routes() });
    if (parts[0] === 'routes' && parts.length === 2) return sendJson(res, 200, await findRoute(router, parts[1]!));
    if (parts[0] === 'routes' && parts.length === 3 && parts[2] === 'mirror') return sendJson(res, 200, await router.mirrorStats(parts[1]!));
    return sendJson(res, 404, { code: 'not-found', message: `no admin endpoint ${url.pathname}` });
  }
  if (method !== 'PUT' && method !== 'POST') return sendJson(res, 405, { code: 'method', message: `${method} is not supported` });
  authoriseBearer(req, expected, { message: 'the admin API is read-only: the router was started without a token', fix: 'start the router with FERRY_ROUTER_TOKEN set (or admin.tokenFile in router.yaml)' });
  // A certificate chain and key can exceed the 64 KiB that every other body fits in.
  const body = await readJsonBody(req, url.pathname === '/tls' ? 1024 * 1024 : 64 * 1024);
  if (url.pathname === '/tls') {
    const { cert, key, source } = body as { cert?: unknown; key?: unknown; source?: unknown };
    if (typeof cert !== 'string' || typeof key !== 'string') throw new FerryError('usage', 'body must be {"cert": PEM, "key": PEM}', { location: { field: typeof cert !== 'string' ? 'cert' : 'key' }, fix: 'send the PEM certificate chain and its private key as strings' });
    let certificate;
    try {
      certificate = await router.setCertificate({ cert, key }, typeof source === 'string' && source.length <= 200 ? source : 'admin API');
    } catch (error) {
      // A pair that cannot serve is the caller's mistake (400), not the router's.
      if (error instanceof FerryError && error.code === 'tls') throw new FerryError('usage', error.message, { location: error.location, ...(error.fix ? { fix: error.fix } : {}) });
      throw error;
    }
    return sendJson(res, 200, { url: router.tlsUrl, certificate });
  }
  if (parts[0] === 'routes' && parts.length === 3 && parts[2] === 'weight') {
    const target = (body as { target?: unknown }).target;
    if (typeof target !== 'number') throw new FerryError('usage', 'body must be {"target": PERCENT}', { location: { field: 'target' }, fix: 'send a number from 0 to 100' });
    return sendJson(res, 200, await router.setWeight(parts[1]!, target));
  }
  if (parts[0] === 'routes' && parts.length === 3 && parts[2] === 'mirror') {
    const { enabled, percent, allowNonIdempotent, ignorePaths } = body as { enabled?: unknown; percent?: unknown; allowNonIdempotent?: unknown; ignorePaths?: unknown };
    const current = (await findRoute(router, parts[1]!)).mirror;
    if (enabled !== undefined && typeof enabled !== 'boolean') throw new FerryError('usage', '"enabled" must be true or false', { location: { field: 'enabled' } });
    if (percent !== undefined && typeof percent !== 'number') throw new FerryError('usage', '"percent" must be a number from 0 to 100', { location: { field: 'percent' } });
    if (allowNonIdempotent !== undefined && typeof allowNonIdempotent !== 'boolean') throw new FerryError('usage', '"allowNonIdempotent" must be true or false', { location: { field: 'allowNonIdempotent' } });
    if (ignorePaths !== undefined && !(Array.isArray(ignorePaths) && ignorePaths.every((path) => typeof path === 'string' && path.length > 0))) {
      throw new FerryError('usage', '"ignorePaths" must be a list of dotted JSON paths', { location: { field: 'ignorePaths' }, fix: 'e.g. ["meta.at", "items.*.updatedAt"]' });
    }
    return sendJson(res, 200, await router.setMirror(parts[1]!, {
      enabled: enabled ?? current.enabled,
      percent: percent ?? current.percent,
      allowNonIdempotent: allowNonIdempotent ?? current.allowNonIdempotent,
      ignorePaths: (ignorePaths as string[] | undefined) ?? current.ignorePaths,
    }));
  }
  if (parts[0] === 'routes' && parts.length === 3 && parts[2] === 'stickiness') {
    const { mode, name } = body as { mode?: unknown; name?: unknown };
    if (mode !== 'cookie' && mode !== 'header' && mode !== 'none') throw new FerryError('usage', '"mode" must be cookie, header or none', { location: { field: 'mode' } });
    if (typeof name !== 'string' || name.length === 0) throw new FerryError('usage', '"name" must name the cookie or header', { location: { field: 'name' } });
    return sendJson(res, 200, await router.setStickiness(parts[1]!, { mode, name }));
  }
  return sendJson(res, 404, { code: 'not-found', message: `no admin endpoint ${method} ${url.pathname}` });
}

async function findRoute(router: RouterControl, name: string) {
  const routes = await router.routes();
  const route = routes.find((candidate) => candidate.name === name);
  if (!route) throw new FerryError('not-found', `no route named "${name}"`, { fix: `use one of: ${routes.map((r) => r.name).join(', ')}` });
  return route;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  sendText(res, status, `${JSON.stringify(value, null, 2)}\n`, 'application/json');
}

function sendText(res: ServerResponse, status: number, text: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(text);
}
