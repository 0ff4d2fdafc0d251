import { constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { Side } from './buckets.js';
import { errorCode, isConnectError } from './forward.js';
import { GRPC_UNAVAILABLE, grpcStatusOf, isGrpc } from './grpc.js';
import type { RouterMetrics } from './metrics.js';
import { EJECT_MS, hostOf, type RouteState, type RouteTable } from './routes.js';

/**
 * HTTP/2 requests (h2 over TLS, h2c) forwarded to the chosen backend over HTTP/2 (see
 * http2.ts), streamed both ways with back-pressure, trailers included: gRPC's outcome is its
 * `grpc-status` trailer. Bodies are streamed, not buffered (gRPC streams may last hours), so
 * a request is retried on the other backend only when nothing of it was sent yet: a failed
 * connect, or a stream the backend refused unprocessed (REFUSED_STREAM, GOAWAY) when the
 * request had no body. Mirroring is not done for HTTP/2 (it needs the buffered body).
 * A backend configured with `http2: false` gets HTTP/2 clients' requests (gRPC excepted)
 * over HTTP/1.1 through its undici pool.
 */
const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_FLAG_END_STREAM } = constants;

/** Connection-specific headers (forbidden in HTTP/2) and ones that concern one hop only. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'proxy-authorization', 'proxy-authenticate', 'host', 'te', 'trailer']);
const NOT_PROCESSED = new Set(['ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION', 'ERR_HTTP2_REFUSED_STREAM']);

export class H2Proxy {
  constructor(
    private readonly table: RouteTable,
    readonly metrics: RouterMetrics,
    readonly clock: () => number,
    private readonly random: () => number,
    readonly timeoutMs: number,
  ) {}

  /** The HTTP/2 server's 'stream' listener. */
  handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number): void {
    const started = performance.now();
    // A client that resets its stream or breaks its session concerns that request only.
    stream.on('error', ignore);
    const path = headers[':path'] ?? '/';
    const authority = headers[':authority'] ?? headers.host;
    const route = this.table.find(hostOf(authority), path);
    if (!route || headers[':method'] === 'CONNECT') {
      respondText(stream, route ? 405 : 404, route ? 'ferry router: CONNECT over HTTP/2 is not supported\n' : 'ferry router: no route for this host and path\n');
      return;
    }
    const grpc = isGrpc(headers['content-type']);
    const decision = route.decide(headers.cookie, route.stickiness.mode === 'header' ? headers[route.stickyHeader] : undefined, this.random, started);
    const noBody = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    const exchange = new H2Exchange(this, route, stream, upstreamHeaders(headers, authority, stream.session?.socket?.remoteAddress), started, grpc, grpc ? undefined : decision.setCookie, noBody);
    this.attempt(exchange, decision.side, false);
  }

  attempt(exchange: H2Exchange, side: Side, retried: boolean): void {
    exchange.role = side;
    exchange.retried = retried;
    const upstream = exchange.route[side].h2;
    if (!exchange.grpc && !exchange.route[side].http2) {
      exchange.openHttp1();
      return;
    }
    const session = upstream.current();
    if (session) exchange.open(session);
    else upstream.connect().then((connected) => exchange.open(connected), (error: Error) => exchange.failed(error));
  }
}

/** One HTTP/2 request through the router; all its state in one object. */
class H2Exchange {
  role: Side = 'source';
  retried = false;
  status = 0;
  grpcStatus = -1;
  error: string | undefined;
  responseStarted = false;
  private upstream: ClientHttp2Stream | undefined;
  private abortHttp1: ((error?: Error) => void) | undefined;
  private http1Done = false;
  private viaHttp1 = false;
  private upstreamError: Error | undefined;
  private trailers: IncomingHttpHeaders | undefined;
  private reopened = false;
  private timedOut = false;
  private readonly wantsTrailers: boolean;

