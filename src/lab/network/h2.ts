/**
 * HTTP/2 terminated as a sidecar terminates it: a tunnel (CONNECT) or ClusterIP connection
 * whose first bytes are the HTTP/2 connection preface is served by a node:http2 server
 * session, and each stream — each gRPC call — is routed on its own (mesh VirtualServices
 * with the request's method, path, authority and headers), forwarded over a reused h2c client
 * session to the endpoint it was given (through the endpoint's east-west gateway, by CONNECT,
 * when it is one), and counted as a request in telemetry (`request_protocol` grpc or http,
 * `response_code`, `grpc_response_status`). Without this a long-lived gRPC channel would stay
 * on whichever side its connection was opened on, and the judge would see no gRPC calls.
 *
 * Hand-written over node:http2: no proxy library on npm forwards h2c streams with trailers
 * and lets us choose the upstream per stream.
 */
import {
  connect as connectHttp2, constants, createServer as createHttp2Server,
  type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import { ServiceUnreachable } from './endpoints.js';
import { dial, formatPeer, tunnelThroughGateway, type Candidate } from './forward.js';
import type { MeshRequest } from './mesh.js';
import type { Destination, NetworkTelemetry, Peer, Reporter } from './telemetry.js';

/** `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`: what every HTTP/2 client sends first (RFC 9113 §3.4). */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** What the first bytes said: HTTP/2 (serve it per request) or not (forward `head`, then splice to `upstream`). */
export type Sniffed<T> =
  | { http2: true; head: Buffer }
  | { http2: false; head: Buffer; upstream: T }
  | { http2: false; head: Buffer; failure: unknown };

/**
 * Tells an HTTP/2 connection from any other by the client's first bytes, without delaying
 * either kind: it decides as soon as they differ from the preface (a TLS ClientHello, an
 * HTTP/1 request line, a database handshake: at once) or equal it. A client still silent
 * after `silenceMs` may be waiting for its server to speak first (SMTP, MySQL), so the
 * upstream is dialled then, and the server's first bytes decide too. A busy machine's late
 * preface still counts: the dialled connection is dropped. Bytes read are returned, not lost.
 */
export function sniffHttp2<T extends { socket: Duplex }>(client: Duplex, already: Buffer, dialUpstream: () => Promise<T>, silenceMs = 100): Promise<Sniffed<T>> {
  return new Promise((resolve) => {
    let head = already;
    let decided: boolean | undefined;
    let dialing: Promise<T> | undefined;
    let settled = false;
    let stopServer = () => undefined as void;
    const verdict = (): boolean | undefined => {
      const compared = Math.min(head.length, HTTP2_PREFACE.length);
      if (!head.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared))) return false;
      return head.length >= HTTP2_PREFACE.length ? true : undefined;
    };
    const stopListening = () => {
      clearTimeout(timer);
      stopServer();
      client.removeListener('data', onData);
      client.removeListener('end', onEnd);
      client.pause();
    };
    const settle = (result: Sniffed<T>) => {
      if (settled) return;
      settled = true;
      stopListening();
      resolve(result);
    };
    /** Non-HTTP/2: the connection goes to the dialled upstream (dialled now if not yet). */
    const toUpstream = () => {
      dialing ??= dialUpstream();
      dialing.then((upstream) => settle({ http2: false, head, upstream }), (failure: unknown) => settle({ http2: false, head, failure }));
    };
    const decide = (http2: boolean) => {
      if (decided !== undefined) return;
      decided = http2;
      stopListening();
      if (!http2) return toUpstream();
      // A connection dialled while the client was silent is not needed after all.
      dialing?.then((upstream) => upstream.socket.destroy(), () => undefined);
      settle({ http2: true, head });
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const http2 = verdict();
      if (http2 !== undefined) decide(http2);
    };
    const onEnd = () => decide(false);
    const timer = setTimeout(() => {
      if (decided !== undefined) return;
      dialing = dialUpstream();
      dialing.then((upstream) => {
        if (decided !== undefined) return;
        // The server spoke first: not HTTP/2. Its bytes are put back for the splice.
        const onServerData = (chunk: Buffer) => {
          upstream.socket.pause();
          upstream.socket.unshift(chunk);
          decide(false);
        };
        upstream.socket.on('data', onServerData);
        stopServer = () => upstream.socket.removeListener('data', onServerData);
      }, () => decide(false));
    }, silenceMs);
    const first = head.length > 0 ? verdict() : undefined;
    if (first !== undefined) return decide(first);
    client.on('data', onData);
    client.once('end', onEnd);
    client.resume();
  });
}

