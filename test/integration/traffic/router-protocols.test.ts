import assert from 'node:assert/strict';
import { connect as connectH2, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { connect as connectTls, type PeerCertificate } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Agent, Client, WebSocket } from 'undici';
import { RouterMetricsProvider, observeRouter } from '../../../src/analysis/router-metrics.js';
import { startRouter } from '../../../src/traffic/proxy/server.js';
import { routerConfigSchema } from '../../../src/traffic/proxy/config.js';
import { RouterProvider } from '../../../src/traffic/router.js';
import { routerProviderSchema } from '../../../src/traffic/provider-config.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { freePort, startBackend, startRouterProcess, type BackendProcess, type RouterProcess } from './helpers.js';
import { grpcEchoClient, makeCertificate, startGrpcBackend, startH2cBackend, startWebSocketEcho, type GrpcBackend } from './protocol-servers.js';

/**
 * The split point speaks what services speak (issue #16 part 6): HTTP/2 over TLS by ALPN and
 * h2c by prior knowledge, gRPC with grpc-status as the error signal, WebSocket upgrades that
 * stay where they were opened, and TLS with a certificate from a Kubernetes Secret.
 */
const TOKEN = 'test-token-not-secret';

async function setWeight(router: { adminUrl: string | undefined }, route: string, target: number): Promise<void> {
  const response = await fetch(`${router.adminUrl}/routes/${route}/weight`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ target }) });
  assert.equal(response.status, 200, await response.text());
}

async function metricsJson(router: { adminUrl: string | undefined }): Promise<Array<{ route: string; backend: string; role: string; requests: number; errors: number; grpcByStatus?: Record<string, number>; websockets?: { opened: number; open: number } }>> {
  return ((await (await fetch(`${router.adminUrl}/metrics.json`)).json()) as { backends: never[] }).backends;
}

function h2Get(session: ClientHttp2Session, headers: Record<string, string>): Promise<{ headers: IncomingHttpHeaders; body: string; trailers: IncomingHttpHeaders | undefined }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'GET', ...headers }, { endStream: true });
    let body = '';
    let responseHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    stream.setEncoding('utf8');
    stream.on('response', (h) => (responseHeaders = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => resolve({ headers: responseHeaders, body, trailers }));
    stream.on('error', reject);
    stream.setTimeout(5_000, () => stream.destroy(new Error('h2 request timed out')));
  });
}

