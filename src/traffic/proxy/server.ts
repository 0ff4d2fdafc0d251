import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createH2cServer } from 'node:http2';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { FerryError } from '../../util/errors.js';
import { startAdmin } from './admin.js';
import { localControl, type RouteSettings } from './control.js';
import type { Dispatcher } from 'undici';
import type { Side } from './buckets.js';
import type { CapturedResponse } from './compare.js';
import { splitListen, type RouterConfig } from './config.js';
import { errorCode, isConnectError, isRetryable, outboundHeaders, PrimaryHandler, ShadowHandler } from './forward.js';
import { H2Proxy } from './h2-forward.js';
import { adoptWithoutListening, closeNet, listenOn, plaintextListener, SessionSet, tlsListener } from './listeners.js';
import { RouterMetrics, type ResponseListener } from './metrics.js';
import { isIdempotent, type MirrorStats } from './mirror.js';
import { EJECT_MS, hostOf, RouteTable, type BackendPool, type MirrorSetting, type RouteState, type StickinessSetting, type RouteView } from './routes.js';
import { describeCertificate, loadTlsMaterial, secureContextOptions, type CertificateView, type TlsMaterial } from './tls.js';
import { UpgradeProxy } from './websocket.js';

/**
 * The embedded router: a reverse proxy over weighted source/target backends with sticky
 * users, mirroring to a shadow, retry of failed connects on the other backend, and
 * per-backend metrics. HTTP/1.1 and h2c on the plaintext listener, h2 and HTTP/1.1 by ALPN on
 * the optional TLS one (listeners.ts); HTTP/1.1 requests go through undici (forward.ts),
 * HTTP/2 and gRPC over HTTP/2 (h2-forward.ts), WebSocket upgrades through tunnels
 * (websocket.ts). `startRouter` is the library API; `ferry router` only calls it.
 */
export interface RouterOptions {
  /** Epoch milliseconds; injected so tests and the judge can run in simulated time. */
  clock?: () => number;
  /** Uniform [0, 1); injected so sampling and new user ids are reproducible. */
  random?: () => number;
  /** Bearer token for the admin API's write endpoints; without it the admin API is read-only. */
  adminToken?: string;
  /** Start the admin listener (default true). */
  admin?: boolean;
  /** The TLS listener's certificate, instead of the one `config.tls` names. */
  tls?: TlsMaterial;
  /** Where `tls` came from, shown in the certificate's description. */
  tlsSource?: string;
  /**
   * Run-time settings applied before the listeners open (a replacement worker starts with
   * the weights, mirror and stickiness the admin API set, not those of router.yaml).
   */
  settings?: RouteSettings[];
}

export interface Router {
  url: string;
  /** `https://host:port` of the TLS listener, when `config.tls` is set. */
  tlsUrl: string | undefined;
  adminUrl: string | undefined;
  metrics: RouterMetrics;
  onResponse(listener: ResponseListener): () => void;
  routes(): RouteView[];
  setWeight(route: string, targetPercent: number): RouteView;
  setMirror(route: string, setting: MirrorSetting): RouteView;
  setStickiness(route: string, setting: StickinessSetting): RouteView;
  mirrorStats(route: string): MirrorStats;
  /** The TLS listener's certificate (never its key), undefined without one. */
  certificate(): CertificateView | undefined;
  /** Replaces the TLS listener's certificate for new handshakes; open connections keep theirs. */
  setCertificate(material: TlsMaterial, source: string): CertificateView;
  close(): Promise<void>;
}

