import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { request } from 'undici';
import { startRouter, type Router } from '../../../src/traffic/proxy/server.js';
import { parseRouterConfig } from '../../../src/traffic/proxy/config.js';
import type { ResponseObservation } from '../../../src/traffic/proxy/metrics.js';
import { freePort, startBackend, type BackendProcess } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function start(token: string | undefined, backends: { source: string; target: string }, extra: Record<string, unknown> = {}): Promise<Router> {
  const router = await startRouter(parseRouterConfig({
    listen: '127.0.0.1:0', admin: { listen: '127.0.0.1:0' },
    backends: { source: { url: backends.source }, target: { url: backends.target } },
    routes: [{ name: 'shop', source: 'source', target: 'target', weight: 0, ...extra }],
  }), { adminToken: token, clock: () => 1_700_000_000_000 });
  cleanups.push(() => router.close());
  return router;
}

test('the admin API is read-only without a token and refuses a wrong one', async () => {
  const source: BackendProcess = await startBackend('source');
  cleanups.push(() => source.kill());
  const readOnly = await start(undefined, { source: source.url, target: source.url });
  const denied = await fetch(`${readOnly.adminUrl}/routes/shop/weight`, { method: 'PUT', body: '{"target":10}' });
  assert.equal(denied.status, 403);
  assert.match(((await denied.json()) as { message: string }).message, /read-only/);
  assert.equal((await fetch(`${readOnly.adminUrl}/routes/shop`)).status, 200);

  const guarded = await start('right-token', { source: source.url, target: source.url });
  const wrong = await fetch(`${guarded.adminUrl}/routes/shop/weight`, { method: 'PUT', headers: { authorization: 'Bearer wrong' }, body: '{"target":10}' });
  assert.equal(wrong.status, 401);
  const bad = await fetch(`${guarded.adminUrl}/routes/shop/weight`, { method: 'PUT', headers: { authorization: 'Bearer right-token' }, body: '{"target":150}' });
  assert.equal(bad.status, 400);
  const ok = await fetch(`${guarded.adminUrl}/routes/shop/weight`, { method: 'PUT', headers: { authorization: 'Bearer right-token' }, body: '{"target":10}' });
  assert.equal(ok.status, 200);
  assert.deepEqual(((await ok.json()) as { weights: unknown }).weights, { source: 90, target: 10 });
});

test('observations, Prometheus metrics and JSON metrics describe each backend; POST bodies reach the backend', async () => {
  const echo: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => res.writeHead(req.url === '/fail' ? 503 : 200, { 'content-type': 'text/plain' }).end(`${req.method} ${Buffer.concat(chunks).toString()}`));
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => echo.close(resolve)));
  const url = `http://127.0.0.1:${(echo.address() as { port: number }).port}`;
  const router = await start('t', { source: url, target: url });
  const seen: ResponseObservation[] = [];
  const stop = router.onResponse((observation) => seen.push(observation));

  const posted = await fetch(`${router.url}/orders`, { method: 'POST', body: 'x'.repeat(100_000) });
  assert.equal(await posted.text(), `POST ${'x'.repeat(100_000)}`);
  assert.equal((await fetch(`${router.url}/fail`)).status, 503);
  stop();
  await fetch(`${router.url}/after-unsubscribe`);
  assert.equal(seen.length, 2);
  assert.deepEqual(seen.map(({ route, backend, role, status, at }) => ({ route, backend, role, status, at })), [
    { route: 'shop', backend: 'source', role: 'source', status: 200, at: 1_700_000_000_000 },
    { route: 'shop', backend: 'source', role: 'source', status: 503, at: 1_700_000_000_000 },
  ]);
  assert.ok(seen.every((o) => o.latencyMs > 0 && o.latencyMs < 5000));

  const prometheus = await (await fetch(`${router.adminUrl}/metrics`)).text();
  assert.match(prometheus, /ferry_router_requests_total\{route="shop",backend="source",role="source",code="2xx"\} 2/);
  assert.match(prometheus, /ferry_router_errors_total\{route="shop",backend="source",role="source"\} 1/);
  assert.match(prometheus, /ferry_router_request_duration_seconds_bucket\{le="\+Inf",route="shop",backend="source",role="source"\} 3/);
  const json = (await (await fetch(`${router.adminUrl}/metrics.json`)).json()) as { backends: Array<{ requests: number; errors: number; latency: { count: number } }> };
  assert.equal(json.backends[0]?.requests, 3);
  assert.equal(json.backends[0]?.errors, 1);
  assert.equal(json.backends[0]?.latency.count, 3);
});