/** Where one request goes: endpoints in turn, and who each one is (telemetry). */
export interface Http2Route {
  candidates: Candidate[];
  /** `fqdn:port` asked of a gateway when an endpoint is one. */
  authority: string;
  destination(endpoint: Candidate, gatewayPeer?: Peer): Destination;
}

export interface Http2Hop {
  /** Routes one request (mesh VirtualServices per request); throws ServiceUnreachable (404, 502, 503). */
  route(request: MeshRequest): Http2Route;
  /** The Destination to count a request against when routing it failed, if known. */
  failedDestination(error: unknown): Destination | undefined;
  source: Peer;
  reporters(endpoint: Candidate | undefined): Reporter[];
  telemetry: NetworkTelemetry;
  /** Who answers locally made errors, e.g. `lab service proxy (cluster x)`. */
  label: string;
  /** The tunnel's `host:port`, the authority when a request has none. */
  authority: string;
}

/** Headers HTTP/2 forbids or that belong to one hop only (RFC 9113 §8.2.2). */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host']);

/** Envoy's HTTP → gRPC status mapping for answers it makes itself (no upstream to ask). */
function grpcStatusOf(httpStatus: number): number {
  if (httpStatus === 404) return 12; // UNIMPLEMENTED
  if ([429, 502, 503, 504].includes(httpStatus)) return 14; // UNAVAILABLE
  if (httpStatus === 400) return 13; // INTERNAL
  return 2; // UNKNOWN
}

/**
 * Client sessions to endpoints, one per endpoint (per gateway, called Service and caller
 * when through a gateway), reused by every stream routed there, as Envoy pools upstream
 * HTTP/2 connections.
 */
export class UpstreamSessions {
  private readonly sessions = new Map<string, Promise<{ session: ClientHttp2Session; peer?: Peer }>>();
  private closed = false;

  get(endpoint: Candidate, authority: string, source: Peer): Promise<{ session: ClientHttp2Session; peer?: Peer }> {
    const key = endpoint.gateway
      ? `gw ${endpoint.gateway.host}:${endpoint.gateway.port} ${authority} ${formatPeer(source)}`
      : `${endpoint.host}:${endpoint.port}`;
    const existing = this.sessions.get(key);
    if (existing) return existing;
    const opening = (async () => {
      if (this.closed) throw new Error('the lab network is closing');
      const tunnel = endpoint.gateway ? await tunnelThroughGateway(endpoint.gateway, authority, source) : undefined;
      const socket = tunnel?.socket ?? await dial(endpoint.host, endpoint.port);
      // HTTP/2 writes small frames (HEADERS, then DATA): Nagle would hold them back for an ACK.
      socket.setNoDelay(true);
      const session = connectHttp2(`http://${endpoint.gateway ? authority : `${endpoint.host}:${endpoint.port}`}`, { createConnection: () => socket });
      const forget = () => {
        if (this.sessions.get(key) === opening) this.sessions.delete(key);
      };
      session.on('error', forget);
      session.on('close', forget);
      session.on('goaway', forget);
      // An idle session is closed, as Envoy's idle timeout does; a live one is reused.
      session.setTimeout(30_000, () => {
        forget();
        session.close();
      });
      await new Promise<void>((resolve, reject) => {
        session.once('connect', () => resolve());
        session.once('error', reject);
      });
      return { session, ...(tunnel?.peer ? { peer: tunnel.peer } : {}) };
    })();
    this.sessions.set(key, opening);
    opening.catch(() => {
      if (this.sessions.get(key) === opening) this.sessions.delete(key);
    });
    return opening;
  }

