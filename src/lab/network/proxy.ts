/**
 * A cluster's service proxy and its east-west gateway: one HTTP forward proxy, in two roles.
 *
 * - `proxy` (named in every pod's HTTP_PROXY): absolute-form HTTP/1.1 requests and CONNECT
 *   tunnels (HTTP/2, gRPC, WebSocket, TLS) to any DNS form of a Service or pod, resolved
 *   relative to the caller's namespace; the caller is the pod named in Proxy-Authorization.
 *   A tunnel carrying HTTP/2 is terminated and each request routed on its own (h2.ts), as a
 *   sidecar does; other tunnels are byte streams.
 * - `gateway` (other clusters' forwarders): the same, to FQDNs of this cluster's Services,
 *   served by this cluster's pods only; it answers with who served (`x-ferry-destination`).
 *
 * Plain `GET /metrics` (origin-form) answers the cluster's Istio-shaped telemetry.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Pool } from 'undici';
import type { ControllerClient } from '../controllers/client.js';
import type { PodRuntime } from '../runtime.js';
import { ServiceUnreachable } from './endpoints.js';
import {
  destinationOf, dialFirst, DESTINATION_HEADER, formatPeer, parsePeer, pickEndpoints, SOURCE_HEADER, splice,
  type Candidate,
} from './forward.js';
import { gatewayAt } from './gateways.js';
import { serveHttp2, sniffHttp2, UpstreamSessions, type Http2Hop } from './h2.js';
import type { MeshCall, MeshRequest } from './mesh.js';
import { resolveHost } from './names.js';
import { unknownPeer, workloadOf, type Destination, type NetworkTelemetry, type Peer, type Reporter } from './telemetry.js';

export type ProxyRole = 'proxy' | 'gateway';

export interface ServiceProxyOptions {
  role: ProxyRole;
  cluster: string;
  client: ControllerClient;
  telemetry: NetworkTelemetry;
  runtime(): PodRuntime | undefined;
}

interface Caller {
  namespace: string;
  /** The calling pod's workload; `unknown` (of this cluster, at the proxy) when it did not say. */
  source: Peer;
  /** The calling pod's labels (VirtualService `sourceLabels`), when it said who it is. */
  labels?: Record<string, string>;
}

/** Where a host:port goes: endpoints in turn, and who each one is for telemetry. */
interface Route {
  candidates: Candidate[];
  /** `fqdn:port` asked of a gateway when an endpoint is one. */
  authority: string;
  destination(endpoint: Candidate, gatewayPeer?: Peer): Destination;
}

// Hop-by-hop headers are the proxy's own and must not be forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