export async function startRouter(config: RouterConfig, options: RouterOptions = {}): Promise<Router> {
  const clock = options.clock ?? Date.now;
  const random = options.random ?? Math.random;
  const metrics = new RouterMetrics();
  const table = new RouteTable(config, random, metrics);
  for (const setting of options.settings ?? []) {
    const route = table.get(setting.name);
    if (!route) continue;
    route.setWeight(setting.weight);
    route.setMirror(setting.mirror);
    route.setStickiness(setting.stickiness);
  }
  const proxy = new Proxy(config, table, metrics, clock, random);
  const http1 = createServer({ keepAlive: true, noDelay: true }, (req, res) => proxy.handle(req, res));
  // Longer than the usual load balancer idle timeout, so clients close idle connections first.
  http1.keepAliveTimeout = 65_000;
  http1.headersTimeout = 66_000;
  const upgrades = new UpgradeProxy(table, metrics, clock, random, config.timeoutMs);
  http1.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => upgrades.handle(req, socket, head));
  adoptWithoutListening(http1);
  const h2 = new H2Proxy(table, metrics, clock, random, config.timeoutMs);
  const http2 = createH2cServer();
  http2.on('stream', (stream, headers, flags: number) => h2.handle(stream, headers, flags));
  const sessions = new SessionSet();
  sessions.watch(http2);
  const front = { http1, http2 };

  const plain = plaintextListener(front);
  const { host, port } = splitListen(config.listen);
  await listenOn(plain, host, port, 'listen');
  const address = plain.address() as AddressInfo;
  let tlsServer: ReturnType<typeof tlsListener> | undefined;
  let certificate: CertificateView | undefined;
  if (config.tls) {
    try {
      const loaded = options.tls ? { material: options.tls, source: options.tlsSource ?? 'startRouter options' } : await loadTlsMaterial(config.tls);
      certificate = loaded ? describeCertificate(loaded.material.cert, loaded.source) : undefined;
      tlsServer = tlsListener(front, loaded ? secureContextOptions(loaded.material, loaded.source) : {});
      const tlsAddress = splitListen(config.tls.listen);
      await listenOn(tlsServer, tlsAddress.host, tlsAddress.port, 'tls.listen');
    } catch (error) {
      await closeNet(plain);
      await table.close();
      throw error;
    }
  }
  const tlsAddress = tlsServer?.address() as AddressInfo | undefined;

  const routeOrThrow = (name: string): RouteState => {
    const route = table.get(name);
    if (!route) throw new FerryError('not-found', `no route named "${name}"`, { fix: `use one of: ${table.routes.map((r) => r.config.name).join(', ')}` });
    return route;
  };
  const router: Router = {
    url: `http://${formatHost(address.address)}:${address.port}`,
    tlsUrl: tlsAddress ? `https://${formatHost(tlsAddress.address)}:${tlsAddress.port}` : undefined,
    adminUrl: undefined,
    metrics,
    onResponse: (listener) => metrics.onResponse(listener),
    routes: () => table.routes.map((route) => route.view()),
    setWeight: (name, percent) => {
      const route = routeOrThrow(name);
      route.setWeight(percent);
      return route.view();
    },
    setMirror: (name, setting) => {
      const route = routeOrThrow(name);
      route.setMirror(setting);
      return route.view();
    },
    setStickiness: (name, setting) => {
      const route = routeOrThrow(name);
      route.setStickiness(setting);
      return route.view();
    },
    mirrorStats: (name) => {
      const route = routeOrThrow(name);
      return route.ledger.stats(route.mirror.enabled, route.mirror.percent);
    },
    certificate: () => certificate,
    setCertificate: (material, source) => {
      if (!tlsServer) throw new FerryError('usage', 'the router has no TLS listener', { location: { field: 'tls' }, fix: 'add tls: { listen: 127.0.0.1:8443 } to router.yaml' });
      const secure = secureContextOptions(material, source);
      const view = describeCertificate(material.cert, source);
      tlsServer.setSecureContext(secure);
      certificate = view;
      return view;
    },
    close: async () => {
      await adminServer?.close();
      upgrades.close();
      await drainFront(http1, sessions, [plain, ...(tlsServer ? [tlsServer] : [])]);
      await table.close();
    },
  };
  let adminServer: { url: string; close(): Promise<void> } | undefined;
  if (options.admin !== false) {
    adminServer = await startAdmin(config.admin.listen, localControl(router), options.adminToken);
    router.adminUrl = adminServer.url;
  }
  return router;
}