describe('router: HTTP/2, h2c and TLS on its listeners', () => {
  const cert = makeCertificate('api.test', ['api.test', 'web.test']);
  let router: RouterProcess;
  let h2Old: Awaited<ReturnType<typeof startH2cBackend>>;
  let h2New: Awaited<ReturnType<typeof startH2cBackend>>;
  let h1Old: BackendProcess;
  let h1New: BackendProcess;

  before(async () => {
    [h2Old, h2New, h1Old, h1New] = await Promise.all([startH2cBackend('h2-old'), startH2cBackend('h2-new'), startBackend('h1-old'), startBackend('h1-new')]);
    router = await startRouterProcess({
      tls: { listen: '127.0.0.1:0', certFile: cert.certFile, keyFile: cert.keyFile },
      backends: { 'h2-old': { url: h2Old.url }, 'h2-new': { url: h2New.url }, 'h1-old': { url: h1Old.url, http2: false }, 'h1-new': { url: h1New.url, http2: false } },
      routes: [
        { name: 'api', match: { host: 'api.test' }, source: 'h2-old', target: 'h2-new', stickiness: { mode: 'none' } },
        { name: 'web', match: { host: 'web.test' }, source: 'h1-old', target: 'h1-new', stickiness: { mode: 'none' } },
      ],
    }, TOKEN);
  });
  after(async () => {
    await router?.stop();
    await Promise.all([h2Old?.close(), h2New?.close(), h1Old?.kill(), h1New?.kill()]);
  });

  test('h2 over TLS is chosen by ALPN and reaches the backend over HTTP/2 with trailers; HTTP/1.1 shares the TLS port', async () => {
    assert.ok(router.tlsUrl, 'the router reports its TLS listener');
    const session = connectH2(router.tlsUrl!, { ca: cert.cert, servername: 'api.test' });
    try {
      await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject));
      assert.equal((session.socket as unknown as { alpnProtocol: string }).alpnProtocol, 'h2');
      const answer = await h2Get(session, { ':path': '/items/1', ':authority': 'api.test', te: 'trailers' });
      assert.equal(answer.headers[':status'], 200);
      const body = JSON.parse(answer.body) as { backend: string; protocol: string; authority: string; forwardedFor: string };
      assert.deepEqual([body.backend, body.protocol, body.authority], ['h2-old', 'h2', 'api.test']);
      assert.match(body.forwardedFor, /127\.0\.0\.1/);
      assert.equal(answer.trailers?.['x-served-by'], 'h2-old', 'the backend\'s trailer reaches the client');

      // An HTTP/1.1-only backend (http2: false) answers an HTTP/2 client through the router.
      const fromHttp1 = await h2Get(session, { ':path': '/page', ':authority': 'web.test' });
      assert.equal(fromHttp1.headers[':status'], 200);
      assert.deepEqual([(JSON.parse(fromHttp1.body) as { backend: string }).backend, fromHttp1.headers['content-type']], ['h1-old', 'application/json']);

      // The weight applies from the next stream, on the same client connection.
      await setWeight(router, 'api', 100);
      const moved = await h2Get(session, { ':path': '/items/2', ':authority': 'api.test' });
      assert.equal((JSON.parse(moved.body) as { backend: string }).backend, 'h2-new');
    } finally {
      session.close();
      await setWeight(router, 'api', 0);
    }

    // HTTP/1.1 on the same TLS port (a client that offers only http/1.1 in ALPN).
    const alpn = await new Promise<string | false | null>((resolve, reject) => {
      const socket = connectTls({ host: '127.0.0.1', port: Number(new URL(router.tlsUrl!).port), ca: cert.cert, servername: 'web.test', ALPNProtocols: ['http/1.1'] }, () => {
        resolve(socket.alpnProtocol);
        socket.end();
      });
      socket.on('error', reject);
    });
    assert.equal(alpn, 'http/1.1');
    const client = new Client(router.tlsUrl!, { connect: { ca: cert.cert, servername: 'web.test' } });
    try {
      const response = await client.request({ method: 'GET', path: '/page', headers: { host: 'web.test' } });
      assert.equal(response.statusCode, 200);
      assert.equal((JSON.parse(await response.body.text()) as { backend: string }).backend, 'h1-old');
    } finally {
      await client.close();
    }
  });

  test('the plaintext port speaks HTTP/1.1 and h2c (prior knowledge) side by side', async () => {
    const session = connectH2(router.url);
    try {
      const answers = await Promise.all([1, 2, 3].map((i) => h2Get(session, { ':path': `/h2c/${i}`, ':authority': 'api.test' })));
      for (const answer of answers) assert.deepEqual([answer.headers[':status'], (JSON.parse(answer.body) as { protocol: string }).protocol], [200, 'h2']);
      // A 1 MB request body streams through (beyond the default 64 KB HTTP/2 flow-control window).
      const upload = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': '/upload', ':authority': 'api.test', 'content-type': 'application/octet-stream' });
        let body = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => (body += chunk));
        stream.on('end', () => resolve(body));
        stream.on('error', reject);
        stream.setTimeout(5_000, () => stream.destroy(new Error('upload timed out')));
        stream.end(Buffer.alloc(1024 * 1024, 7));
      });
      assert.equal((JSON.parse(upload) as { bodyBytes: number }).bodyBytes, 1024 * 1024);
    } finally {
      session.close();
    }
    const client = new Client(router.url);
    try {
      const response = await client.request({ method: 'GET', path: '/h1', headers: { host: 'web.test' } });
      assert.equal(response.statusCode, 200);
      assert.equal((JSON.parse(await response.body.text()) as { backend: string }).backend, 'h1-old');
    } finally {
      await client.close();
    }
    const stats = await metricsJson(router);
    const api = stats.filter((s) => s.route === 'api');
    assert.ok(api.reduce((sum, s) => sum + s.requests, 0) >= 4, 'HTTP/2 requests are counted per backend');
    assert.equal(api.reduce((sum, s) => sum + s.errors, 0), 0);
  });
});

