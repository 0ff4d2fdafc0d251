/**
 * What every lab sample app shares: listening on each mapped port (HTTP/1.1 and, on the
 * same port, the gRPC health service over h2c), health endpoints that answer the
 * supervisor's probes, the fault admin endpoint, and dying with the process that started it.
 */
import { Duplex } from 'node:stream';
import { seededRandom } from '../../../util/random.js';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { STATUS_CODES, createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type ServerHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { FAULTS_PATH, NO_FAULTS, parseFaults, type AppFaults } from '../faults-model.js';

export interface AppDefinition {
  /** Readiness beyond "the process answers", e.g. the database is reachable. */
  readyCheck?: () => Promise<boolean>;
  handle(request: IncomingMessage, response: ServerResponse, body: Buffer): Promise<void> | void;
  shutdown?: () => Promise<void>;
  /**
   * Where HTTP/2 connections (gRPC) on the app's ports go; default: the built-in server that
   * answers only grpc.health.v1.Health/Check. An app serving its own gRPC takes them here.
   */
  http2?: (connection: Duplex) => void;
  /** Paths `handle` answers without traffic faults or counting as traffic (e.g. /metrics). */
  exemptPaths?: string[];
  /**
   * HTTP/1.1 Upgrade requests (WebSocket) on the app's ports, after the traffic faults; without
   * it an upgrade request is answered by `handle` as any request. The socket is the app's until
   * it closes: `shutdown` must end what it keeps open (the HTTP server no longer tracks it).
   */
  upgrade?: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/** What an app needs from the shared fault model for requests `serveApp` does not see (gRPC). */
export interface AppControls {
  /** Applies the traffic faults to one request: waits the injected latency; the status to fail with when an error is injected. */
  trafficFault(): Promise<number | undefined>;
  healthy(kind: 'readiness' | 'liveness'): Promise<boolean>;
}

const PROBE_HEADER = 'x-ferry-probe';
const HTTP2_PREFACE = 'PRI * HTTP/2.0';

export function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}


export async function serveApp(app: AppDefinition): Promise<AppControls> {
  // FERRY_FAULTS (JSON, as PUT /__ferry/faults takes) starts the app faulty: a release with a
  // bug, set through the manifests (e.g. a plan transform on the target's copy).
  let faults: AppFaults = process.env.FERRY_FAULTS ? parseFaults(JSON.parse(process.env.FERRY_FAULTS) as Record<string, unknown>) : { ...NO_FAULTS };
  let random = seededRandom(faults.seed ?? Date.now());
  const stats = { requests: 0, injectedErrors: 0, delayed: 0 };

  const probeKind = (path: string, header: string | string[] | undefined): 'readiness' | 'liveness' | undefined => {
    if (header === 'readiness') return 'readiness';
    if (header === 'liveness' || header === 'startup') return 'liveness';
    if (path === '/readyz') return 'readiness';
    if (path === '/healthz' || path === '/livez') return 'liveness';
    return undefined;
  };
  const healthy = async (kind: 'readiness' | 'liveness'): Promise<boolean> => {
    if (kind === 'liveness') return faults.live;
    if (!faults.ready) return false;
    return app.readyCheck ? app.readyCheck().catch(() => false) : true;
  };
  const trafficFault = async (): Promise<number | undefined> => {
    stats.requests++;
    if (faults.latencyMs > 0 && random() < faults.latencyRate) {
      stats.delayed++;
      await new Promise((resolve) => setTimeout(resolve, faults.latencyMs));
    }
    if (faults.errorRate > 0 && random() < faults.errorRate) {
      stats.injectedErrors++;
      return faults.errorStatus;
    }
    return undefined;
  };

  const http = createHttpServer(async (request, response) => {
    try {
      const path = (request.url ?? '/').split('?')[0] ?? '/';
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      if (path === FAULTS_PATH) {
        if (request.method === 'POST' || request.method === 'PUT') {
          faults = parseFaults({ ...faults, ...(JSON.parse(body.toString('utf8') || '{}') as object) });
          if (faults.seed !== undefined) random = seededRandom(faults.seed);
        } else if (request.method === 'DELETE') {
          faults = { ...NO_FAULTS };
        }
        return sendJson(response, 200, { faults, stats });
      }
      const kind = probeKind(path, request.headers[PROBE_HEADER]);
      if (kind) {
        const ok = await healthy(kind);
        return sendJson(response, ok ? 200 : 503, { status: ok ? 'ok' : 'failing', check: kind });
      }
      // Probes and the admin endpoint above are exempt: errors and latency are for traffic.
      if (app.exemptPaths?.includes(path)) return await app.handle(request, response, body);
      const injected = await trafficFault();
      if (injected !== undefined) return sendJson(response, injected, { error: 'injected fault', pod: process.env.FERRY_POD });
      await app.handle(request, response, body);
    } catch (error) {
      if (!response.headersSent) sendJson(response, 500, { error: error instanceof Error ? error.message : String(error) });
      else response.destroy();
    }
  });
  http.keepAliveTimeout = 65_000;
  const upgrade = app.upgrade;
  if (upgrade) {
    http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      void trafficFault().then((injected) => {
        if (injected === undefined) upgrade(request, socket, head);
        else socket.end(plainResponse(injected, 'injected fault\n'));
      });
    });
  }

  const http2 = createHttp2Server();
  http2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    void answerGrpc(stream, headers, healthy);
  });
  http2.on('sessionError', () => {});

  const ports = (process.env.FERRY_LISTEN ?? process.env.PORT ?? '8080').split(',').filter(Boolean).map(Number);
  const host = process.env.HOST ?? '127.0.0.1';
  const servers: NetServer[] = [];
  for (const port of ports) {
    // One port speaks both protocols: HTTP/2 (gRPC) clients open with the h2 preface.
    // Small gRPC frames written through the wrapper below would wait for delayed ACKs (~40 ms) with Nagle on.
    const server = createNetServer({ noDelay: true }, (socket: Socket) => {
      socket.once('data', (first: Buffer) => {
        socket.pause();
        if (first.toString('latin1', 0, HTTP2_PREFACE.length) === HTTP2_PREFACE) {
          // http2 reads the socket's native handle directly and would never see the bytes we
          // already took; a JS stream in front makes it read them (it wraps non-handle streams).
          if (app.http2) app.http2(replay(socket, first));
          else http2.emit('connection', replay(socket, first));
        } else {
          socket.unshift(first);
          http.emit('connection', socket);
        }
        socket.resume();
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    servers.push(server);
  }

  console.log(`${process.env.FERRY_APP ?? 'app'} listening on ${host}:${ports.join(',')}`);

  const shutdown = async (code: number) => {
    for (const server of servers) server.close();
    http.closeAllConnections();
    await app.shutdown?.().catch(() => {});
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGINT', () => void shutdown(0));

  // If the supervisor dies without killing us (and its watchdog too), do not linger.
  const parent = Number(process.env.FERRY_PARENT_PID ?? 0);
  if (parent > 0) {
    setInterval(() => {
      if (process.ppid !== parent) void shutdown(0);
    }, 1000).unref();
  }
  return { trafficFault, healthy };
}

function plainResponse(status: number, text: string): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
}

/** A duplex that yields `first` and then everything read from `socket`, writing through to it. */
function replay(socket: Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  duplex.push(first);
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('close', () => duplex.destroy());
  socket.on('error', (error) => duplex.destroy(error));
  return duplex;
}

async function answerGrpc(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  healthy: (kind: 'readiness' | 'liveness') => Promise<boolean>,
): Promise<void> {
  stream.on('error', () => {});
  stream.resume();
  if (headers[':path'] !== '/grpc.health.v1.Health/Check') {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'only grpc.health.v1.Health/Check is served' }, { endStream: true });
    return;
  }
  const kind = headers[PROBE_HEADER] === 'readiness' ? 'readiness' : 'liveness';
  // HealthCheckResponse.status: SERVING = 1, NOT_SERVING = 2.
  const status = (await healthy(kind)) ? 1 : 2;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, status]));
}
