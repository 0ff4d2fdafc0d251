import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createH2cServer, type Http2Server } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { acceptWebSocket } from '../../../src/lab/workloads/apps/websocket.js';

/**
 * Real servers on loopback that speak what services speak, for the router's protocol tests:
 * h2c, gRPC (grpc-js), WebSocket, and certificates made by openssl.
 */

/** An h2c backend: answers JSON naming itself, and a trailer when the client asks for trailers. */
export async function startH2cBackend(name: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Http2Server = createH2cServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const trailers = headers.te === 'trailers';
      stream.respond({ ':status': 200, 'content-type': 'application/json' }, { waitForTrailers: trailers });
      if (trailers) stream.once('wantTrailers', () => stream.sendTrailers({ 'x-served-by': name }));
      stream.end(JSON.stringify({ backend: name, protocol: 'h2', path: headers[':path'], authority: headers[':authority'], forwardedFor: headers['x-forwarded-for'], bodyBytes: Buffer.concat(chunks).length }));
    });
    stream.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as unknown,
};

/** A unary gRPC method with JSON messages (no .proto needed): `ferry.test.Echo/Echo`. */
export const echoService: grpc.ServiceDefinition = {
  echo: {
    path: '/ferry.test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

/** A server-streaming method: `count` messages `{backend, i}`, one every `everyMs`. */
export const watchService: grpc.ServiceDefinition = {
  watch: {
    path: '/ferry.test.Echo/Watch',
    requestStream: false,
    responseStream: true,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

export interface GrpcBackend {
  name: string;
  url: string;
  /** When set, every call is answered with this status (e.g. grpc.status.UNAVAILABLE). */
  failWith: grpc.status | undefined;
  served: number;
  close(): Promise<void>;
}

export async function startGrpcBackend(name: string): Promise<GrpcBackend> {
  const server = new grpc.Server();
  const backend: GrpcBackend = {
    name,
    url: '',
    failWith: undefined,
    served: 0,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
  server.addService(echoService, {
    echo: (call: grpc.ServerUnaryCall<{ n: number }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      backend.served++;
      if (backend.failWith !== undefined) callback({ code: backend.failWith, details: `${name} is failing` });
      else callback(null, { backend: name, n: call.request.n });
    },
  });
  server.addService(watchService, {
    watch: (call: grpc.ServerWritableStream<{ count: number; everyMs: number }, unknown>) => {
      let i = 0;
      const timer = setInterval(() => {
        if (call.cancelled) return void clearInterval(timer);
        call.write({ backend: name, i: i++ });
        if (i === call.request.count) {
          clearInterval(timer);
          call.end();
        }
      }, call.request.everyMs);
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  backend.url = `http://127.0.0.1:${port}`;
  return backend;
}

export interface EchoClient {
  echo(n: number, deadlineMs?: number): Promise<{ backend: string; n: number }>;
  /** A server stream; resolves with every message once the stream ends. */
  watch(count: number, everyMs: number, onMessage?: (message: { backend: string; i: number }) => void): Promise<Array<{ backend: string; i: number }>>;
  close(): void;
}

/** A grpc-js client of the router (h2c); proxies from the environment are not used. */
export function grpcEchoClient(routerUrl: string): EchoClient {
  const Client = grpc.makeGenericClientConstructor(echoService, 'Echo');
  const client = new Client(new URL(routerUrl).host, grpc.credentials.createInsecure(), { 'grpc.enable_http_proxy': 0 }) as unknown as grpc.Client & {
    echo(request: unknown, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: { backend: string; n: number }) => void): void;
  };
  const Watcher = grpc.makeGenericClientConstructor(watchService, 'Watch');
  const watcher = new Watcher(new URL(routerUrl).host, grpc.credentials.createInsecure(), { 'grpc.enable_http_proxy': 0 }) as unknown as grpc.Client & {
    watch(request: unknown, options: grpc.CallOptions): grpc.ClientReadableStream<{ backend: string; i: number }>;
  };
  return {
    watch: (count, everyMs, onMessage) =>
      new Promise((resolve, reject) => {
        const messages: Array<{ backend: string; i: number }> = [];
        const stream = watcher.watch({ count, everyMs }, { deadline: Date.now() + 10_000 });
        stream.on('data', (message: { backend: string; i: number }) => {
          messages.push(message);
          onMessage?.(message);
        });
        stream.on('error', reject);
        stream.on('end', () => resolve(messages));
      }),
    echo: (n, deadlineMs = 5_000) => new Promise((resolve, reject) => client.echo({ n }, { deadline: Date.now() + deadlineMs }, (error, response) => (error ? reject(error) : resolve(response)))),
    close: () => {
      client.close();
      watcher.close();
    },
  };
}

/** A WebSocket echo server answering `NAME:message`, with the lab apps' WebSocket server side (src/lab/workloads/apps/websocket.ts). */
export async function startWebSocketEcho(name: string): Promise<{ url: string; open: Set<Socket>; close(): Promise<void> }> {
  const open = new Set<Socket>();
  const server: Server = createHttpServer((_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('websocket only\n'));
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    const connection = acceptWebSocket(req, socket, head, (peer, message) => {
      if (!message.binary) peer.send(`${name}:${message.data.toString('utf8')}`);
    });
    if (!connection) return;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    open,
    close: () => {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
  fingerprint256: string;
}

/** A self-signed P-256 certificate for `names` (and 127.0.0.1) made by openssl. */
export function makeCertificate(commonName: string, names: string[]): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-cert-'));
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-keyout', keyFile, '-out', certFile, '-subj', `/CN=${commonName}`,
    '-addext', `subjectAltName=${[...names.map((name) => `DNS:${name}`), 'IP:127.0.0.1'].join(',')}`,
  ], { stdio: 'ignore' });
  const cert = readFileSync(certFile, 'utf8');
  return { certFile, keyFile, cert, key: readFileSync(keyFile, 'utf8'), fingerprint256: new X509Certificate(cert).fingerprint256 };
}