  close(): void {
    this.closed = true;
    for (const opening of this.sessions.values()) opening.then(({ session }) => session.destroy(), () => undefined);
    this.sessions.clear();
  }
}

/**
 * Serves an HTTP/2 connection (its preface already read into `head`) as the caller's
 * sidecar: every stream routed, forwarded and counted on its own. `sessions` holds the
 * upstream connections shared with other tunnels of the same listener.
 */
export function serveHttp2(socket: Duplex, head: Buffer, hop: Http2Hop, sessions: UpstreamSessions): void {
  const server = createHttp2Server();
  server.on('stream', (stream, headers) => void forwardStream(stream, headers, hop, sessions));
  // A client gone wrong ends its own connection; nothing to report beyond it.
  server.on('sessionError', () => undefined);
  server.on('session', (session) => session.on('error', () => undefined));
  if (head.length > 0) socket.unshift(head);
  server.emit('connection', socket);
}

async function forwardStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, hop: Http2Hop, sessions: UpstreamSessions): Promise<void> {
  const started = performance.now();
  stream.on('error', () => undefined);
  const method = String(headers[':method'] ?? 'GET');
  const path = String(headers[':path'] ?? '/');
  const authority = String(headers[':authority'] ?? hop.authority);
  const grpc = String(headers['content-type'] ?? '').startsWith('application/grpc');
  const protocol = grpc ? 'grpc' : 'http';
  const count = (reporters: Reporter[], destination: Destination, code: number, grpcStatus: string) => {
    for (const reporter of reporters) hop.telemetry.request(reporter, hop.source, destination, protocol, code, performance.now() - started, grpcStatus);
  };
  /** An answer made here (no upstream answered), as Envoy makes it: gRPC trailers-only for gRPC calls. */
  const localReply = (status: number, message: string): string => {
    if (stream.destroyed || stream.headersSent) {
      if (!stream.closed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return grpc ? String(grpcStatusOf(status)) : '';
    }
    const text = message.startsWith(hop.label) ? message : `${hop.label}: ${message}`;
    if (grpc) {
      const code = grpcStatusOf(status);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(text) }, { endStream: true });
      return String(code);
    }
    stream.respond({ ':status': status, 'content-type': 'text/plain' });
    stream.end(`${text}\n`);
    return '';
  };

  let route: Http2Route;
  try {
    route = hop.route({ method, path, authority, scheme: String(headers[':scheme'] ?? 'http'), headers });
  } catch (error) {
    const status = error instanceof ServiceUnreachable ? error.status : 502;
    const grpcStatus = localReply(status, (error as Error).message);
    const destination = hop.failedDestination(error);
    if (destination) count(hop.reporters(undefined).slice(0, 1), destination, status, grpcStatus);
    return;
  }

  // The first endpoint whose session opens (up to 3, as connections are tried); a stream once sent is not sent again.
  let opened: { session: ClientHttp2Session; peer?: Peer; endpoint: Candidate } | undefined;
  let lastError: unknown;
  for (const endpoint of route.candidates.slice(0, 3)) {
    try {
      opened = { ...(await sessions.get(endpoint, route.authority, hop.source)), endpoint };
      break;
    } catch (error) {
      lastError = error;
      if (error instanceof ServiceUnreachable && error.status === 502) break;
    }
  }
  if (!opened) {
    const status = lastError instanceof ServiceUnreachable ? lastError.status : 503;
    const destination = route.candidates[0] ? route.destination(route.candidates[0]) : hop.failedDestination(lastError);
    const grpcStatus = localReply(status, `${route.authority}: ${(lastError as Error | undefined)?.message ?? 'no endpoint'}`);
    if (destination) count(hop.reporters(route.candidates[0]), destination, status, grpcStatus);
    return;
  }
  if (stream.destroyed) return;
  const { endpoint } = opened;
  const destination = route.destination(endpoint, opened.peer);

  const outgoing: OutgoingHttpHeaders = { ':method': method, ':path': path, ':authority': authority, ':scheme': String(headers[':scheme'] ?? 'http') };
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || CONNECTION_HEADERS.has(name) || value === undefined) continue;
    outgoing[name] = value;
  }
  // Request trailers are forwarded when the client declared them (`trailer`), as HTTP asks senders to.
  const requestTrailers = headers.trailer !== undefined;
  let upstream: ClientHttp2Stream;
  try {
    upstream = opened.session.request(outgoing, { endStream: false, waitForTrailers: requestTrailers });
  } catch (error) {
    count(hop.reporters(endpoint), destination, 503, localReply(503, `${route.authority}: ${(error as Error).message}`));
    return;
  }

  let statusCode = 0;
  let grpcStatus = '';
  let received: IncomingHttpHeaders | undefined;
  let done = false;
  const finish = (code: number) => {
    if (done) return;
    done = true;
    count(hop.reporters(endpoint), destination, code, grpcStatus);
  };

  if (requestTrailers) {
    let trailers: IncomingHttpHeaders = {};
    stream.on('trailers', (value: IncomingHttpHeaders) => (trailers = value));
    upstream.on('wantTrailers', () => upstream.sendTrailers(withoutPseudo(trailers)));
  }
  stream.pipe(upstream);
  // The caller gave up (RST, or its connection went): so does the call upstream.
  stream.on('close', () => {
    if (!upstream.closed) upstream.close(constants.NGHTTP2_CANCEL);
    const completed = stream.rstCode === undefined || stream.rstCode === constants.NGHTTP2_NO_ERROR;
    finish(completed ? statusCode : 0);
  });

  upstream.on('response', (response: IncomingHttpHeaders, flags: number) => {
    const status = Number(response[':status'] ?? 0);
    if (status >= 100 && status < 200) return;
    statusCode = status;
    if (response['grpc-status'] !== undefined) grpcStatus = String(response['grpc-status']);
    const out = withoutPseudo(response);
    out[':status'] = status;
    if (stream.destroyed) return;
    // Trailers-only (a gRPC error without a body): the status travels in the headers, nothing follows.
    if (flags & constants.NGHTTP2_FLAG_END_STREAM) {
      stream.respond(out, { endStream: true });
      return;
    }
    const expectsTrailers = String(response['content-type'] ?? '').startsWith('application/grpc') || response.trailer !== undefined;
    stream.respond(out, { waitForTrailers: expectsTrailers });
    if (expectsTrailers) {
      stream.on('wantTrailers', () => {
        if (received) stream.sendTrailers(withoutPseudo(received));
        // A gRPC server that ended without a status: the call failed, say so as Envoy would.
        else stream.sendTrailers(grpc ? { 'grpc-status': '14', 'grpc-message': encodeURIComponent(`${hop.label}: ${route.authority} ended the call without a status`) } : {});
      });
    }
    upstream.pipe(stream);
  });
  upstream.on('trailers', (trailers: IncomingHttpHeaders) => {
    received = trailers;
    if (trailers['grpc-status'] !== undefined) grpcStatus = String(trailers['grpc-status']);
  });
  upstream.on('error', (error: Error) => {
    if (statusCode === 0) {
      // Nothing came back: a reset or a broken connection before any answer (Envoy's "upstream reset").
      const grpcLocal = localReply(503, `${route.authority}: upstream reset before an answer (${error.message})`);
      grpcStatus = grpcLocal;
      finish(503);
      return;
    }
    if (grpc && grpcStatus === '') grpcStatus = '14';
    if (!stream.closed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  });
  upstream.on('close', () => {
    if (done) return;
    if (statusCode === 0) {
      // Closed (reset) before any answer.
      grpcStatus = localReply(503, `${route.authority}: upstream reset the call before an answer (HTTP/2 error ${upstream.rstCode ?? 'unknown'})`);
      finish(503);
    } else if (!stream.closed && upstream.rstCode !== undefined && upstream.rstCode !== constants.NGHTTP2_NO_ERROR) {
      if (grpc && grpcStatus === '') grpcStatus = '14';
      stream.close(upstream.rstCode);
    }
  });
}

function withoutPseudo(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || CONNECTION_HEADERS.has(name) || value === undefined) continue;
    out[name] = value;
  }
  return out;
}
