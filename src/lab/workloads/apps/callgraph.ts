/**
 * `ferry.dev/callgraph`: a service that, on each request, calls every URL in `CALLS`
 * (comma-separated) or `CALLS_FILE` (one a line) in parallel and answers
 * `{service, cluster, version, pod, namespace, protocol, calls: [<the callees' answers>]}`;
 * a failed call makes it answer 502 (gRPC: UNAVAILABLE) naming the failing hop. Topologies
 * (Online Boutique's shape, src/lab/workloads/topologies.ts) are built from it.
 *
 * One port serves both protocols, told apart by the HTTP/2 preface (serve.ts): HTTP/1.1 for
 * the call, /healthz, /readyz, /metrics and the fault admin path; gRPC for
 * `/ferry.callgraph.CallGraph/Call` (JSON messages) and grpc.health.v1. `PROTOCOL=grpc` makes
 * it call its callees over gRPC (a `grpc://` URL always is). Calls honour the pod's proxy
 * variables: undici's EnvHttpProxyAgent (HTTP_PROXY/NO_PROXY, absolute-form so the proxy sees
 * HTTP) and grpc-js (grpc_proxy/http_proxy, by CONNECT).
 */
import { readFileSync, statSync } from 'node:fs';
import { Metadata, Server, ServerCredentials, status as GrpcStatus, type ServerUnaryCall, type sendUnaryData, type ServiceError } from '@grpc/grpc-js';
import { Counter, Histogram, Registry } from 'prom-client';
import { EnvHttpProxyAgent, request as httpRequest } from 'undici';
import { CALLGRAPH_GRPC_DEFINITION, HEALTH_GRPC_DEFINITION, callGraphGrpcClient, type CallGraphGrpcClient, type CallGraphMessage } from '../callgraph-grpc.js';
import { sendJson, serveApp, type AppControls } from './serve.js';

type Protocol = 'http' | 'grpc';

const PROTOCOL: Protocol = process.env.PROTOCOL === 'grpc' ? 'grpc' : 'http';
const CALL_TIMEOUT_MS = positive(process.env.CALL_TIMEOUT_MS, 5000);
/** A cycle in CALLS would otherwise recurse until every pod's sockets are spent. */
const MAX_DEPTH = positive(process.env.MAX_CALL_DEPTH, 16);
const DEPTH_HEADER = 'x-callgraph-depth';
const FAILED_HOP_KEY = 'x-callgraph-failed-hop';
const CHAIN_KEY = 'x-callgraph-chain';

const identity = {
  service: process.env.SERVICE_NAME || serviceFromPod(process.env.FERRY_POD ?? process.env.HOSTNAME ?? '') || process.env.FERRY_APP || 'callgraph',
  cluster: process.env.FERRY_CLUSTER ?? '',
  version: process.env.VERSION ?? process.env.FERRY_VERSION ?? 'latest',
  pod: process.env.FERRY_POD ?? process.env.HOSTNAME ?? '',
  namespace: process.env.FERRY_NAMESPACE ?? '',
};

function positive(value: string | undefined, fallback: number): number {
  const number = Number(value);
  return Number.isFinite(number) && number > 0 ? number : fallback;
}

/** `frontend-<rs hash>-<suffix>` → frontend, `redis-cart-0` → redis-cart (what the workload is called). */
function serviceFromPod(pod: string): string {
  return /^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$/.exec(pod)?.[1] ?? /^(.+)-\d+$/.exec(pod)?.[1] ?? pod;
}

interface Callee {
  /** As written in CALLS. */
  url: string;
  protocol: Protocol;
  /** http: the absolute URL; grpc: host:port. */
  target: string;
  /** The Service called, for metric labels: `cart` for cart, cart.shop, cart.shop.svc.cluster.local, cart-0.cart.shop.svc… */
  name: string;
}

function parseCallee(raw: string): Callee {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `${PROTOCOL}://${raw}`;
  const url = new URL(withScheme);
  const protocol: Protocol = url.protocol === 'grpc:' || PROTOCOL === 'grpc' ? 'grpc' : 'http';
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const target = protocol === 'grpc' ? `${url.hostname}:${port}` : url.protocol === 'grpc:' ? `http://${url.host}${url.pathname}${url.search}` : url.href;
  return { url: raw, protocol, target, name: serviceOfHost(url.hostname, port) };
}

function serviceOfHost(host: string, port: string): string {
  if (/^[\d.]+$/.test(host) || host.includes(':')) return `${host}:${port}`;
  const labels = host.split('.');
  const svcAt = labels.indexOf('svc');
  // pod.svc.ns.svc[.cluster.local]: three labels before "svc" means the first is a pod.
  if (svcAt === 3) return labels[1]!;
  return labels[0]!;
}

let fileCache: { path: string; mtimeMs: number; callees: Callee[] } | undefined;