  constructor(
    private readonly proxy: H2Proxy,
    readonly route: RouteState,
    private readonly inbound: ServerHttp2Stream,
    private readonly headers: OutgoingHttpHeaders,
    private readonly started: number,
    readonly grpc: boolean,
    private readonly setCookie: string | undefined,
    /** The request's HEADERS frame ended the stream (Node sets `endAfterHeaders` only later). */
    private readonly noBody: boolean,
  ) {
    this.wantsTrailers = grpc || headers.te === 'trailers';
    inbound.once('close', () => this.finish());
    inbound.on('wantTrailers', () => inbound.sendTrailers(responseTrailers(this.trailers)));
  }

  open(session: ClientHttp2Session): void {
    if (this.inbound.closed || this.inbound.destroyed) return;
    this.viaHttp1 = false;
    let up: ClientHttp2Stream;
    try {
      up = session.request(this.headers, { endStream: this.noBody });
    } catch (error) {
      // The session went away between our check and the request: one fresh session, then give up.
      this.route[this.role].h2.drop(session);
      if (!this.reopened) {
        this.reopened = true;
        this.proxy.attempt(this, this.role, this.retried);
        return;
      }
      this.failed(error as Error);
      return;
    }
    this.upstream = up;
    up.setTimeout(this.proxy.timeoutMs, () => {
      this.timedOut = true;
      up.close(NGHTTP2_CANCEL);
    });
    up.on('error', (error: Error) => (this.upstreamError = error));
    up.on('response', (headers, flags) => this.onResponse(up, headers, (flags & NGHTTP2_FLAG_END_STREAM) !== 0));
    up.on('trailers', (trailers) => {
      this.trailers = trailers;
      const code = grpcStatusOf(trailers['grpc-status']);
      if (code >= 0) this.grpcStatus = code;
    });
    up.once('close', () => this.onUpstreamClose(up));
    if (!this.noBody) this.inbound.pipe(up);
  }

  /** To a backend that speaks only HTTP/1.1: the request over undici, the answer back on the HTTP/2 stream. */
  openHttp1(): void {
    if (this.inbound.closed || this.inbound.destroyed) return;
    this.viaHttp1 = true;
    this.http1Done = false;
    const options: Dispatcher.DispatchOptions = {
      method: String(this.headers[':method'] ?? 'GET') as Dispatcher.HttpMethod,
      path: String(this.headers[':path'] ?? '/'),
      headers: http1Headers(this.headers),
      body: this.noBody ? null : this.inbound,
      headersTimeout: this.proxy.timeoutMs,
      bodyTimeout: this.proxy.timeoutMs,
    };
    this.route[this.role].pool.dispatch(options, new Http1Bridge(this, this.inbound));
  }

  /** Http1Bridge's callbacks. */
  http1Connected(abort: (error?: Error) => void): void {
    this.abortHttp1 = abort;
  }

  http1Response(status: number, headers: OutgoingHttpHeaders): void {
    this.responseStarted = true;
    this.status = status;
    if (this.inbound.closed || this.inbound.destroyed) return;
    headers[':status'] = status;
    if (this.setCookie !== undefined) {
      const existing = headers['set-cookie'];
      headers['set-cookie'] = existing === undefined ? [this.setCookie] : [...(existing as string[]), this.setCookie];
    }
    this.inbound.respond(headers, { endStream: this.headers[':method'] === 'HEAD' || status === 204 || status === 304, waitForTrailers: this.wantsTrailers });
  }

  http1Ended(trailers: IncomingHttpHeaders | undefined, error: Error | undefined): void {
    this.http1Done = true;
    if (error === undefined) {
      this.trailers = trailers;
      if (!this.inbound.closed && !this.inbound.writableEnded) this.inbound.end();
      return;
    }
    if (!this.responseStarted) {
      this.failed(error);
      return;
    }
    this.error ??= errorCode(error);
    if (!this.inbound.closed) this.inbound.close(constants.NGHTTP2_INTERNAL_ERROR);
  }

