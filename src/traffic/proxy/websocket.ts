import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Side } from './buckets.js';
import { errorCode, isConnectError, outboundHeaders } from './forward.js';
import type { RouterMetrics } from './metrics.js';
import { EJECT_MS, hostOf, type RouteState, type RouteTable } from './routes.js';

/**
 * HTTP/1.1 Upgrade (WebSocket, and any other protocol a backend agrees to) through the
 * router. The side is chosen like any request's (sticky cookie or header, weight), the
 * upgrade is repeated to that backend on a connection of its own, and after its 101 the two
 * sockets are piped both ways. The connection then belongs to that backend until either end
 * closes it: a weight change affects only connections opened after it. A backend that
 * answers without upgrading has its response passed on and the connection closed.
 */
export class UpgradeProxy {
  /** Both sockets of every open tunnel, so that shutdown can end them. */
  private readonly tunnels = new Set<Duplex>();

  constructor(
    private readonly table: RouteTable,
    private readonly metrics: RouterMetrics,
    private readonly clock: () => number,
    private readonly random: () => number,
    private readonly timeoutMs: number,
  ) {}

  /** The HTTP/1.1 server's 'upgrade' listener. */
  handle(req: IncomingMessage, client: Duplex, head: Buffer): void {
    const started = performance.now();
    client.on('error', () => client.destroy());
    const route = this.table.find(hostOf(req.headers.host), req.url ?? '/');
    if (!route) {
      client.end(plainResponse('404 Not Found', 'ferry router: no route for this host and path\n'));
      return;
    }
    const decision = route.decide(req.headers.cookie, route.stickiness.mode === 'header' ? req.headers[route.stickyHeader] : undefined, this.random, started);
    this.attempt(route, decision.side, false, req, client, head, decision.setCookie, started);
  }

  private attempt(route: RouteState, side: Side, retried: boolean, req: IncomingMessage, client: Duplex, head: Buffer, setCookie: string | undefined, started: number): void {
    const backend = route[side];
    const url = new URL(backend.url);
    const headers = outboundHeaders(req.rawHeaders, req.socket.remoteAddress);
    // outboundHeaders drops Connection and Upgrade (hop-by-hop); an upgrade must repeat them.
    headers.push('connection', 'upgrade', 'upgrade', req.headers.upgrade ?? 'websocket');
    const options = { host: url.hostname, port: url.port || (url.protocol === 'https:' ? 443 : 80), method: req.method, path: req.url, headers, agent: false as const };
    const upstream: ClientRequest = url.protocol === 'https:' ? httpsRequest(options) : httpRequest(options);
    const series = route.series[side];
    const onClientGone = (): void => void upstream.destroy();
    client.once('close', onClientGone);
    upstream.setTimeout(this.timeoutMs, () => upstream.destroy(Object.assign(new Error('no upgrade response in time'), { code: 'UND_ERR_HEADERS_TIMEOUT' })));

    upstream.once('upgrade', (response: IncomingMessage, socket: Duplex, upstreamHead: Buffer) => {
      upstream.setTimeout(0);
      client.off('close', onClientGone);
      this.metrics.record(series, 101, performance.now() - started, this.clock(), undefined, retried);
      if (client.destroyed) {
        socket.destroy();
        return;
      }
      client.write(statusLine(response, setCookie));
      if (upstreamHead.length > 0) client.write(upstreamHead);
      if (head.length > 0) socket.write(head);
      this.tunnel(series, client, socket);
    });

    upstream.once('response', (response: IncomingMessage) => {
      upstream.setTimeout(0);
      client.off('close', onClientGone);
      // The backend answered without upgrading (e.g. 401, 426): pass it on, then close.
      this.metrics.record(series, response.statusCode ?? 502, performance.now() - started, this.clock(), undefined, retried);
      client.write(statusLine(response, setCookie, true));
      response.pipe(client);
    });

    upstream.once('error', (error: Error) => {
      client.off('close', onClientGone);
      const code = errorCode(error);
      const latency = performance.now() - started;
      if (isConnectError(error)) backend.downUntil = performance.now() + EJECT_MS;
      if (isConnectError(error) && !retried && !client.destroyed) {
        this.metrics.record(series, 0, latency, this.clock(), code, false);
        this.attempt(route, side === 'target' ? 'source' : 'target', true, req, client, head, setCookie, started);
        return;
      }
      this.metrics.record(series, 502, latency, this.clock(), code, retried);
      if (!client.destroyed) client.end(plainResponse('502 Bad Gateway', 'ferry router: no backend answered\n'));
    });
    upstream.end();
  }

  private tunnel(series: RouteState['series']['source'], client: Duplex, backend: Duplex): void {
    series.websocketsOpened++;
    series.websocketsOpen++;
    this.tunnels.add(client);
    this.tunnels.add(backend);
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      series.websocketsOpen--;
      this.tunnels.delete(client);
      this.tunnels.delete(backend);
      client.destroy();
      backend.destroy();
    };
    backend.on('error', close);
    client.on('error', close);
    backend.on('close', close);
    client.on('close', close);
    backend.pipe(client);
    client.pipe(backend);
  }

  /** Ends every open tunnel (both sockets); called when the router shuts down. */
  close(): void {
    for (const socket of this.tunnels) socket.destroy();
  }
}

/** The backend's status line and headers as the client gets them (Set-Cookie added, framing closed). */
function statusLine(response: IncomingMessage, setCookie: string | undefined, closing = false): string {
  let text = `HTTP/1.1 ${response.statusCode ?? 502} ${response.statusMessage ?? ''}\r\n`;
  const raw = response.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    // Without an upgrade the body is sent as it is decoded and ended by closing the connection.
    if (closing && (lower === 'connection' || lower === 'transfer-encoding' || lower === 'keep-alive')) continue;
    text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  if (setCookie !== undefined) text += `set-cookie: ${setCookie}\r\n`;
  if (closing) text += 'connection: close\r\n';
  return `${text}\r\n`;
}

function plainResponse(status: string, text: string): string {
  return `HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
}