describe('router: gRPC', () => {
  let source: GrpcBackend;
  let target: GrpcBackend;
  let router: RouterProcess;

  before(async () => {
    [source, target] = await Promise.all([startGrpcBackend('grpc-old'), startGrpcBackend('grpc-new')]);
    router = await startRouterProcess({
      backends: { 'grpc-old': { url: source.url }, 'grpc-new': { url: target.url } },
      routes: [{ name: 'echo', source: 'grpc-old', target: 'grpc-new' }],
    }, TOKEN);
  });
  after(async () => {
    await router?.stop();
    await Promise.all([source?.close(), target?.close()]);
  });

  test('unary calls follow the weight 0 → 50 → 100 with 0 failed calls', async () => {
    const client = grpcEchoClient(router.url);
    const perPhase: Record<number, Record<string, number>> = {};
    const failures: string[] = [];
    let n = 0;
    try {
      for (const weight of [0, 50, 100]) {
        await setWeight(router, 'echo', weight);
        const counts: Record<string, number> = {};
        // 300 calls per step, 10 in flight, each with a 5 s deadline: bounded in count and time.
        await Promise.all(Array.from({ length: 10 }, async () => {
          for (let i = 0; i < 30; i++) {
            try {
              const reply = await client.echo(n++);
              counts[reply.backend] = (counts[reply.backend] ?? 0) + 1;
            } catch (error) {
              failures.push((error as Error).message);
            }
          }
        }));
        perPhase[weight] = counts;
      }
    } finally {
      client.close();
    }
    console.log(`# gRPC calls per backend at each weight: ${JSON.stringify(perPhase)}`);
    assert.deepEqual(failures, []);
    assert.deepEqual(perPhase[0], { 'grpc-old': 300 });
    assert.deepEqual(perPhase[100], { 'grpc-new': 300 });
    const half = perPhase[50]!;
    assert.ok((half['grpc-new'] ?? 0) > 100 && (half['grpc-old'] ?? 0) > 100, `about half on each side at 50%: ${JSON.stringify(half)}`);
    const stats = await metricsJson(router);
    const ok = stats.reduce((sum, s) => sum + (s.grpcByStatus?.OK ?? 0), 0);
    assert.equal(ok, 900, 'every call is counted with its grpc-status');
    assert.equal(stats.reduce((sum, s) => sum + s.errors, 0), 0);
  });

  test('server streams opened at weight 0 finish on the source after the weight moves to 100', async () => {
    await setWeight(router, 'echo', 0);
    const client = grpcEchoClient(router.url);
    try {
      let started!: () => void;
      const firstMessages = new Promise<void>((resolve) => (started = resolve));
      let seen = 0;
      // 3 streams of 40 messages, one every 25 ms (about 1 s each), bounded by a 10 s deadline.
      const streams = Promise.all([1, 2, 3].map(() => client.watch(40, 25, () => ++seen === 3 && started())));
      await firstMessages;
      await setWeight(router, 'echo', 100);
      const moved = await client.echo(1);
      const results = await streams;
      assert.equal(moved.backend, 'grpc-new', 'a new call goes to the target');
      for (const messages of results) {
        assert.equal(messages.length, 40);
        assert.deepEqual(new Set(messages.map((m) => m.backend)), new Set(['grpc-old']), 'an open stream stays where it was opened');
      }
    } finally {
      client.close();
      await setWeight(router, 'echo', 0);
    }
  });

  test('a backend answering UNAVAILABLE shows as errors of its side, in Prometheus and JSON metrics', async () => {
    await setWeight(router, 'echo', 100);
    target.failWith = grpc.status.UNAVAILABLE;
    const before = (await metricsJson(router)).find((s) => s.role === 'target')!;
    const client = grpcEchoClient(router.url);
    const codes: number[] = [];
    try {
      for (let i = 0; i < 40; i++) await client.echo(i).then(() => codes.push(0), (error: grpc.ServiceError) => codes.push(error.code));
    } finally {
      client.close();
      target.failWith = undefined;
    }
    assert.deepEqual(new Set(codes), new Set([grpc.status.UNAVAILABLE]), 'the client sees the backend\'s status');
    const afterStats = (await metricsJson(router)).find((s) => s.role === 'target')!;
    assert.equal(afterStats.errors - before.errors, 40);
    assert.equal(afterStats.grpcByStatus?.UNAVAILABLE, 40);
    const text = await (await fetch(`${router.adminUrl}/metrics`)).text();
    // The judge's default Prometheus query, sum(ferry_router_errors_total{route, role}), sees them.
    assert.match(text, /ferry_router_errors_total\{route="echo",backend="grpc-new",role="target"\} 40/);
    assert.match(text, /ferry_router_grpc_calls_total\{route="echo",backend="grpc-new",role="target",grpc_status="14"\} 40/);
    assert.match(text, /ferry_router_requests_total\{route="echo",backend="grpc-new",role="target",code="2xx"\} \d+/);
    await setWeight(router, 'echo', 0);
  });

  test('a call to a backend that refuses connections is retried on the other side: 0 failed calls', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const inProcess = await startRouter(routerConfigSchema.parse({
      listen: '127.0.0.1:0',
      backends: { gone: { url: dead }, live: { url: target.url } },
      routes: [{ name: 'echo', source: 'gone', target: 'live', weight: 0 }],
    }), { admin: false });
    const client = grpcEchoClient(inProcess.url);
    try {
      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => client.echo(i)));
      assert.deepEqual(new Set(replies.map((reply) => reply.backend)), new Set(['grpc-new']));
      const stats = inProcess.metrics.snapshot();
      const gone = stats.find((s) => s.role === 'source')!;
      assert.ok(gone.errors >= 1 && gone.byStatusClass.none === gone.requests, 'refused attempts count against the dead side');
      assert.equal(stats.find((s) => s.role === 'target')!.errors, 0);
    } finally {
      client.close();
      await inProcess.close();
    }
  });

  test('the judge\'s in-process router metrics count UNAVAILABLE calls as failures', async () => {
    const failing = await startGrpcBackend('grpc-failing');
    failing.failWith = grpc.status.UNAVAILABLE;
    const inProcess = await startRouter(routerConfigSchema.parse({
      listen: '127.0.0.1:0',
      backends: { old: { url: source.url }, new: { url: failing.url } },
      routes: [{ name: 'echo', source: 'old', target: 'new', weight: 100 }],
    }), { admin: false });
    const provider = new RouterMetricsProvider();
    const stop = observeRouter(inProcess, provider, 'echo');
    const client = grpcEchoClient(inProcess.url);
    const from = Date.now() - 1_000;
    try {
      for (let i = 0; i < 20; i++) await client.echo(i).catch(() => undefined);
      const buckets = await provider.buckets('new', from, from + 60_000, 60_000);
      assert.deepEqual([buckets[0]!.requests, buckets[0]!.errors], [20, 20]);
    } finally {
      client.close();
      stop();
      await inProcess.close();
      await failing.close();
    }
  });
});