  private onResponse(up: ClientHttp2Stream, headers: IncomingHttpHeaders, ended: boolean): void {
    up.setTimeout(0);
    this.responseStarted = true;
    this.status = Number(headers[':status']);
    const code = grpcStatusOf(headers['grpc-status']);
    if (code >= 0) this.grpcStatus = code;
    const inbound = this.inbound;
    if (inbound.closed || inbound.destroyed) return;
    const out = responseHeaders(headers, this.setCookie);
    if (ended) {
      // Trailers-only (a gRPC error) or a body-less response: one HEADERS frame ends the stream.
      inbound.respond(out, { endStream: true });
      return;
    }
    inbound.respond(out, { waitForTrailers: this.wantsTrailers || isGrpc(headers['content-type']) || headers.trailer !== undefined });
    up.pipe(inbound);
  }

  private onUpstreamClose(up: ClientHttp2Stream): void {
    const code = up.rstCode ?? NGHTTP2_NO_ERROR;
    if (!this.responseStarted) {
      const error = this.timedOut
        ? Object.assign(new Error('no response headers in time'), { code: 'UND_ERR_HEADERS_TIMEOUT' })
        : code === NGHTTP2_REFUSED_STREAM
          ? Object.assign(new Error('stream refused'), { code: 'ERR_HTTP2_REFUSED_STREAM' })
          : (this.upstreamError ?? Object.assign(new Error(`stream reset with code ${code}`), { code: `H2_RST_${code}` }));
      this.failed(error);
      return;
    }
    if (code !== NGHTTP2_NO_ERROR) {
      // The backend reset a stream it had answered: pass the reset on, count an error.
      this.error ??= this.timedOut ? 'UND_ERR_BODY_TIMEOUT' : `H2_RST_${code}`;
      if (!this.inbound.closed) this.inbound.close(code);
    }
  }

  /** No response came from this backend: retry when nothing was sent, else answer the client. */
  failed(error: Error): void {
    const code = errorCode(error);
    const backend = this.route[this.role];
    if (isConnectError(error)) backend.downUntil = performance.now() + EJECT_MS;
    const clientGone = this.inbound.closed || this.inbound.destroyed;
    // undici reads a streamed body itself: over HTTP/1.1 a request is resent only without one.
    const unsent = (isConnectError(error) && (!this.viaHttp1 || this.noBody)) || (this.noBody && NOT_PROCESSED.has(code));
    if (unsent && !this.retried && !clientGone) {
      this.proxy.metrics.record(this.route.series[this.role], 0, performance.now() - this.started, this.proxy.clock(), code, false);
      this.proxy.attempt(this, this.role === 'target' ? 'source' : 'target', true);
      return;
    }
    this.error = code;
    this.status = 502;
    if (clientGone || this.inbound.headersSent) return;
    if (this.grpc) {
      // What a gRPC client understands: a trailers-only UNAVAILABLE, which its retry policy may retry.
      this.grpcStatus = GRPC_UNAVAILABLE;
      this.inbound.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(GRPC_UNAVAILABLE), 'grpc-message': 'ferry router: no backend answered' }, { endStream: true });
    } else {
      respondText(this.inbound, 502, 'ferry router: no backend answered\n');
    }
  }

  /** The client's stream closed (answered, reset or gone): count the request once. */
  private finish(): void {
    const up = this.upstream;
    if (up && !up.closed) up.close(NGHTTP2_CANCEL);
    if (this.abortHttp1 !== undefined && !this.http1Done) this.abortHttp1(new Error('client closed the stream'));
    if (this.error === undefined && this.inbound.rstCode !== undefined && this.inbound.rstCode !== NGHTTP2_NO_ERROR) this.error = `client reset ${this.inbound.rstCode}`;
    const status = this.status || 502;
    this.proxy.metrics.record(this.route.series[this.role], status, performance.now() - this.started, this.proxy.clock(), this.error, this.retried, this.grpc ? this.grpcStatus : -1);
  }
}

