import type { Server as HttpServer } from 'node:http';
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { FerryError } from '../../util/errors.js';

/**
 * The router's front doors. Node has no server that speaks HTTP/1.1 and h2c on one plaintext
 * port (`allowHTTP1` exists only for TLS), so the plaintext listener is a bare TCP server that
 * reads the first bytes of each connection: the HTTP/2 connection preface (`PRI * HTTP/2.0`,
 * "prior knowledge", RFC 9113 §3.3) hands the socket to an HTTP/2 server, anything else to the
 * HTTP/1.1 server. The TLS listener does the same on the ALPN result (h2, else http/1.1).
 * Neither inner server listens itself; both get sockets through `emit('connection')`.
 */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface Front {
  http1: HttpServer;
  http2: Http2Server;
}

/** Tracks HTTP/2 sessions so that shutdown can send GOAWAY and wait for their streams. */
export class SessionSet {
  readonly sessions = new Set<ServerHttp2Session>();

  watch(server: Http2Server): void {
    server.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      // A client's protocol error ends its session; it must not end the router.
      session.on('error', () => undefined);
    });
  }

  /** GOAWAY to every client (streams in flight finish), then cut what is left after `drainMs`. */
  async close(drainMs: number): Promise<void> {
    const open = [...this.sessions];
    if (open.length === 0) return;
    await Promise.all(
      open.map(
        (session) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => session.destroy(), drainMs);
            session.close(() => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
  }
}

/** The plaintext listener: HTTP/1.1 and h2c (prior knowledge) on one port. */
export function plaintextListener(front: Front): NetServer {
  return createNetServer({ noDelay: true, pauseOnConnect: true }, (socket) => sniff(socket, front));
}

/** A connection that sends nothing is closed after this, so that it cannot hold shutdown up. */
const FIRST_BYTES_TIMEOUT_MS = 10_000;

function sniff(socket: Socket, front: Front): void {
  socket.on('error', () => socket.destroy());
  socket.setTimeout(FIRST_BYTES_TIMEOUT_MS, () => socket.destroy());
  let seen: Buffer = Buffer.alloc(0);
  const onReadable = (): void => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const compared = Math.min(seen.length, PREFACE.length);
    const isPreface = seen.subarray(0, compared).equals(PREFACE.subarray(0, compared));
    // Undecided until the preface is complete or a byte differs (HTTP/1.1 differs at byte 0 or 1).
    if (isPreface && seen.length < PREFACE.length) return;
    socket.off('readable', onReadable);
    socket.removeAllListeners('error');
    socket.removeAllListeners('timeout');
    socket.setTimeout(0);
    socket.pause();
    socket.unshift(seen);
    (isPreface ? front.http2 : front.http1).emit('connection', socket);
  };
  socket.on('readable', onReadable);
  socket.once('end', () => socket.off('readable', onReadable));
  socket.resume();
}

/** The TLS listener: ALPN picks h2 or http/1.1 on one port. */
export function tlsListener(front: Front, context: SecureContextOptions): TlsServer {
  const server = createTlsServer({ ...context, ALPNProtocols: ['h2', 'http/1.1'], noDelay: true, handshakeTimeout: FIRST_BYTES_TIMEOUT_MS }, (socket: TLSSocket) => {
    (socket.alpnProtocol === 'h2' ? front.http2 : front.http1).emit('connection', socket);
  });
  // A failed handshake (wrong SNI, plain HTTP to the TLS port) concerns that client only.
  server.on('tlsClientError', () => undefined);
  return server;
}

/**
 * An http.Server that never listens still needs its connection bookkeeping (idle-connection
 * closing, header and request timeouts), which Node sets up on 'listening'.
 */
export function adoptWithoutListening(server: HttpServer): void {
  server.emit('listening');
}

export function listenOn(server: NetServer, host: string, port: number, field: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void =>
      reject(new FerryError('listen', `cannot listen on ${host}:${port}: ${error.code ?? error.message}`, { location: { field }, fix: 'choose a free port, or 0 to let the OS pick one', cause: error }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export function closeNet(server: NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
