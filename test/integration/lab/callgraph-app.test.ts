/**
 * The call-graph sample app (`ferry.dev/callgraph`) as the processes the lab runs: chains of
 * services calling each other over HTTP and gRPC on loopback, failing hops named, calls
 * counted in its metrics.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { nodeArgv } from '../../../src/lab/workloads/images.js';
import { freePort } from '../../../src/lab/workloads/ports.js';
import { setAppFaults, clearAppFaults } from '../../../src/lab/workloads/faults.js';
import { callGraphGrpcClient, type CallGraphMessage } from '../../../src/lab/workloads/callgraph-grpc.js';
import { grpcHealthProbe } from '../../../src/lab/workloads/probes.js';
import { waitFor } from './workloads-helpers.js';

const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

interface App {
  name: string;
  port: number;
  url: string;
}

/** Starts one call-graph service on a loopback port, as the lab would (env only), and waits until it is ready. */
async function startApp(name: string, env: Record<string, string>): Promise<App> {
  const port = await freePort();
  const [command, ...args] = nodeArgv('callgraph');
  const child = spawn(command!, args, {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), SERVICE_NAME: name, FERRY_CLUSTER: 'source', FERRY_VERSION: 'v1', FERRY_POD: `${name}-0`, CALL_TIMEOUT_MS: '2000', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${name} ready`, async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok, 20_000);
  return { name, port, url };
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

function grpcCall(app: App): Promise<{ answer?: CallGraphMessage; error?: ServiceError }> {
  const client = callGraphGrpcClient(`127.0.0.1:${app.port}`);
  return new Promise((resolve) => {
    client.Call({}, new Metadata(), { deadline: Date.now() + 10_000 }, (error, answer) => {
      client.close();
      resolve(error ? { error } : { answer: answer! });
    });
  });
}

/** The value of one series of a Prometheus text exposition, 0 when absent. */
async function metric(app: App, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) return Number(line.split(' ').pop());
  }
  return 0;
}

test('over HTTP, a calls b calls c (c reads its callees from CALLS_FILE), answers nest, a failing hop gives 502 naming it, calls are counted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'callgraph-'));
  const d = await startApp('d', {});
  const calls = join(dir, 'calls');
  writeFileSync(calls, `# one URL a line\nhttp://127.0.0.1:${d.port}/\n`);
  const c = await startApp('c', { CALLS_FILE: calls });
  const b = await startApp('b', { CALLS: `http://127.0.0.1:${c.port}/` });
  const a = await startApp('a', { CALLS: `http://127.0.0.1:${b.port}/,http://127.0.0.1:${d.port}/` });

  const ok = await getJson(a.url);
  assert.equal(ok.status, 200);
  assert.deepEqual({ service: ok.body.service, cluster: ok.body.cluster, version: ok.body.version, protocol: ok.body.protocol }, { service: 'a', cluster: 'source', version: 'v1', protocol: 'http' });
  assert.equal(ok.body.calls.length, 2);
  assert.equal(ok.body.calls[0].service, 'b');
  assert.equal(ok.body.calls[0].calls[0].service, 'c');
  assert.equal(ok.body.calls[0].calls[0].calls[0].service, 'd', 'c called the URL in its CALLS_FILE');
  assert.equal(ok.body.calls[1].service, 'd');

  // c answers errors (the lab's fault model): b names c's URL, and a passes that on.
  await setAppFaults({ host: '127.0.0.1', port: c.port }, { errorRate: 1, errorStatus: 500 });
  const failed = await getJson(a.url);
  assert.equal(failed.status, 502);
  assert.equal(failed.body.service, 'a');
  assert.equal(failed.body.failedHop, `http://127.0.0.1:${c.port}/`);
  assert.deepEqual(failed.body.chain, [`http://127.0.0.1:${b.port}/`, `http://127.0.0.1:${c.port}/`]);
  assert.equal(failed.body.error, `http://127.0.0.1:${c.port}/ answered 500: injected fault`);
  await clearAppFaults({ host: '127.0.0.1', port: c.port });

  // A hop that does not answer at all: nothing listens there.
  const deadPort = await freePort();
  writeFileSync(calls, `http://127.0.0.1:${deadPort}/\n`);
  const dead = await getJson(b.url);
  assert.equal(dead.status, 502);
  assert.equal(dead.body.failedHop, `http://127.0.0.1:${deadPort}/`);
  assert.match(dead.body.error, /ECONNREFUSED/);

  assert.equal(await metric(a, 'callgraph_calls_total', { caller: 'a', callee: '127.0.0.1:' + b.port, code: '200', protocol: 'http' }), 1);
  assert.equal(await metric(a, 'callgraph_calls_total', { caller: 'a', callee: '127.0.0.1:' + b.port, code: '502', protocol: 'http' }), 1);
  assert.equal(await metric(b, 'callgraph_calls_total', { caller: 'b', callee: '127.0.0.1:' + c.port, code: '200' }), 1);
  assert.equal(await metric(c, 'callgraph_calls_total', { caller: 'c', callee: '127.0.0.1:' + deadPort, code: '0' }), 1);
  assert.equal(await metric(a, 'callgraph_call_duration_seconds_count', { caller: 'a', callee: '127.0.0.1:' + b.port }), 2);
  assert.equal(await metric(a, 'callgraph_requests_total', { service: 'a', code: '200' }), 1);
});