const EXCHANGE = Symbol('ferry.exchange');
type TrackedResponse = ServerResponse & { [EXCHANGE]?: Exchange };

/** 'close' listener shared by all responses (no closure per request): aborts the attempt in flight. */
function onResponseClose(this: TrackedResponse): void {
  this[EXCHANGE]?.abort();
}

/** One attempt of one request on one backend; everything the outcome needs travels with it. */
class Exchange extends PrimaryHandler {
  constructor(
    private readonly proxy: Proxy,
    readonly route: RouteState,
    readonly req: IncomingMessage,
    res: ServerResponse,
    readonly options: Dispatcher.DispatchOptions,
    readonly started: number,
    readonly setCookie: string[] | undefined,
    captureLimit: number,
    readonly role: Side,
    readonly retried: boolean,
    readonly shadowDone: Promise<CapturedResponse | undefined> | undefined,
  ) {
    super(res, setCookie, captureLimit);
  }

  get backend(): BackendPool {
    return this.route[this.role];
  }

  get response(): ServerResponse {
    return this.res;
  }

  protected done(error: Error | undefined): void {
    this.proxy.finish(this, error);
  }
}

class Proxy {
  constructor(
    private readonly config: RouterConfig,
    private readonly table: RouteTable,
    private readonly metrics: RouterMetrics,
    private readonly clock: () => number,
    private readonly random: () => number,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const path = req.url ?? '/';
    const route = this.table.find(hostOf(req.headers.host), path);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('ferry router: no route for this host and path\n');
      return;
    }
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) {
      this.route(route, req, res, null, started);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.config.maxRequestBodyBytes) {
        if (!res.headersSent) res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end('ferry router: request body too large\n');
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!res.headersSent) this.route(route, req, res, Buffer.concat(chunks, size), started);
    });
  }

  private route(route: RouteState, req: IncomingMessage, res: ServerResponse, body: Buffer | null, started: number): void {
    // One read of the weight: the decision uses this value whatever the admin API does meanwhile.
    const decision = route.decide(req.headers.cookie, route.stickiness.mode === 'header' ? req.headers[route.stickyHeader] : undefined, this.random, started);
    const side = decision.side;
    const setCookie = decision.setCookie === undefined ? undefined : ['set-cookie', decision.setCookie];
    const method = req.method ?? 'GET';
    const options: Dispatcher.DispatchOptions = {
      method: method as Dispatcher.HttpMethod,
      path: req.url ?? '/',
      headers: outboundHeaders(req.rawHeaders, req.socket.remoteAddress),
      body,
      // No per-request headersTimeout/bodyTimeout: every pool is built with config.timeoutMs (routes.ts).
    };

    const mirror = route.mirror;
    const mirrored = mirror.enabled && route.ledger.shouldMirror(method, mirror.percent, mirror.allowNonIdempotent);
    const shadowDone = mirrored ? this.mirror(route, options, started) : undefined;
    const exchange = new Exchange(this, route, req, res, options, started, setCookie, mirrored ? route.compare.maxBodyBytes : 0, side, false, shadowDone);
    (res as TrackedResponse)[EXCHANGE] = exchange;
    res.on('close', onResponseClose);
    exchange.dispatch(route[side].pool, options);
  }

  /** The outcome of one attempt: count it, retry a failed connect on the other backend, or answer 502. */
  finish(exchange: Exchange, error: Error | undefined): void {
    const at = this.clock();
    const { route, role, retried } = exchange;
    const series = route.series[role];
    if (error === undefined) {
      this.metrics.record(series, exchange.status, performance.now() - exchange.started, at, undefined, retried);
      if (exchange.shadowDone) void this.compare(route, exchange.req, exchange, exchange.shadowDone, at);
      return;
    }
    const res = exchange.response;
    const code = errorCode(error);
    if (isConnectError(error)) exchange.backend.downUntil = performance.now() + EJECT_MS;
    if (!exchange.responseStarted && !retried && !res.destroyed && isRetryable(error, isIdempotent(exchange.options.method))) {
      this.metrics.record(series, 0, performance.now() - exchange.started, at, code, false);
      const other = otherSide(role);
      const retry = new Exchange(this, route, exchange.req, res, exchange.options, exchange.started, exchange.setCookie, exchange.captureLimit, other, true, exchange.shadowDone);
      (res as TrackedResponse)[EXCHANGE] = retry;
      retry.dispatch(route[other].pool, exchange.options);
      return;
    }
    this.metrics.record(series, exchange.responseStarted ? exchange.status : 502, performance.now() - exchange.started, at, code, retried);
    if (exchange.responseStarted || res.headersSent) res.destroy();
    else if (!res.destroyed) res.writeHead(502, { 'content-type': 'text/plain' }).end('ferry router: no backend answered\n');
  }

  private mirror(route: RouteState, options: Dispatcher.DispatchOptions, started: number): Promise<CapturedResponse | undefined> {
    const shadowOptions: Dispatcher.DispatchOptions = { ...options, headers: [...(options.headers as string[]), 'x-ferry-shadow', '1'] };
    return new Promise((resolve) => {
      ShadowHandler.dispatch(route.shadow.pool, shadowOptions, new ShadowHandler(route.compare.maxBodyBytes, (response, error) => {
        const at = this.clock();
        const latencyMs = performance.now() - started;
        if (error || !response) {
          route.ledger.recordShadowError();
          this.metrics.record(route.series.shadow, 0, latencyMs, at, error ? errorCode(error) : 'no-response', false);
          resolve(undefined);
          return;
        }
        this.metrics.record(route.series.shadow, response.status, latencyMs, at, undefined, false);
        resolve(response);
      }));
    });
  }

  private async compare(route: RouteState, req: IncomingMessage, handler: PrimaryHandler, shadowDone: Promise<CapturedResponse | undefined>, at: number): Promise<void> {
    const shadow = await shadowDone;
    const primary = handler.capturedResponse();
    if (!shadow || !primary) return;
    // Compare off the response path: the client already has its answer.
    setImmediate(() => {
      const reason = route.ledger.record(at, req.method ?? 'GET', req.url ?? '/', primary, shadow, route.compare);
      this.metrics.countComparison(route.config.name, reason);
    });
  }
}