/** Read per request (a mounted ConfigMap changes under a running pod), re-parsed only when the file changes. */
function callees(): Callee[] {
  const file = process.env.CALLS_FILE;
  if (file) {
    const mtimeMs = statSync(file).mtimeMs;
    if (fileCache?.path !== file || fileCache.mtimeMs !== mtimeMs) {
      const lines = readFileSync(file, 'utf8').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
      fileCache = { path: file, mtimeMs, callees: lines.map(parseCallee) };
    }
    return fileCache.callees;
  }
  return staticCallees;
}
const staticCallees = (process.env.CALLS ?? '').split(',').map((entry) => entry.trim()).filter(Boolean).map(parseCallee);

// --- metrics -------------------------------------------------------------------------------

const registry = new Registry();
const callsTotal = new Counter({
  name: 'callgraph_calls_total',
  help: 'Calls this service made to its callees; code is the HTTP status, the gRPC status name, or 0 when no answer came',
  labelNames: ['caller', 'callee', 'code', 'protocol'],
  registers: [registry],
});
const callSeconds = new Histogram({
  name: 'callgraph_call_duration_seconds',
  help: 'Latency of calls this service made, until the answer was read',
  labelNames: ['caller', 'callee', 'protocol'],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});
const requestsTotal = new Counter({
  name: 'callgraph_requests_total',
  help: 'Requests this service answered itself (probes, /metrics, the fault admin path and injected faults excluded)',
  labelNames: ['service', 'protocol', 'code'],
  registers: [registry],
});

// --- calling -------------------------------------------------------------------------------

type CallResult = { ok: true; answer: unknown } | { ok: false; failure: Failure };

interface Failure {
  /** The root cause, naming the failing hop, the same at every level of the chain. */
  error: string;
  /** The deepest hop known to have failed (a callee that failed downstream names its own). */
  failedHop: string;
  /** The hops from this service down to the failed one. */
  chain: string[];
}

// absolute-form (proxyTunnel: false) so the lab's service proxy sees each HTTP request, as a sidecar would.
const agent = new EnvHttpProxyAgent({ proxyTunnel: false, keepAliveTimeout: 10_000, connections: 64 });
const grpcClients = new Map<string, CallGraphGrpcClient>();

async function callHttp(callee: Callee, depth: number, requestId: string | undefined): Promise<{ code: string; result: CallResult }> {
  try {
    const response = await httpRequest(callee.target, {
      dispatcher: agent,
      headers: { [DEPTH_HEADER]: String(depth), ...(requestId ? { 'x-request-id': requestId } : {}), accept: 'application/json' },
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    const text = await response.body.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { text: text.slice(0, 200) };
    }
    const code = String(response.statusCode);
    if (response.statusCode >= 200 && response.statusCode < 300) return { code, result: { ok: true, answer: body } };
    // A callee that failed because of its own callee passes the root cause up; otherwise the callee is the failing hop.
    if (Array.isArray(body.chain) && body.chain.length > 0 && typeof body.failedHop === 'string' && typeof body.error === 'string') {
      return { code, result: { ok: false, failure: { error: body.error, failedHop: body.failedHop, chain: [callee.url, ...(body.chain as string[])] } } };
    }
    const reason = typeof body.error === 'string' ? body.error : text.slice(0, 200);
    return { code, result: { ok: false, failure: { error: `${callee.url} answered ${response.statusCode}: ${reason}`, failedHop: callee.url, chain: [callee.url] } } };
  } catch (error) {
    return { code: '0', result: { ok: false, failure: { error: `${callee.url} failed: ${describe(error)}`, failedHop: callee.url, chain: [callee.url] } } };
  }
}

function callGrpc(callee: Callee, depth: number, requestId: string | undefined): Promise<{ code: string; result: CallResult }> {
  let client = grpcClients.get(callee.target);
  if (!client) {
    client = callGraphGrpcClient(callee.target);
    grpcClients.set(callee.target, client);
  }
  const metadata = new Metadata();
  metadata.set(DEPTH_HEADER, String(depth));
  if (requestId) metadata.set('x-request-id', requestId);
  return new Promise((resolve) => {
    client.Call({}, metadata, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error: ServiceError | null, answer?: CallGraphMessage) => {
      if (!error) return resolve({ code: 'OK', result: { ok: true, answer } });
      const code = GrpcStatus[error.code] ?? String(error.code);
      const inner = error.metadata?.get(FAILED_HOP_KEY)[0];
      let chain: string[] = [];
      try {
        chain = JSON.parse(String(error.metadata?.get(CHAIN_KEY)[0] ?? '[]')) as string[];
      } catch {
        // a server that is not the call-graph app: no chain
      }
      // As over HTTP: a root cause further down is passed up; otherwise the callee is the failing hop.
      const failure: Failure = typeof inner === 'string' && chain.length > 0
        ? { error: error.details, failedHop: inner, chain: [callee.url, ...chain] }
        : { error: `${callee.url} answered ${code}: ${error.details}`, failedHop: callee.url, chain: [callee.url] };
      resolve({ code, result: { ok: false, failure } });
    });
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || error.name === 'AbortError') return `no answer within ${CALL_TIMEOUT_MS} ms`;
    const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? error.message;
  }
  return String(error);
}

