/**
 * Lab service networking with real pods as processes: a caller pod (a Deployment running a
 * tiny node server that runs curl on request, with the environment the lab gave it) calls
 * Services by every DNS form through its cluster's service proxy, StatefulSet pods by pod
 * DNS, ClusterIPs directly, another cluster through its east-west gateway and through a
 * bridge Service; telemetry names caller and callee.
 */
import { test, before, after } from 'node:test';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectHttp2 } from 'node:http2';
import { request as httpRequest } from 'node:http';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import { startLab, type Lab, type LabCluster } from '../../../src/lab/cluster.js';
import { ControllerClient } from '../../../src/lab/controllers/client.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { waitFor } from './workloads-helpers.js';

const require = createRequire(import.meta.url);
let lab: Lab;
let a: LabCluster;
let b: LabCluster;
let clientA: ControllerClient;
let clientB: ControllerClient;

// The caller: GET /env answers its environment; GET /curl?url=…[&proxy=…] runs curl with it.
const CALLER = `
const http = require('node:http');
const { execFile } = require('node:child_process');
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://caller');
  if (url.pathname === '/readyz') return res.end('ok');
  if (url.pathname === '/env') return res.end(JSON.stringify(process.env));
  if (url.pathname === '/fetch') {
    // undici's EnvHttpProxyAgent reads HTTP_PROXY/NO_PROXY from this pod's environment.
    const undici = require(process.env.UNDICI_MODULE);
    undici.request(url.searchParams.get('url'), { dispatcher: new undici.EnvHttpProxyAgent() })
      .then(async (answer) => res.end(JSON.stringify({ status: answer.statusCode, body: await answer.body.text() })))
      .catch((error) => res.end(JSON.stringify({ status: 0, body: String(error) })));
    return;
  }
  if (url.pathname === '/grpc') {
    // grpc-js reads grpc_proxy and tunnels with CONNECT; the sample apps answer grpc.health.v1.Health/Check.
    const grpc = require(process.env.GRPC_MODULE);
    const client = new grpc.Client(url.searchParams.get('target'), grpc.credentials.createInsecure());
    client.makeUnaryRequest('/grpc.health.v1.Health/Check', (b) => b, (b) => b, Buffer.alloc(0), (error, reply) => {
      client.close();
      res.end(JSON.stringify(error ? { code: error.code, details: error.details } : { code: 0, reply: [...reply] }));
    });
    return;
  }
  if (url.pathname === '/curl') {
    const args = ['-sS', '-m', '10', '-w', '\\n%{http_code}'];
    if (url.searchParams.get('proxy')) args.push('--proxy', url.searchParams.get('proxy'));
    execFile('curl', [...args, url.searchParams.get('url')], (error, stdout, stderr) => {
      const lines = stdout.split('\\n');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: Number(lines.pop()), body: lines.join('\\n'), stderr, exit: error ? error.code : 0 }));
    });
    return;
  }
  res.statusCode = 404;
  res.end();
}).on('upgrade', (req, socket) => {
  // A WebSocket-like upgrade: 101, then every byte echoed.
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: echo\\r\\nConnection: Upgrade\\r\\n\\r\\n');
  socket.pipe(socket);
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

function deployment(namespace: string, name: string, replicas: number, container: Record<string, unknown>, annotations: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace },
    spec: {
      replicas, selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name }, annotations }, spec: { containers: [container] } },
    },
  };
}

const echo = (tag: string) => ({
  name: 'main', image: `ferry.dev/echo:${tag}`, ports: [{ name: 'http', containerPort: 8080 }],
  readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 1 },
});

function service(namespace: string, name: string, ports: Array<Record<string, unknown>>, extra: Record<string, unknown> = { selector: { app: name } }): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { ports, ...extra } };
}

function namespace(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

function readyAddresses(client: ControllerClient, ns: string, name: string): number {
  const endpoints = client.get('v1', 'Endpoints', ns, name) as (KubeObject & { subsets?: Array<{ addresses?: unknown[] }> }) | undefined;
  return (endpoints?.subsets ?? []).reduce((sum, subset) => sum + (subset.addresses?.length ?? 0), 0);
}

/** The caller pod's host port, to ask it to run curl. */
function callerPort(): number {
  const pod = clientA.list('v1', 'Pod', 'apps').find((p) => p.metadata.labels?.app === 'caller')!;
  return a.runtime!.get('apps', pod.metadata.name)!.hostPort(8080)!;
}

async function get(url: string): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** curl run inside the caller pod, with the pod's own environment. */
async function curl(url: string, proxy?: string): Promise<{ status: number; body: string; json: any }> {
  const query = new URLSearchParams({ url, ...(proxy ? { proxy } : {}) });
  const answer = JSON.parse((await get(`http://127.0.0.1:${callerPort()}/curl?${query}`)).body) as { status: number; body: string; stderr: string };
  let json: unknown;
  try {
    json = JSON.parse(answer.body);
  } catch {
    json = undefined;
  }
  return { status: answer.status, body: answer.body || answer.stderr, json };
}