describe('router: WebSocket', () => {
  const cert = makeCertificate('live.test', ['live.test']);
  let router: RouterProcess;
  let source: Awaited<ReturnType<typeof startWebSocketEcho>>;
  let target: Awaited<ReturnType<typeof startWebSocketEcho>>;

  before(async () => {
    [source, target] = await Promise.all([startWebSocketEcho('old'), startWebSocketEcho('new')]);
    router = await startRouterProcess({
      tls: { listen: '127.0.0.1:0', certFile: cert.certFile, keyFile: cert.keyFile },
      backends: { 'ws-old': { url: source.url }, 'ws-new': { url: target.url } },
      routes: [{ name: 'live', source: 'ws-old', target: 'ws-new' }],
    }, TOKEN);
  });
  after(async () => {
    await router?.stop();
    await Promise.all([source?.close(), target?.close()]);
  });

  async function openSocket(secure = false): Promise<{ ask(text: string): Promise<string>; close(): void }> {
    const socket = secure
      ? new WebSocket(`${router.tlsUrl!.replace('https:', 'wss:')}/live`, { dispatcher: new Agent({ connect: { ca: cert.cert, servername: 'live.test' } }) })
      : new WebSocket(`${router.url.replace('http:', 'ws:')}/live`);
    const replies: string[] = [];
    const waiting: Array<(text: string) => void> = [];
    socket.addEventListener('message', (event) => {
      const next = waiting.shift();
      if (next) next(String(event.data));
      else replies.push(String(event.data));
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('WebSocket did not open in 5 s')), 5_000);
      socket.addEventListener('open', () => (clearTimeout(timer), resolve()));
      socket.addEventListener('error', () => (clearTimeout(timer), reject(new Error('WebSocket failed to open'))));
    });
    return {
      ask: (text) => {
        socket.send(text);
        return new Promise((resolve, reject) => {
          const early = replies.shift();
          if (early !== undefined) return resolve(early);
          const timer = setTimeout(() => reject(new Error(`no echo of ${text} in 5 s`)), 5_000);
          waiting.push((reply) => (clearTimeout(timer), resolve(reply)));
        });
      },
      close: () => socket.close(),
    };
  }

  test('connections opened at weight 0 stay on the source after the weight moves to 100; new ones go to the target', async () => {
    const early = await Promise.all(Array.from({ length: 5 }, () => openSocket()));
    const late: Array<Awaited<ReturnType<typeof openSocket>>> = [];
    try {
      for (const [i, socket] of early.entries()) assert.equal(await socket.ask(`hello ${i}`), `old:hello ${i}`);
      await setWeight(router, 'live', 100);
      late.push(...(await Promise.all(Array.from({ length: 5 }, () => openSocket()))));
      // Several rounds on every connection after the change: the early ones keep echoing from the source.
      for (let round = 0; round < 3; round++) {
        for (const [i, socket] of early.entries()) assert.equal(await socket.ask(`again ${round}.${i}`), `old:again ${round}.${i}`);
        for (const [i, socket] of late.entries()) assert.equal(await socket.ask(`new ${round}.${i}`), `new:new ${round}.${i}`);
      }
      const stats = await metricsJson(router);
      const byRole = Object.fromEntries(stats.map((s) => [s.role, s.websockets]));
      assert.deepEqual(byRole, { source: { opened: 5, open: 5 }, target: { opened: 5, open: 5 } });
      const text = await (await fetch(`${router.adminUrl}/metrics`)).text();
      assert.match(text, /ferry_router_websocket_connections_total\{route="live",backend="ws-old",role="source"\} 5/);
    } finally {
      for (const socket of [...early, ...late]) socket.close();
    }
    // Closed connections leave the open gauge (bounded wait).
    const deadline = Date.now() + 5_000;
    let open = -1;
    while (Date.now() < deadline) {
      open = (await metricsJson(router)).reduce((sum, s) => sum + (s.websockets?.open ?? 0), 0);
      if (open === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(open, 0);
  });

  test('a wss connection through the TLS listener is tunnelled the same way', async () => {
    await setWeight(router, 'live', 0);
    const socket = await openSocket(true);
    try {
      assert.equal(await socket.ask('over tls'), 'old:over tls');
    } finally {
      socket.close();
    }
  });
});