function otherSide(side: Side): Side {
  return side === 'target' ? 'source' : 'target';
}

function formatHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export function listen(server: Server, host: string, port: number, field: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new FerryError('listen', `cannot listen on ${host}:${port}: ${error.code ?? error.message}`, { location: { field }, fix: 'choose a free port, or 0 to let the OS pick one', cause: error })),
    );
    server.listen(port, host, () => resolve());
  });
}

/**
 * Shutdown of the front doors: stop accepting, close idle HTTP/1.1 connections, GOAWAY to
 * HTTP/2 clients, and give requests in flight `drainMs` before cutting what is left.
 */
async function drainFront(http1: Server, sessions: SessionSet, listeners: NetServer[], drainMs = 5_000): Promise<void> {
  const timer = setTimeout(() => http1.closeAllConnections(), drainMs);
  // http1 never listened: close() only stops its connection bookkeeping and closes idle ones.
  http1.close(() => undefined);
  await Promise.all([sessions.close(drainMs), ...listeners.map((listener) => closeNet(listener))]);
  clearTimeout(timer);
}

/**
 * Stops accepting, closes idle keep-alive connections at once and lets requests in flight
 * finish for up to `drainMs` before cutting what is left.
 */
export function closeServer(server: Server, drainMs = 5_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), drainMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
