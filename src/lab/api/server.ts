/**
 * The HTTPS front of one lab cluster: bearer-token authentication, API faults, discovery
 * and OpenAPI documents, the admin endpoint for faults, and dispatch to the verb handlers.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ObjectService } from './objects.js';
import { parseRoute } from './routes.js';
import { handleResource } from './handlers.js';
import { ApiError } from './status.js';
import { KUBERNETES_VERSION, aggregatedDiscovery, apiGroup, apiGroupList, apiResourceList, apiVersions, openApiGroupVersion, openApiRoot } from './discovery.js';
import { decideFault, validateFaults, type ApiFaults } from './faults.js';
import { decodeProtobufBody, isProtobuf } from './protobuf/decode.js';
import { log } from '../../util/log.js';
import { LabUsers, LAB_ADMIN_USER, isValidLabUsername, type LabUserInfo } from './users.js';
import { openApiV2Server, writeOpenApiV2 } from './openapi-v2.js';
import { wantsPretty } from './query.js';
import { isPodLogRoute, servePodLog, type RunningPodLookup } from './pod-log.js';

export interface ApiServerOptions {
  service: ObjectService;
  token: string;
  certPem: string;
  keyPem: string;
  port?: number;
  host?: string;
  random?: () => number;
  /** Who each token is (default: only the administrator's `token`). */
  users?: LabUsers;
  /** The pod runtime's running pods, for `pods/log`; without it pods are simulated and have no logs. */
  pods?: RunningPodLookup;
}

export interface ApiServer {
  url: string;
  port: number;
  faults: ApiFaults;
  setFaults(faults: ApiFaults): void;
  /** Mints a bearer token for a named user (SelfSubjectReview reports that name). */
  mintUserToken(username: string, groups?: string[]): string;
  close(): Promise<void>;
}

export const ADMIN_FAULTS_PATH = '/lab.ferry.dev/v1/faults';
/** POST `{"username": "alice", "groups": []}` as the administrator → `{"username", "token"}`. */
export const ADMIN_USERS_PATH = '/lab.ferry.dev/v1/users';

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { service } = options;
  const random = options.random ?? Math.random;
  let faults: ApiFaults = {};
  let openApiHash = 0;
  service.store.subscribe((event) => {
    if (event.resource === 'apiextensions.k8s.io/customresourcedefinitions') openApiHash++;
  });
  const users = options.users ?? new LabUsers(options.token);
  const openApiV2 = openApiV2Server(service.registry);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'https://lab');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/healthz' || path === '/livez' || path === '/readyz') return sendText(res, 200, 'ok');
    const user = users.authenticate(req.headers.authorization);
    if (!user) return sendJson(res, 401, new ApiError(401, 'Unauthorized', 'Unauthorized').toStatus());
    const raw = await readBody(req);
    // Answered before the protobuf decoding: the request's body carries nothing the answer needs.
    if (SELF_SUBJECT_REVIEWS.test(path) && req.method === 'POST') return sendJson(res, 201, selfSubjectReview(path, user));
    if (path === ADMIN_USERS_PATH && req.method === 'POST') return sendJson(res, 201, mintUser(users, user, raw.toString('utf8')));
    let contentType = String(req.headers['content-type'] ?? 'application/json');
    let body: string;
    if (isProtobuf(contentType) && raw.length > 0 && (req.method === 'POST' || req.method === 'PUT' || req.method === 'DELETE')) {
      // kubectl's typed clients send protobuf; decode it into the JSON the same request would carry.
      body = JSON.stringify(decodeProtobufBody(raw));
      contentType = 'application/json';
    } else body = raw.toString('utf8');
    if (path === SELF_SUBJECT_ACCESS_REVIEWS && req.method === 'POST') return sendJson(res, 201, selfSubjectAccessReview(body));
    if (path === ADMIN_FAULTS_PATH) {
      if (req.method === 'PUT' || req.method === 'POST') {
        try {
          faults = validateFaults(JSON.parse(body || '{}'));
        } catch (error) {
          return sendJson(res, 400, new ApiError(400, 'BadRequest', (error as Error).message).toStatus());
        }
      } else if (req.method === 'DELETE') faults = {};
      return sendJson(res, 200, faults);
    }
    const route = parseRoute(req.method ?? 'GET', path, url.searchParams, service.registry);
    if (route.kind === 'resource') {
      const decision = decideFault(faults, { verb: route.route.verb, resource: route.route.type.plural }, random);
      if (decision.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, decision.delayMs));
      if (decision.fail) return sendJson(res, decision.fail.code, new ApiError(decision.fail.code, decision.fail.reason, decision.fail.message, { retryAfterSeconds: 1 }).toStatus());
      if (isPodLogRoute(route.route)) return await servePodLog(service, options.pods, route.route, url.searchParams, res);
      const reply = await handleResource(service, {
        route: route.route, query: url.searchParams, accept: String(req.headers.accept ?? ''), contentType,
        body, userAgent: String(req.headers['user-agent'] ?? ''), req, res,
      });
      if (reply) sendJson(res, reply.status, reply.body, reply.warnings, undefined, wantsPretty(url.searchParams));
      return;
    }
    const decision = decideFault(faults, { verb: 'get', resource: undefined }, random);
    if (decision.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, decision.delayMs));
    if (decision.fail) return sendJson(res, decision.fail.code, new ApiError(decision.fail.code, decision.fail.reason, decision.fail.message).toStatus());
    if (req.method !== 'GET') throw new ApiError(405, 'MethodNotAllowed', `${req.method} is not allowed on ${path}`);
    if (route.kind === 'discovery') return serveDiscovery(res, route, String(req.headers.accept ?? ''));
    if (route.kind === 'unknown-resource') throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (path === '/version') return sendJson(res, 200, KUBERNETES_VERSION);
    if (path === '/openapi/v2') return writeOpenApiV2(res, openApiV2(String(req.headers.accept ?? ''), String(openApiHash)));
    if (path === '/openapi/v3') return sendJson(res, 200, openApiRoot(service.registry, String(openApiHash)));
    const openapi = /^\/openapi\/v3\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
    if (openapi) {
      const document = openApiGroupVersion(service.registry, openapi[2] ?? '', openapi[1] ?? openapi[3]!);
      if (document) return sendJson(res, 200, document);
    }
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  };

  const serveDiscovery = (res: ServerResponse, route: { group: string | undefined; version: string | undefined; core: boolean }, accept: string) => {
    const registry = service.registry;
    if (route.group === undefined) {
      const aggregated = aggregatedVersion(accept);
      if (aggregated) {
        return sendJson(res, 200, aggregatedDiscovery(registry, route.core, `apidiscovery.k8s.io/${aggregated}`), undefined,
          `application/json;g=apidiscovery.k8s.io;v=${aggregated};as=APIGroupDiscoveryList`);
      }
      return sendJson(res, 200, route.core ? apiVersions() : apiGroupList(registry));
    }
    const document = route.version === undefined ? apiGroup(registry, route.group) : apiResourceList(registry, route.group, route.version);
    if (!document) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    return sendJson(res, 200, document);
  };

  const server: Server = createServer({ cert: options.certPem, key: options.keyPem }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.end();
        return;
      }
      if (error instanceof ApiError) return sendJson(res, error.code, error.toStatus());
      log.error({ err: error, url: req.url }, 'lab api server: internal error');
      sendJson(res, 500, new ApiError(500, 'InternalError', `Internal error occurred: ${(error as Error).message}`).toStatus());
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    get faults() {
      return faults;
    },
    setFaults(next: ApiFaults) {
      faults = validateFaults(next);
    },
    mintUserToken: (username, groups) => users.mint(username, groups),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function aggregatedVersion(accept: string): string | undefined {
  for (const entry of accept.split(',')) {
    const params = entry.split(';').map((part) => part.trim());
    if (!params.includes('as=APIGroupDiscoveryList') || !params.includes('g=apidiscovery.k8s.io')) continue;
    if (params.includes('v=v2')) return 'v2';
    if (params.includes('v=v2beta1')) return 'v2beta1';
  }
  return undefined;
}