/** Adds the proxy's handlers to `server` (created here unless given, e.g. the gateway's claimed listener). */
export function serveServiceProxy(options: ServiceProxyOptions, server: Server = createServer()): { server: Server; close(): Promise<void> } {
  const { role, cluster, client, telemetry } = options;
  const pools = new Map<string, Pool>();
  const poolFor = (host: string, port: number): Pool => {
    const origin = `http://${host}:${port}`;
    let pool = pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { connections: 64, keepAliveTimeout: 10_000 });
      pools.set(origin, pool);
    }
    return pool;
  };
  const failedCalls = new WeakMap<ServiceUnreachable, Destination>();
  const label = role === 'proxy' ? `lab service proxy (cluster ${cluster})` : `east-west gateway of cluster ${cluster}`;

  const callerOf = (headers: IncomingHttpHeaders): Caller => {
    if (role === 'gateway') return { namespace: 'default', source: parsePeer(headers[SOURCE_HEADER]) ?? unknownPeer() };
    const identity = podIdentity(headers['proxy-authorization']);
    if (!identity) return { namespace: 'default', source: unknownPeer(cluster) };
    const labels = client.get('v1', 'Pod', identity.namespace, identity.pod)?.metadata.labels;
    return { namespace: identity.namespace, source: workloadOf(client, identity.namespace, identity.pod, cluster), ...(labels ? { labels } : {}) };
  };

  /**
   * The proxy is every caller's sidecar: mesh VirtualServices apply to what it carries, per
   * request when it sees one, per connection for a tunnel. The gateway passes calls through.
   */
  const meshCall = (caller: Caller, request: MeshRequest | undefined): MeshCall | undefined => role === 'gateway'
    ? undefined
    : { namespace: caller.namespace, ...(caller.labels ? { labels: caller.labels } : {}), ...(request ? { request } : {}) };

  const route = (host: string, port: number, caller: Caller, request?: MeshRequest): Route => {
    const target = resolveHost(client, host, caller.namespace);
    if (!target) {
      throw new ServiceUnreachable(502, `${label}: no Service or pod is named "${host}" (looked up from namespace ${caller.namespace}; the lab resolves svc, svc.ns, svc.ns.svc, svc.ns.svc.cluster.local and pod.svc.ns.svc.cluster.local)`);
    }
    if (target.kind === 'service') {
      let picked: ReturnType<typeof pickEndpoints>;
      try {
        const mesh = meshCall(caller, request);
        picked = pickEndpoints(client, target.namespace, target.name, port, { localOnly: role === 'gateway', ...(mesh ? { mesh } : {}) });
      } catch (error) {
        // Counted as Istio counts a call with no healthy upstream: against the Service, workload unknown.
        if (error instanceof ServiceUnreachable) failedCalls.set(error, { ...unknownPeer(cluster), service: `${target.name}.${target.namespace}.svc.cluster.local`, serviceName: target.name, serviceNamespace: target.namespace });
        throw error;
      }
      return { candidates: picked.candidates, authority: `${picked.fqdn}:${picked.port.port}`, destination: (endpoint, peer) => destinationOf(client, picked, endpoint, peer) };
    }
    if (target.kind === 'pod' && target.via) {
      const fqdn = `${target.pod}.${target.service}.${target.namespace}.svc.cluster.local`;
      const gateway = gatewayAt(target.via.host, target.via.port);
      if (!gateway && role === 'gateway') throw new ServiceUnreachable(503, `${label}: ${fqdn} is no pod of this cluster`);
      return {
        candidates: [gateway ? { ...target.via, gateway } : { host: target.via.host, port }],
        authority: `${fqdn}:${port}`,
        destination: (_endpoint, peer) => ({ ...(peer ?? unknownPeer(gateway?.cluster)), service: `${target.service}.${target.namespace}.svc.cluster.local`, serviceName: target.service, serviceNamespace: target.namespace }),
      };
    }
    if (target.kind === 'pod') {
      const hostPort = options.runtime()?.get(target.namespace, target.pod)?.hostPort(port);
      if (hostPort === undefined) throw new ServiceUnreachable(503, `${label}: pod ${target.namespace}/${target.pod} (${host}) is not running or has no container port ${port}`);
      const fqdn = `${target.service}.${target.namespace}.svc.cluster.local`;
      return {
        candidates: [{ host: '127.0.0.1', port: hostPort, pod: { namespace: target.namespace, name: target.pod } }],
        authority: `${target.pod}.${fqdn}:${port}`,
        destination: () => ({ ...workloadOf(client, target.namespace, target.pod, cluster), service: fqdn, serviceName: target.service, serviceNamespace: target.namespace }),
      };
    }
    return {
      candidates: [{ host: target.host, port }],
      authority: `${target.host}:${port}`,
      destination: () => ({ ...unknownPeer(cluster), service: target.host, serviceName: 'unknown', serviceNamespace: 'unknown' }),
    };
  };

  /** The sidecars that would report a call: the caller's and, for this cluster's pods, the callee's. */
  const reporters = (endpoint: Candidate | undefined): Reporter[] => {
    if (role === 'gateway') return ['destination'];
    return endpoint?.gateway ? ['source'] : ['source', 'destination'];
  };

  /** Dials the route's endpoints in turn, through a gateway where an endpoint is one. */
  const open = async (routed: Route, source: Peer): Promise<{ socket: Duplex; endpoint: Candidate; destination: Destination }> => {
    const opened = await dialFirst(routed.candidates, routed.authority, source);
    return { socket: opened.socket, endpoint: opened.endpoint, destination: routed.destination(opened.endpoint, opened.peer) };
  };

  // Tunnels leave the HTTP server's bookkeeping once spliced; closing the network must end them.
  const tunnels = new Set<Duplex>();
  const track = (socket: Duplex) => {
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
  };
  const countConnection = (source: Peer, endpoint: Candidate, destination: Destination): (() => void) => {
    const closers = reporters(endpoint).map((reporter) => telemetry.connection(reporter, source, destination));
    return () => closers.forEach((close) => close());
  };

  server.on('connect', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    track(socket);
    const caller = callerOf(request.headers);
    const { host, port } = splitAuthority(request.url ?? '');
    void (async () => {
      try {
        if (!host || !port) throw new ServiceUnreachable(502, `${label}: CONNECT needs host:port, got "${request.url ?? ''}"`);
        const routed = route(host, port, caller);
        if (role === 'gateway') {
          // The gateway passes bytes through (Istio's AUTO_PASSTHROUGH), HTTP/2 included: the caller's side routed them.
          const opened = await open(routed, caller.source);
          if (socket.destroyed) return opened.socket.destroy();
          socket.write(`HTTP/1.1 200 Connection Established\r\n${DESTINATION_HEADER}: ${formatPeer(opened.destination)}\r\n\r\n`);
          splice(socket, opened.socket, head, countConnection(caller.source, opened.endpoint, opened.destination));
          return;
        }
        // As a sidecar: the connection is accepted, then what the caller sends decides. HTTP/2
        // (gRPC) is terminated and routed per request; anything else (TLS, WebSocket, TCP) is a
        // byte tunnel routed once, and closed when no endpoint takes it (a sidecar's reset).
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        const sniffed = await sniffHttp2(socket, head, () => open(routed, caller.source));
        if (socket.destroyed) return void ('upstream' in sniffed && sniffed.upstream.socket.destroy());
        if (sniffed.http2) return serveHttp2(socket, sniffed.head, http2Hop(host, port, caller), upstreamSessions);
        if ('failure' in sniffed) return void socket.destroy();
        const opened = sniffed.upstream;
        splice(socket, opened.socket, sniffed.head, countConnection(caller.source, opened.endpoint, opened.destination));
      } catch (error) {
        refuseRaw(socket, error, label);
      }
    })();
  });

  const upstreamSessions = new UpstreamSessions();
  /** One tunnel's HTTP/2 streams, each routed from the caller to `host:port` with its own request. */
  const http2Hop = (host: string, port: number, caller: Caller): Http2Hop => ({
    route: (request) => route(host, port, caller, request),
    failedDestination: (error) => (error instanceof ServiceUnreachable ? failedCalls.get(error) : undefined),
    source: caller.source,
    reporters,
    telemetry,
    label,
    authority: `${host}:${port}`,
  });

  // WebSocket (or any Upgrade) sent absolute-form: tunnel to the endpoint and replay the request in origin-form.
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    track(socket);
    const caller = callerOf(request.headers);
    void (async () => {
      try {
        const url = targetUrl(request, role);
        if (!url) throw new ServiceUnreachable(502, `${label}: an upgrade request must be absolute-form (http://host/path)`);
        const opened = await open(route(url.hostname, portOf(url), caller, meshRequest(request, url)), caller.source);
        const lines = [`${request.method ?? 'GET'} ${url.pathname}${url.search} HTTP/1.1`];
        for (let i = 0; i < request.rawHeaders.length; i += 2) {
          const name = request.rawHeaders[i]!;
          if (!/^proxy-/i.test(name) && name.toLowerCase() !== SOURCE_HEADER) lines.push(`${name}: ${request.rawHeaders[i + 1]!}`);
        }
        opened.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
        splice(socket, opened.socket, head, countConnection(caller.source, opened.endpoint, opened.destination));
      } catch (error) {
        refuseRaw(socket, error, label);
      }
    })();
  });

  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const url = targetUrl(request, role);
    if (!url) {
      const path = (request.url ?? '').split('?')[0];
      if (request.method === 'GET' && path === '/metrics') {
        telemetry.metrics().then((text) => {
          response.writeHead(200, { 'content-type': telemetry.registry.contentType });
          response.end(text);
        }, (error: Error) => reply(response, 500, `metrics failed: ${error.message}`));
        return;
      }
      if (path === '/healthz') return reply(response, 200, 'ok');
      return reply(response, 400, `${label}: send absolute-form requests (http://svc.ns:port/path) through this proxy, e.g. with http_proxy set; GET /metrics answers its telemetry`);
    }
    void forwardRequest(request, response, url);
  });

  const forwardRequest = async (request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> => {
    const started = performance.now();
    const caller = callerOf(request.headers);
    const source = caller.source;
    let routed: Route;
    try {
      routed = route(url.hostname, portOf(url), caller, meshRequest(request, url));
    } catch (error) {
      const destination = error instanceof ServiceUnreachable ? failedCalls.get(error) : undefined;
      if (destination) telemetry.request(role === 'proxy' ? 'source' : 'destination', source, destination, 'http', error instanceof ServiceUnreachable ? error.status : 502, performance.now() - started);
      return replyError(response, error, label);
    }
    const method = request.method ?? 'GET';
    // A body we hold can be sent again to the next endpoint when one refuses (a pod going away
    // before its Endpoints say so); larger or chunked bodies stream, with one try.
    const length = request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']);
    const chunked = request.headers['transfer-encoding'] !== undefined;
    let body: Buffer | IncomingMessage | null = null;
    if (chunked || (length !== undefined && length > MAX_BUFFERED_BODY)) body = request;
    else if (length !== undefined && length > 0) {
      try {
        body = await readBody(request);
      } catch {
        return void response.destroy();
      }
    }
    const tries = body === request ? routed.candidates.slice(0, 1) : routed.candidates.slice(0, 3);
    let lastError: Error | undefined;
    for (const endpoint of tries) {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(request.headers)) if (value !== undefined && !HOP_BY_HOP.has(name) && name !== SOURCE_HEADER) headers[name] = value;
      if (endpoint.gateway) headers[SOURCE_HEADER] = formatPeer(caller.source);
      const path = endpoint.gateway ? `http://${routed.authority}${url.pathname}${url.search}` : `${url.pathname}${url.search}`;
      const pool = endpoint.gateway ? poolFor(endpoint.gateway.host, endpoint.gateway.port) : poolFor(endpoint.host, endpoint.port);
      let upstream: Awaited<ReturnType<Pool['request']>>;
      try {
        upstream = await pool.request({ method: method as 'GET', path, headers, body });
      } catch (error) {
        lastError = error as Error;
        if (body === request || !retryable(lastError, method)) break;
        continue;
      }
      const destination = routed.destination(endpoint, endpoint.gateway ? parsePeer(upstream.headers[DESTINATION_HEADER] as string | undefined) : undefined);
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(upstream.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value as string | string[];
      if (role === 'gateway') out[DESTINATION_HEADER] = formatPeer(destination);
      response.once('close', () => {
        if (!response.writableFinished) upstream.body.destroy();
        const code = response.writableFinished ? upstream.statusCode : 0;
        for (const reporter of reporters(endpoint)) telemetry.request(reporter, source, destination, 'http', code, performance.now() - started);
      });
      try {
        response.writeHead(upstream.statusCode, out);
        for await (const chunk of upstream.body) response.write(chunk);
        response.end();
      } catch {
        response.destroy();
      }
      return;
    }
    if (!response.headersSent) reply(response, 502, `${label}: ${routed.authority} failed: ${lastError?.message ?? 'no endpoint'}`);
    else response.destroy();
  };

  return {
    server,
    async close() {
      server.closeAllConnections();
      for (const socket of tunnels) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      upstreamSessions.close();
      await Promise.all([...pools.values()].map((pool) => pool.close().catch(() => undefined)));
    },
  };
}