async function callerEnv(): Promise<Record<string, string>> {
  return JSON.parse((await get(`http://127.0.0.1:${callerPort()}/env`)).body) as Record<string, string>;
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-network-test-'));
  const script = join(dir, 'caller.cjs');
  writeFileSync(script, CALLER);
  lab = await startLab({ clusters: ['neta', 'netb'], pods: 'processes', runtimeOptions: { timeScale: 0.1 } });
  [a, b] = lab.clusters as [LabCluster, LabCluster];
  clientA = new ControllerClient(a.service);
  clientB = new ControllerClient(b.service);
  for (const client of [clientA, clientB]) for (const ns of ['apps', 'remote']) client.create(namespace(ns));
  // Cluster A: echo (2 replicas, two ports), a StatefulSet behind a headless Service, a Service with no pods, the caller.
  clientA.create(service('apps', 'echo', [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'alt', port: 9090, targetPort: 'http' }]));
  clientA.create(deployment('apps', 'echo', 2, echo('v1')));
  clientA.create(service('apps', 'db', [{ name: 'http', port: 8080, targetPort: 'http' }], { selector: { app: 'db' }, clusterIP: 'None' }));
  clientA.create({
    apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'apps' },
    spec: { replicas: 2, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [echo('db')] } } },
  });
  clientA.create(service('apps', 'empty', [{ port: 80 }], { selector: { app: 'nobody' } }));
  // Cluster B: the same names, answering as cluster netb.
  clientB.create(service('apps', 'echo', [{ name: 'http', port: 80, targetPort: 'http' }]));
  clientB.create(deployment('apps', 'echo', 1, echo('v2')));
  clientB.create(service('remote', 'echo', [{ name: 'http', port: 8080, targetPort: 'http' }]));
  clientB.create(deployment('remote', 'echo', 1, echo('remote')));
  clientB.create(service('remote', 'db', [{ name: 'http', port: 8080, targetPort: 'http' }], { selector: { app: 'db' }, clusterIP: 'None' }));
  clientB.create({
    apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'remote' },
    spec: { replicas: 1, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [echo('remote-db')] } } },
  });
  // Cluster A's bridges: remote/echo without a selector, its Endpoints at B's east-west gateway;
  // remote/db headless, its Endpoints naming B's pod db-0 at the gateway.
  clientA.create(service('remote', 'db', [{ name: 'http', port: 8080 }], { clusterIP: 'None' }));
  clientA.create({
    apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'db', namespace: 'remote' },
    subsets: [{ addresses: [{ ip: b.network!.eastWest.host, hostname: 'db-0' }], ports: [{ name: 'http', port: b.network!.eastWest.port }] }],
  } as KubeObject);
  clientA.create(service('remote', 'echo', [{ name: 'http', port: 8080 }], {}));
  clientA.create({
    apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'echo', namespace: 'remote' },
    subsets: [{ addresses: [{ ip: b.network!.eastWest.host }], ports: [{ name: 'http', port: b.network!.eastWest.port }] }],
  } as KubeObject);
  clientA.create(service('apps', 'caller', [{ name: 'http', port: 8080, targetPort: 8080 }]));
  clientA.create(deployment('apps', 'caller', 1, {
    name: 'main', image: 'example.com/caller:v1', ports: [{ containerPort: 8080 }],
    env: [{ name: 'UNDICI_MODULE', value: require.resolve('undici') }, { name: 'GRPC_MODULE', value: require.resolve('@grpc/grpc-js') }],
    readinessProbe: { httpGet: { path: '/readyz', port: 8080 }, periodSeconds: 1 },
  }, { 'lab.ferry.dev/command': `exec node ${script}` }));
  await waitFor('pods ready', () => readyAddresses(clientA, 'apps', 'echo') === 2 && readyAddresses(clientA, 'apps', 'db') === 2
    && readyAddresses(clientA, 'apps', 'caller') === 1
    && readyAddresses(clientB, 'apps', 'echo') === 1 && readyAddresses(clientB, 'remote', 'echo') === 1 && readyAddresses(clientB, 'remote', 'db') === 1, 60_000, 100);
  await a.network!.settled();
  await b.network!.settled();
});