test('over gRPC, a calls b calls c on one port that also answers HTTP health; a failing hop gives UNAVAILABLE naming it', async () => {
  const c = await startApp('c', { PROTOCOL: 'grpc' });
  const b = await startApp('b', { PROTOCOL: 'grpc', CALLS: `grpc://127.0.0.1:${c.port}` });
  const a = await startApp('a', { PROTOCOL: 'grpc', CALLS: `127.0.0.1:${b.port}` });

  const ok = await grpcCall(a);
  assert.equal(ok.error, undefined, ok.error?.details);
  assert.equal(ok.answer?.service, 'a');
  assert.equal(ok.answer?.protocol, 'grpc');
  const [fromB] = ok.answer?.calls as Array<Record<string, any>>;
  assert.equal(fromB?.service, 'b');
  assert.equal(fromB?.protocol, 'grpc');
  assert.equal(fromB?.calls[0].service, 'c');

  // The kubelet's gRPC probe (grpc.health.v1) on the same port; a readiness fault fails readiness only.
  assert.equal(await grpcHealthProbe('127.0.0.1', a.port, '', 'readiness', 2000), true);
  await setAppFaults({ host: '127.0.0.1', port: a.port }, { ready: false });
  assert.equal(await grpcHealthProbe('127.0.0.1', a.port, '', 'readiness', 2000), false);
  assert.equal(await grpcHealthProbe('127.0.0.1', a.port, '', 'liveness', 2000), true);
  await clearAppFaults({ host: '127.0.0.1', port: a.port });

  // The same service answers its JSON over HTTP/1.1 too, calling its callees over gRPC.
  const overHttp = await getJson(a.url);
  assert.equal(overHttp.status, 200);
  assert.equal(overHttp.body.calls[0].service, 'b');

  await setAppFaults({ host: '127.0.0.1', port: c.port }, { errorRate: 1 });
  const failed = await grpcCall(a);
  assert.equal(failed.error?.code, GrpcStatus.UNAVAILABLE);
  assert.equal(failed.error?.details, `grpc://127.0.0.1:${c.port} answered UNAVAILABLE: c: injected fault`);
  assert.equal(failed.error?.metadata.get('x-callgraph-failed-hop')[0], `grpc://127.0.0.1:${c.port}`);
  const failedHttp = await getJson(a.url);
  assert.equal(failedHttp.status, 502);
  assert.equal(failedHttp.body.failedHop, `grpc://127.0.0.1:${c.port}`);
  await clearAppFaults({ host: '127.0.0.1', port: c.port });

  assert.equal(await metric(a, 'callgraph_calls_total', { caller: 'a', callee: `127.0.0.1:${b.port}`, code: 'OK', protocol: 'grpc' }), 2);
  assert.equal(await metric(a, 'callgraph_calls_total', { caller: 'a', callee: `127.0.0.1:${b.port}`, code: 'UNAVAILABLE', protocol: 'grpc' }), 2);
  assert.equal(await metric(b, 'callgraph_calls_total', { caller: 'b', callee: `127.0.0.1:${c.port}`, code: 'UNAVAILABLE', protocol: 'grpc' }), 2);
  assert.equal(await metric(a, 'callgraph_requests_total', { service: 'a', protocol: 'grpc', code: 'OK' }), 1);
});