/** The request's target URL: absolute-form, or (at a gateway) origin-form with a cluster Host. */
function targetUrl(request: IncomingMessage, role: ProxyRole): URL | undefined {
  const raw = request.url ?? '';
  if (/^http:\/\//i.test(raw)) {
    try {
      return new URL(raw);
    } catch {
      return undefined;
    }
  }
  const host = request.headers.host;
  if (role === 'gateway' && raw.startsWith('/') && host && /\.svc\.cluster\.local(:\d+)?$/i.test(host)) return new URL(`http://${host}${raw}`);
  return undefined;
}

/** What a VirtualService match can test of a forwarded request. */
function meshRequest(request: IncomingMessage, url: URL): MeshRequest {
  return { method: request.method ?? 'GET', path: `${url.pathname}${url.search}`, authority: url.host, scheme: url.protocol.replace(/:$/, ''), headers: request.headers };
}

function portOf(url: URL): number {
  return url.port ? Number(url.port) : 80;
}

function splitAuthority(authority: string): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(authority);
  return match ? { host: match[1]!, port: Number(match[2]) } : { host: '', port: 0 };
}

/** The calling pod from Proxy-Authorization userinfo `<namespace>/<pod>` (URL-escaped or not). */
export function podIdentity(header: string | undefined): { namespace: string; pod: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const credentials = Buffer.from(match[1]!, 'base64').toString('utf8');
  const user = credentials.includes(':') ? credentials.slice(0, credentials.indexOf(':')) : credentials;
  let decoded = user;
  try {
    decoded = decodeURIComponent(user);
  } catch {
    // not escaped
  }
  const [namespace, pod] = decoded.split('/');
  return namespace && pod ? { namespace, pod } : undefined;
}