after(async () => {
  // Tunnels still open (the HTTP/2 test leaves one) must not hold the cluster's stop.
  const started = Date.now();
  await lab?.stop();
  assert.ok(Date.now() - started < 20_000, `the lab stopped in ${Date.now() - started} ms`);
});

test('a pod reaches a Service by every DNS form through its cluster\'s service proxy, relative to its namespace', async () => {
  for (const url of ['http://echo/', 'http://echo.apps/', 'http://echo.apps.svc/', 'http://echo.apps.svc.cluster.local/', 'http://echo.apps.svc.cluster.local.:9090/']) {
    const answer = await curl(url);
    assert.equal(answer.status, 200, `${url}: ${answer.body}`);
    assert.equal(answer.json.cluster, 'neta', url);
    assert.equal(answer.json.namespace, 'apps', url);
    assert.equal(answer.json.version, 'v1', url);
  }
});

test('undici\'s EnvHttpProxyAgent and grpc-js in a pod reach Services by name through the proxy variables', async () => {
  const port = callerPort();
  const fetched = JSON.parse((await get(`http://127.0.0.1:${port}/fetch?url=${encodeURIComponent('http://echo.apps.svc:9090/')}`)).body) as { status: number; body: string };
  assert.equal(fetched.status, 200, fetched.body);
  assert.equal(JSON.parse(fetched.body).cluster, 'neta');
  const grpc = JSON.parse((await get(`http://127.0.0.1:${port}/grpc?target=${encodeURIComponent('echo.apps:9090')}`)).body) as { code: number; reply?: number[]; details?: string };
  assert.equal(grpc.code, 0, grpc.details);
  assert.deepEqual(grpc.reply, [0x08, 1], 'SERVING');
  const bridged = JSON.parse((await get(`http://127.0.0.1:${port}/grpc?target=${encodeURIComponent('dns:///echo.remote:8080')}`)).body) as { code: number; details?: string };
  assert.equal(bridged.code, 0, `gRPC across the bridge: ${bridged.details}`);
});

test('calls are spread round-robin over the ready endpoints', async () => {
  const pods: string[] = [];
  for (let i = 0; i < 6; i++) pods.push((await curl('http://echo.apps/')).json.pod as string);
  assert.equal(new Set(pods).size, 2, pods.join(' '));
  for (let i = 2; i < pods.length; i++) assert.equal(pods[i], pods[i - 2], `alternates: ${pods.join(' ')}`);
});