test('a POST whose backend refuses the connection is retried on the other backend; one that was sent is not', async () => {
  const target = await startBackend('target');
  cleanups.push(() => target.kill());
  const deadPort = await freePort();
  const router = await start('t', { source: `http://127.0.0.1:${deadPort}`, target: target.url });
  const response = await fetch(`${router.url}/orders`, { method: 'POST', body: '{"n":1}', headers: { 'content-type': 'application/json' } });
  assert.equal(response.status, 200);
  assert.equal(((await response.json()) as { backend: string }).backend, 'target');

  // A backend that accepts the request and then drops the connection: a POST may have had
  // effects there, so the client gets an error instead of a second attempt elsewhere.
  const dropper: Server = createServer((req) => req.socket.destroy());
  await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => dropper.close(resolve)));
  const dropping = await start('t', { source: `http://127.0.0.1:${(dropper.address() as { port: number }).port}`, target: target.url });
  assert.equal((await fetch(`${dropping.url}/orders`, { method: 'POST', body: '{}' })).status, 502);
  const get = await fetch(`${dropping.url}/items`);
  assert.equal(get.status, 200, 'a GET is idempotent, so it is retried on the target');
});

test('no route for the host gives 404 from the router', async () => {
  const source = await startBackend('source');
  cleanups.push(() => source.kill());
  const router = await start('t', { source: source.url, target: source.url }, { match: { host: 'shop.example.com' } });
  // fetch() does not let a caller set Host; undici's request() does.
  const statusFor = async (host: string) => {
    const response = await request(`${router.url}/`, { headers: { host } });
    await response.body.dump();
    return response.statusCode;
  };
  assert.equal(await statusFor('other.example.com'), 404);
  assert.equal(await statusFor('shop.example.com:8080'), 200);
  assert.equal(await statusFor('SHOP.example.com'), 200);
});

test('requests in flight finish on the backend they were sent to while the weight flips 0↔100', async () => {
  const source = await startBackend('source', ['--delay-ms', '300']);
  const target = await startBackend('target', ['--delay-ms', '300']);
  cleanups.push(() => source.kill(), () => target.kill());
  const router = await start('t', { source: source.url, target: target.url }, { stickiness: { mode: 'none' } });
  const inFlight: Array<Promise<{ status: number; backend: string }>> = [];
  // Every request takes 300 ms at the backend; the weight flips every 10 ms meanwhile.
  for (let i = 0; i < 40; i++) {
    router.setWeight('shop', i % 2 === 0 ? 0 : 100);
    inFlight.push(fetch(`${router.url}/slow/${i}`).then(async (response) => ({ status: response.status, backend: ((await response.json()) as { backend: string }).backend })));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const results = await Promise.all(inFlight);
  assert.deepEqual(results.filter((result) => result.status !== 200), []);
  const served = new Set(results.map((result) => result.backend));
  assert.deepEqual([...served].sort(), ['source', 'target']);
  const retried = (await (await fetch(`${router.adminUrl}/metrics.json`)).json()) as { backends: Array<{ byStatusClass: Record<string, number> }> };
  assert.ok(retried.backends.every((backend) => backend.byStatusClass.none === undefined), 'no attempt was cut off and retried');
});

test('a POST is not mirrored unless the route allows it; the shadow never answers the client', async () => {
  const received: string[] = [];
  const shadow: Server = createServer((req, res) => {
    received.push(`${req.method} ${req.headers['x-ferry-shadow']}`);
    req.resume();
    req.on('end', () => res.writeHead(500, { 'content-type': 'text/plain' }).end('shadow'));
  });
  await new Promise<void>((resolve) => shadow.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => shadow.close(resolve)));
  const source = await startBackend('source');
  cleanups.push(() => source.kill());
  const shadowUrl = `http://127.0.0.1:${(shadow.address() as { port: number }).port}`;
  for (const allowNonIdempotent of [false, true]) {
    received.length = 0;
    const router = await start('t', { source: source.url, target: shadowUrl }, { mirror: { enabled: true, percent: 100, allowNonIdempotent } });
    const post = await fetch(`${router.url}/orders`, { method: 'POST', body: '{}' });
    const get = await fetch(`${router.url}/orders`);
    assert.equal(post.status, 200);
    assert.equal(get.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(received.sort(), allowNonIdempotent ? ['GET 1', 'POST 1'] : ['GET 1']);
    const stats = router.mirrorStats('shop');
    assert.equal(stats.skippedNonIdempotent, allowNonIdempotent ? 0 : 1);
    assert.equal(stats.byReason.status, allowNonIdempotent ? 2 : 1, 'the shadow answered 500: counted as a status mismatch');
  }
});