/** Bodies up to this size are read before forwarding, so a refused connection can be retried elsewhere. */
const MAX_BUFFERED_BODY = 1024 * 1024;

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
    request.once('close', () => {
      if (!request.complete) reject(new Error('the client left before sending its body'));
    });
  });
}

/** Nothing reached the endpoint (refused, timed out connecting), or the method is idempotent and the socket broke. */
function retryable(error: Error, method: string): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT'].includes(code)) return true;
  return ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'].includes(method) && ['ECONNRESET', 'UND_ERR_SOCKET'].includes(code);
}

function reply(response: ServerResponse, status: number, message: string): void {
  response.writeHead(status, { 'content-type': 'text/plain' });
  response.end(`${message}\n`);
}

function replyError(response: ServerResponse, error: unknown, label: string): void {
  if (error instanceof ServiceUnreachable) return reply(response, error.status, error.message.startsWith(label) ? error.message : `${label}: ${error.message}`);
  reply(response, 502, `${label}: ${(error as Error).message}`);
}

function refuseRaw(socket: Duplex, error: unknown, label: string): void {
  if (socket.destroyed) return;
  const status = error instanceof ServiceUnreachable ? error.status : 502;
  const message = (error as Error).message;
  const body = `${message.startsWith(label) ? message : `${label}: ${message}`}\n`;
  const reason = status === 503 ? 'Service Unavailable' : status === 404 ? 'Not Found' : 'Bad Gateway';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}