/**
 * undici's callback handler (see forward.ts for why this API) answering an HTTP/2 stream
 * from an HTTP/1.1 response, with back-pressure from the stream's flow control.
 */
class Http1Bridge implements Dispatcher.DispatchHandler {
  private resume: (() => void) | undefined;

  constructor(
    private readonly exchange: H2Exchange,
    private readonly inbound: ServerHttp2Stream,
  ) {}

  onConnect(abort: (error?: Error) => void): void {
    this.exchange.http1Connected(abort);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true;
    this.resume = resume;
    this.exchange.http1Response(statusCode, headersFromRaw(rawHeaders));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.inbound.closed || this.inbound.destroyed) return true;
    const more = this.inbound.write(chunk);
    if (!more) this.inbound.once('drain', () => this.resume?.());
    return more;
  }

  onComplete(trailers: string[] | null): void {
    this.exchange.http1Ended(trailers && trailers.length > 0 ? (headersFromRaw(trailers) as IncomingHttpHeaders) : undefined, undefined);
  }

  onError(error: Error): void {
    this.exchange.http1Ended(undefined, error);
  }
}

/** HTTP/1.1 header pairs as an HTTP/2 header object: names lower-case, connection-specific ones dropped. */
function headersFromRaw(raw: Array<Buffer | string>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    if (HOP_BY_HOP.has(name)) continue;
    const value = raw[i + 1]!.toString('latin1');
    const existing = out[name];
    if (existing === undefined) out[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[name] = name === 'cookie' ? `${String(existing)}; ${value}` : `${String(existing)}, ${value}`;
  }
  return out;
}

/** The HTTP/2 request's headers for HTTP/1.1: pseudo-headers out, Host from :authority. */
function http1Headers(headers: OutgoingHttpHeaders): string[] {
  const out: string[] = [];
  for (const name of Object.keys(headers)) {
    if (name.startsWith(':') || name === 'te') continue;
    const value = headers[name];
    if (Array.isArray(value)) for (const item of value) out.push(name, item);
    else if (value !== undefined) out.push(name, String(value));
  }
  if (headers[':authority'] !== undefined) out.push('host', String(headers[':authority']));
  return out;
}

/** The request as the backend gets it: hop-by-hop headers out, X-Forwarded-For/-Proto in, `te: trailers` kept. */
function upstreamHeaders(headers: IncomingHttpHeaders, authority: string | undefined, remoteAddress: string | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(headers)) {
    if (HOP_BY_HOP.has(name) || name === ':scheme') continue;
    out[name] = headers[name];
  }
  if (authority !== undefined) out[':authority'] = authority;
  if (headers.te === 'trailers') out.te = 'trailers';
  const client = remoteAddress ?? 'unknown';
  const forwarded = headers['x-forwarded-for'];
  out['x-forwarded-for'] = forwarded ? `${String(forwarded)}, ${client}` : client;
  out['x-forwarded-proto'] ??= headers[':scheme'] ?? 'http';
  return out;
}

function responseHeaders(headers: IncomingHttpHeaders, setCookie: string | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(headers)) if (!HOP_BY_HOP.has(name)) out[name] = headers[name];
  if (setCookie !== undefined) {
    const existing = out['set-cookie'];
    out['set-cookie'] = existing === undefined ? [setCookie] : [...(Array.isArray(existing) ? existing : [String(existing)]), setCookie];
  }
  return out;
}

function responseTrailers(trailers: IncomingHttpHeaders | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (trailers) for (const name of Object.keys(trailers)) if (!name.startsWith(':') && !HOP_BY_HOP.has(name)) out[name] = trailers[name];
  return out;
}

function respondText(stream: ServerHttp2Stream, status: number, text: string): void {
  if (stream.closed || stream.destroyed || stream.headersSent) return;
  stream.respond({ ':status': status, 'content-type': 'text/plain' });
  stream.end(text);
}

function ignore(): void {}