describe('router: TLS with a certificate from a Kubernetes Secret', () => {
  let lab: TestLab;
  let backend: BackendProcess;
  let router: RouterProcess | undefined;
  const first = makeCertificate('shop.test', ['shop.test']);
  const second = makeCertificate('shop-rotated.test', ['shop.test']);

  before(async () => {
    [lab, backend] = await Promise.all([startTestLab(['source']), startBackend('shop')]);
    for (const [name, cert] of [['shop-tls', first], ['shop-tls-rotated', second]] as const) {
      const created = await lab.kubectl(['create', 'secret', 'tls', name, '-n', 'default', `--cert=${cert.certFile}`, `--key=${cert.keyFile}`]);
      assert.equal(created.code, 0, created.stderr);
    }
    const opaque = await lab.kubectl(['create', 'secret', 'generic', 'not-tls', '-n', 'default', `--from-file=tls.key=${first.keyFile}`]);
    assert.equal(opaque.code, 0, opaque.stderr);
  });
  after(async () => {
    await router?.stop();
    await backend?.kill();
    await lab?.stop();
  });

  function servedCertificate(url: string): Promise<PeerCertificate> {
    return new Promise((resolve, reject) => {
      const socket = connectTls({ host: '127.0.0.1', port: Number(new URL(url).port), servername: 'shop.test', rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
        resolve(socket.getPeerCertificate());
        socket.end();
      });
      socket.on('error', reject);
      socket.setTimeout(5_000, () => socket.destroy(new Error('TLS handshake timed out')));
    });
  }

  test('ferry router reads tls.crt/tls.key from the Secret, serves them, and never prints the key', async () => {
    router = await startRouterProcess({
      tls: { listen: '127.0.0.1:0', secret: 'default/shop-tls', context: 'source', kubeconfig: lab.kubeconfigFile },
      backends: { shop: { url: backend.url } },
      routes: [{ name: 'shop', source: 'shop', target: 'shop' }],
    }, TOKEN);
    assert.equal((await servedCertificate(router.tlsUrl!)).fingerprint256, first.fingerprint256);
    const client = new Client(router.tlsUrl!, { connect: { ca: first.cert, servername: 'shop.test' } });
    try {
      const response = await client.request({ method: 'GET', path: '/', headers: { host: 'shop.test' } });
      assert.equal(response.statusCode, 200);
      await response.body.text();
    } finally {
      await client.close();
    }
    const tls = (await (await fetch(`${router.adminUrl}/tls`)).json()) as { certificate: { fingerprint256: string; source: string; dnsNames: string[] } };
    assert.equal(tls.certificate.fingerprint256, first.fingerprint256);
    assert.match(tls.certificate.source, /Secret default\/shop-tls/);
    assert.deepEqual(tls.certificate.dnsNames, ['shop.test']);
    assert.ok(!JSON.stringify(tls).includes('PRIVATE KEY'));
  });

  test('the router traffic provider installs a Secret\'s certificate on reconcile; a wrong Secret is refused without echoing it', async () => {
    assert.ok(router, 'the previous test started the router');
    const provider = (tls: { secret: string }) =>
      new RouterProvider(routerProviderSchema.parse({ type: 'router', adminUrl: router!.adminUrl, route: 'shop', tls: { ...tls, context: 'source', kubeconfig: lab.kubeconfigFile } }), TOKEN);
    await provider({ secret: 'default/shop-tls-rotated' }).reconcile();
    assert.equal((await servedCertificate(router.tlsUrl!)).fingerprint256, second.fingerprint256, 'new handshakes get the rotated certificate');
    const status = await provider({ secret: 'default/shop-tls-rotated' }).status();
    assert.equal((status.detail as { certificate: { fingerprint256: string } }).certificate.fingerprint256, second.fingerprint256);

    const keyBody = first.key.split('\n')[1]!;
    for (const secret of ['default/not-tls', 'default/missing']) {
      const error = await provider({ secret }).reconcile().then(() => undefined, (caught: Error) => caught);
      assert.ok(error, `${secret} is refused`);
      assert.match(error.message, secret === 'default/missing' ? /does not exist/ : /not kubernetes\.io\/tls/);
      assert.ok(!error.message.includes(keyBody) && !JSON.stringify(error).includes(keyBody), 'no key material in the error');
    }
    // A key that does not belong to the certificate: 400 from the admin API, no key echoed.
    const mismatched = await fetch(`${router.adminUrl}/tls`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ cert: first.cert, key: second.key }) });
    const refusal = await mismatched.text();
    assert.equal(mismatched.status, 400, refusal);
    assert.match(refusal, /key does not belong to the certificate/);
    assert.ok(!refusal.includes(second.key.split('\n')[1]!));
    assert.equal((await servedCertificate(router.tlsUrl!)).fingerprint256, second.fingerprint256, 'a refused pair leaves the served certificate alone');
  });
});