/** Calls every callee in parallel; the answer, or the first failing hop in CALLS order. */
async function callAll(depth: number, requestId: string | undefined): Promise<{ calls: unknown[] } | { failure: Failure; status: number }> {
  if (depth > MAX_DEPTH) return { status: 508, failure: { error: `call depth above ${MAX_DEPTH}: CALLS form a cycle`, failedHop: identity.service, chain: [] } };
  let list: Callee[];
  try {
    list = callees();
  } catch (error) {
    return { status: 500, failure: { error: `cannot read CALLS_FILE ${process.env.CALLS_FILE}: ${describe(error)}`, failedHop: identity.service, chain: [] } };
  }
  const results = await Promise.all(list.map(async (callee) => {
    const started = performance.now();
    const { code, result } = callee.protocol === 'grpc' ? await callGrpc(callee, depth + 1, requestId) : await callHttp(callee, depth + 1, requestId);
    callsTotal.inc({ caller: identity.service, callee: callee.name, code, protocol: callee.protocol });
    callSeconds.observe({ caller: identity.service, callee: callee.name, protocol: callee.protocol }, (performance.now() - started) / 1000);
    return result;
  }));
  const failed = results.find((result) => !result.ok);
  if (failed && !failed.ok) return { status: 502, failure: failed.failure };
  return { calls: results.map((result) => (result.ok ? result.answer : undefined)) };
}

// --- serving -------------------------------------------------------------------------------

/** Set once serveApp listens; gRPC calls only arrive through it, so never read before. */
const shared: { controls?: AppControls } = {};
const grpcServer = new Server();

grpcServer.addService(CALLGRAPH_GRPC_DEFINITION, {
  Call: (call: ServerUnaryCall<CallGraphMessage, CallGraphMessage>, callback: sendUnaryData<CallGraphMessage>) => {
    void (async () => {
      const fail = (code: GrpcStatus, failure: Failure) => {
        requestsTotal.inc({ service: identity.service, protocol: 'grpc', code: GrpcStatus[code] });
        const trailers = new Metadata();
        // Only a failure further down names a hop; this service's own failure is named by its caller.
        if (failure.chain.length > 0) {
          trailers.set(FAILED_HOP_KEY, failure.failedHop);
          trailers.set(CHAIN_KEY, JSON.stringify(failure.chain));
        }
        callback({ code, details: failure.chain.length > 0 ? failure.error : `${identity.service}: ${failure.error}`, metadata: trailers });
      };
      if ((await shared.controls?.trafficFault()) !== undefined) return fail(GrpcStatus.UNAVAILABLE, { error: 'injected fault', failedHop: identity.service, chain: [] });
      const depth = Number(call.metadata.get(DEPTH_HEADER)[0] ?? 0) || 0;
      const requestId = call.metadata.get('x-request-id')[0];
      const outcome = await callAll(depth, typeof requestId === 'string' ? requestId : undefined);
      if ('failure' in outcome) return fail(GrpcStatus.UNAVAILABLE, outcome.failure);
      requestsTotal.inc({ service: identity.service, protocol: 'grpc', code: 'OK' });
      callback(null, { ...identity, protocol: 'grpc', calls: outcome.calls });
    })().catch((error: unknown) => callback({ code: GrpcStatus.INTERNAL, details: describe(error) }));
  },
});
grpcServer.addService(HEALTH_GRPC_DEFINITION, {
  Check: (call: ServerUnaryCall<unknown, { status: number }>, callback: sendUnaryData<{ status: number }>) => {
    const kind = call.metadata.get('x-ferry-probe')[0] === 'readiness' ? 'readiness' : 'liveness';
    void (shared.controls?.healthy(kind) ?? Promise.resolve(true)).then((ok) => callback(null, { status: ok ? 1 : 2 }));
  },
});
const injector = grpcServer.createConnectionInjector(ServerCredentials.createInsecure());

shared.controls = await serveApp({
  exemptPaths: ['/metrics'],
  http2: (connection) => injector.injectConnection(connection),
  async handle(request, response) {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      const text = await registry.metrics();
      response.writeHead(200, { 'content-type': registry.contentType });
      response.end(text);
      return;
    }
    const depth = Number(request.headers[DEPTH_HEADER] ?? 0) || 0;
    const requestId = request.headers['x-request-id'];
    const outcome = await callAll(depth, typeof requestId === 'string' ? requestId : undefined);
    if ('failure' in outcome) {
      requestsTotal.inc({ service: identity.service, protocol: 'http', code: String(outcome.status) });
      return sendJson(response, outcome.status, { ...identity, protocol: 'http', ...outcome.failure });
    }
    requestsTotal.inc({ service: identity.service, protocol: 'http', code: '200' });
    sendJson(response, 200, { ...identity, protocol: 'http', calls: outcome.calls });
  },
  async shutdown() {
    injector.destroy();
    for (const client of grpcClients.values()) client.close();
    await agent.close();
  },
});