test('a request, body and all, goes to the next endpoint when one refuses the connection', async () => {
  // Endpoints listing a port nobody listens on (a pod gone before its Endpoints say so) and a live pod.
  const dead = await new Promise<number>((resolve) => {
    const probe = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const live = (clientA.get('v1', 'Endpoints', 'apps', 'echo') as KubeObject & { subsets: Array<{ ports: Array<{ port: number }> }> }).subsets[0]!.ports[0]!.port;
  clientA.create(service('apps', 'flaky', [{ name: 'http', port: 80 }], {}));
  clientA.create({
    apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'flaky', namespace: 'apps' },
    subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'http', port: dead }] }, { addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'http', port: live }] }],
  } as KubeObject);
  const proxy = new URL(a.network!.proxyUrl);
  for (let i = 0; i < 4; i++) {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const body = JSON.stringify({ order: i });
      const req = httpRequest({ host: proxy.hostname, port: Number(proxy.port), method: 'POST', path: 'http://flaky.apps/orders', agent: false, headers: { host: 'flaky.apps', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(answer.status, 200, answer.body);
  }
});

test('StatefulSet pod DNS reaches that exact pod, in full and short forms', async () => {
  for (const pod of ['db-0', 'db-1']) {
    for (const url of [`http://${pod}.db.apps.svc.cluster.local:8080/`, `http://${pod}.db:8080/`]) {
      const answer = await curl(url);
      assert.equal(answer.status, 200, `${url}: ${answer.body}`);
      assert.equal(answer.json.pod, pod, url);
    }
  }
  // The headless Service's own name spreads over its pods, on the pods' port.
  const names = new Set<string>();
  for (let i = 0; i < 4; i++) names.add((await curl('http://db:8080/')).json.pod as string);
  assert.deepEqual([...names].sort(), ['db-0', 'db-1']);
});

test('an unknown name answers 502 naming it; a Service without ready endpoints answers 503 naming the Service', async () => {
  const unknown = await curl('http://no-such-service/');
  assert.equal(unknown.status, 502);
  assert.match(unknown.body, /no Service or pod is named "no-such-service".*namespace apps/);
  const empty = await curl('http://empty/');
  assert.equal(empty.status, 503);
  assert.match(empty.body, /Service apps\/empty in cluster neta has no ready endpoint for port 80/);
});

test('the pod has the kubelet\'s Service variables and its ClusterIP:port answers directly', async () => {
  const env = await callerEnv();
  assert.match(env.ECHO_SERVICE_HOST ?? '', /^127\.\d+\.\d+\.\d+$/);
  assert.equal(env.ECHO_SERVICE_PORT, '80');
  assert.equal(env.ECHO_SERVICE_PORT_HTTP, '80');
  assert.equal(env.ECHO_SERVICE_PORT_ALT, '9090');
  assert.equal(env.ECHO_PORT, `tcp://${env.ECHO_SERVICE_HOST}:80`);
  assert.equal(env.ECHO_PORT_9090_TCP, `tcp://${env.ECHO_SERVICE_HOST}:9090`);
  assert.equal(env.ECHO_PORT_9090_TCP_PROTO, 'tcp');
  assert.equal(env.ECHO_PORT_9090_TCP_PORT, '9090');
  assert.equal(env.ECHO_PORT_9090_TCP_ADDR, env.ECHO_SERVICE_HOST);
  assert.equal(env.KUBERNETES_SERVICE_PORT, '443');
  assert.equal(env.EMPTY_SERVICE_PORT, '80');
  assert.equal(env.DB_SERVICE_HOST, undefined, 'a headless Service has no variables');
  assert.equal(env.http_proxy, `http://apps%2F${env.HOSTNAME}:lab@${a.network!.proxyUrl.slice('http://'.length)}`);
  assert.equal(env.HTTP_PROXY, env.http_proxy);
  assert.equal(env.grpc_proxy, env.http_proxy);
  assert.match(env.NO_PROXY ?? '', /127\.0\.0\.1/);
  // Through curl in the pod, and directly from here (no proxy at all), at the ClusterIP.
  const viaPod = await curl(`http://${env.ECHO_SERVICE_HOST}:${env.ECHO_SERVICE_PORT_ALT}/`);
  assert.equal(viaPod.status, 200, viaPod.body);
  const direct = await get(`http://${env.ECHO_SERVICE_HOST}:9090/`);
  assert.equal(direct.status, 200);
  assert.equal(JSON.parse(direct.body).cluster, 'neta');
  // The two clusters' ClusterIPs are in different /16s.
  assert.notEqual(a.network!.clusterIpRange, b.network!.clusterIpRange);
});

test('a pod in cluster A reaches cluster B\'s Service through B\'s east-west gateway, published as its LoadBalancer Service', async () => {
  const gatewayService = clientB.get('v1', 'Service', 'ferry-system', 'east-west-gateway') as KubeObject & { spec: any; status: any };
  assert.equal(gatewayService.spec.type, 'LoadBalancer');
  assert.equal(gatewayService.spec.ports[0].name, 'tls');
  const host = gatewayService.status.loadBalancer.ingress[0].ip as string;
  const port = gatewayService.spec.ports[0].port as number;
  assert.deepEqual({ host, port }, b.network!.eastWest);
  // Tools outside the lab's process (a `ferry lab up` lab) find the addresses in a ConfigMap.
  const published = clientB.get('v1', 'ConfigMap', 'ferry-system', 'lab-network') as KubeObject & { data: Record<string, string> };
  assert.deepEqual(published.data, { proxyUrl: b.network!.proxyUrl, metricsUrl: b.network!.metricsUrl, eastWest: `${host}:${port}`, clusterIpRange: b.network!.clusterIpRange });
  const answer = await curl('http://echo.apps.svc.cluster.local/', `http://${host}:${port}`);
  assert.equal(answer.status, 200, answer.body);
  assert.equal(answer.json.cluster, 'netb');
  const refused = await curl('http://nothing.apps.svc.cluster.local/', `http://${host}:${port}`);
  assert.equal(refused.status, 502);
  assert.match(refused.body, /east-west gateway of cluster netb: no Service or pod is named "nothing.apps.svc.cluster.local"/);
});

test('a selector-less Service whose Endpoints point at B\'s gateway reaches B\'s Service of the same name, by name and by ClusterIP', async () => {
  const byName = await curl('http://echo.remote:8080/');
  assert.equal(byName.status, 200, byName.body);
  assert.equal(byName.json.cluster, 'netb');
  assert.equal(byName.json.namespace, 'remote');
  // The endpoints controller left the bridge's Endpoints alone.
  assert.equal(readyAddresses(clientA, 'remote', 'echo'), 1);
  const clusterIP = (clientA.get('v1', 'Service', 'remote', 'echo')!.spec as { clusterIP: string }).clusterIP;
  const direct = await get(`http://${clusterIP}:8080/`);
  assert.equal(direct.status, 200);
  assert.equal(JSON.parse(direct.body).cluster, 'netb');
});

test('a headless bridge reaches the other cluster\'s StatefulSet, by Service name and by pod DNS', async () => {
  for (const url of ['http://db.remote:8080/', 'http://db-0.db.remote:8080/', 'http://db-0.db.remote.svc.cluster.local:8080/']) {
    const answer = await curl(url);
    assert.equal(answer.status, 200, `${url}: ${answer.body}`);
    assert.equal(answer.json.cluster, 'netb', url);
    assert.equal(answer.json.pod, 'db-0', url);
  }
  const missing = await curl('http://db-1.db.remote:8080/');
  assert.equal(missing.status, 502);
  assert.match(missing.body, /no Service or pod is named "db-1.db.remote"/);
});

test('a CONNECT tunnel through the service proxy carries HTTP/2 (a gRPC health check)', async () => {
  const env = await callerEnv();
  const proxy = new URL(a.network!.proxyUrl);
  const tunnel = await new Promise<import('node:net').Socket>((resolve, reject) => {
    const socket = netConnect(Number(proxy.port), proxy.hostname, () => {
      const auth = Buffer.from(`apps/${env.HOSTNAME}:lab`).toString('base64');
      socket.write(`CONNECT echo:9090 HTTP/1.1\r\nHost: echo:9090\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`);
    });
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.removeListener('data', onData);
      if (head.startsWith('HTTP/1.1 200')) resolve(socket);
      else reject(new Error(head));
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
  const session = connectHttp2('http://echo.apps.svc.cluster.local:9090', { createConnection: () => tunnel });
  try {
    const answer = await new Promise<{ status: number; body: Buffer; grpcStatus: string | undefined }>((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
      const chunks: Buffer[] = [];
      let status = 0;
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('trailers', (trailers) => resolve({ status, body: Buffer.concat(chunks), grpcStatus: trailers['grpc-status'] as string | undefined }));
      stream.on('error', reject);
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.grpcStatus, '0');
    assert.deepEqual([...answer.body], [0, 0, 0, 0, 2, 0x08, 1], 'SERVING');
  } finally {
    // The session stays open: stopping the lab must close its tunnel (see after()).
    session.unref();
  }
});

test('an absolute-form Upgrade request through the proxy becomes a two-way stream to the Service', async () => {
  const proxy = new URL(a.network!.proxyUrl);
  const socket = netConnect(Number(proxy.port), proxy.hostname);
  try {
    socket.write('GET http://caller.apps:8080/stream HTTP/1.1\r\nHost: caller.apps:8080\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await waitFor('101', () => received.includes('\r\n\r\n'), 10_000);
    assert.match(received, /^HTTP\/1.1 101/);
    received = '';
    socket.write('ping-1');
    await waitFor('the echo', () => received === 'ping-1', 10_000);
  } finally {
    socket.destroy();
  }
});

test('telemetry names the caller and callee workloads, in both clusters', async () => {
  await curl('http://echo.remote:8080/');
  const metricsA = (await get(a.network!.metricsUrl)).body;
  const metricsB = (await get(b.network!.metricsUrl)).body;
  const count = (text: string, name: string, labels: Record<string, string>): number => {
    let total = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) total += Number(line.split(' ').pop());
    }
    return total;
  };
  const local = { source_workload: 'caller', source_workload_namespace: 'apps', source_cluster: 'neta', destination_workload: 'echo', destination_workload_namespace: 'apps', destination_service: 'echo.apps.svc.cluster.local', destination_service_name: 'echo', destination_service_namespace: 'apps', destination_cluster: 'neta', request_protocol: 'http', response_code: '200' };
  assert.ok(count(metricsA, 'istio_requests_total', { reporter: 'source', ...local }) >= 6, metricsA);
  assert.ok(count(metricsA, 'istio_requests_total', { reporter: 'destination', ...local }) >= 6);
  assert.ok(count(metricsA, 'istio_request_duration_milliseconds_count', { reporter: 'source', ...local }) >= 6);
  assert.ok(count(metricsA, 'istio_requests_total', { reporter: 'source', destination_workload: 'db', destination_service_name: 'db' }) >= 4);
  // HTTP/2 through CONNECT (grpc-js from the pod, the raw tunnel above) is terminated and counted per call, as Istio counts gRPC.
  const grpc = { source_workload: 'caller', source_cluster: 'neta', destination_workload: 'echo', destination_service_name: 'echo', destination_cluster: 'neta', request_protocol: 'grpc', response_code: '200', grpc_response_status: '0' };
  assert.ok(count(metricsA, 'istio_requests_total', { reporter: 'source', ...grpc }) >= 2, 'the gRPC calls through CONNECT');
  assert.ok(count(metricsA, 'istio_request_duration_milliseconds_count', { reporter: 'destination', ...grpc }) >= 2);
  assert.ok(count(metricsA, 'istio_tcp_connections_opened_total', { reporter: 'source', source_workload: 'caller', destination_workload: 'echo', request_protocol: 'tcp' }) >= 1, 'the CONNECT tunnel undici opened (HTTP/1.1 inside: a byte tunnel)');
  assert.ok(count(metricsA, 'istio_tcp_connections_opened_total', { reporter: 'destination', source_workload: 'unknown', source_cluster: 'neta', destination_workload: 'echo' }) >= 1, 'the ClusterIP connection');
  assert.ok(count(metricsA, 'istio_requests_total', { reporter: 'source', source_workload: 'caller', destination_service_name: 'empty', destination_workload: 'unknown', response_code: '503' }) >= 1, 'a call with no ready endpoint');
  const crossing = { source_workload: 'caller', source_cluster: 'neta', destination_workload: 'echo', destination_workload_namespace: 'remote', destination_service: 'echo.remote.svc.cluster.local', destination_cluster: 'netb', response_code: '200' };
  assert.ok(count(metricsA, 'istio_requests_total', { reporter: 'source', ...crossing }) >= 2, metricsA);
  assert.ok(count(metricsB, 'istio_requests_total', { reporter: 'destination', ...crossing }) >= 2, metricsB);
  assert.ok(count(metricsB, 'istio_tcp_connections_opened_total', { reporter: 'destination', source_workload: 'unknown', source_cluster: 'neta', destination_workload: 'echo', destination_cluster: 'netb' }) >= 1, 'the ClusterIP connection through the gateway');
});