const SELF_SUBJECT_ACCESS_REVIEWS = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';
const SELF_SUBJECT_REVIEWS = /^\/apis\/authentication\.k8s\.io\/(v1|v1beta1|v1alpha1)\/selfsubjectreviews$/;

/** `kubectl auth whoami` and Ferry's approvals: the user the request's token belongs to. */
function selfSubjectReview(path: string, user: LabUserInfo): Record<string, unknown> {
  const version = SELF_SUBJECT_REVIEWS.exec(path)![1];
  return {
    kind: 'SelfSubjectReview', apiVersion: `authentication.k8s.io/${version}`,
    metadata: { creationTimestamp: null },
    status: { userInfo: { username: user.username, uid: user.uid, groups: user.groups } },
  };
}

/** The lab's stand-in for a static token file: only the administrator mints tokens. */
function mintUser(users: LabUsers, caller: LabUserInfo, body: string): { username: string; token: string } {
  if (caller.username !== LAB_ADMIN_USER) throw new ApiError(403, 'Forbidden', `user "${caller.username}" cannot mint lab tokens: only ${LAB_ADMIN_USER} can`);
  let request: { username?: unknown; groups?: unknown };
  try {
    request = JSON.parse(body || '{}') as typeof request;
  } catch {
    throw new ApiError(400, 'BadRequest', 'the request body is not valid JSON');
  }
  if (!isValidLabUsername(request.username)) throw new ApiError(400, 'BadRequest', 'username must be a non-empty name without spaces or commas');
  const groups = Array.isArray(request.groups) && request.groups.every(isValidLabUsername) ? request.groups : [];
  return { username: request.username, token: users.mint(request.username, groups) };
}

/**
 * `kubectl auth can-i`: the lab has one user, the administrator holding its token (anything
 * else was refused with 401 above), so every request it asks about is allowed.
 */
function selfSubjectAccessReview(body: string): Record<string, unknown> {
  let review: { spec?: unknown; metadata?: unknown };
  try {
    review = JSON.parse(body || '{}') as typeof review;
  } catch {
    throw new ApiError(400, 'BadRequest', 'the request body is not valid JSON');
  }
  return {
    kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1',
    metadata: { creationTimestamp: null }, spec: review.spec ?? {},
    status: { allowed: true, reason: 'the lab has a single administrator user: its token may do anything' },
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, warnings?: string[], contentType = 'application/json', pretty = false): void {
  const text = pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body);
  const headers: Record<string, string | string[]> = { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'no-cache, private' };
  if (warnings && warnings.length > 0) headers.Warning = warnings.map((warning) => `299 - ${JSON.stringify(warning)}`);
  res.writeHead(status, headers);
  res.end(text);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain' });
  res.end(text);
}
