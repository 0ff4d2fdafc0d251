/**
 * The verbs: get, list, watch, create, update, patch, delete, deletecollection, each
 * reading query parameters the way the API server does and answering with objects,
 * lists, Tables or Status bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeObject } from '../../kube/object.js';
import type { ObjectService, PatchType, WriteOptions } from './objects.js';
import { PATCH_CONTENT_TYPES } from './objects.js';
import { apiVersionOf, storageKey, type ResourceType } from './registry.js';
import type { ResourceRoute } from './routes.js';
import { ApiError, badRequest, methodNotAllowed, unsupportedMediaType, gone } from './status.js';
import { labelSelectorFromObject, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.js';
import { toTable } from './table.js';
import { serveWatch } from './watch.js';
import { deleteQuery, listQuery, queryIncludeObject, queryString, writeQuery, type WriteVerb } from './query.js';

export interface Reply {
  status: number;
  body: unknown;
  warnings?: string[];
}

export interface RequestContext {
  route: ResourceRoute;
  query: URLSearchParams;
  accept: string;
  contentType: string;
  body: string;
  userAgent: string;
  req: IncomingMessage;
  res: ServerResponse;
}

export async function handleResource(service: ObjectService, context: RequestContext): Promise<Reply | undefined> {
  const { route } = context;
  if (route.subresource && !['status', 'scale'].includes(route.subresource)) {
    throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${route.subresource})`);
  }
  if (route.type.namespaced && route.namespace === undefined && !['list', 'watch', 'create'].includes(route.verb)) {
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  }
  switch (route.verb) {
    case 'get':
      return getOne(service, context);
    case 'list':
      return list(service, context);
    case 'watch':
      await watch(service, context);
      return undefined;
    case 'create':
      return create(service, context);
    case 'update':
      return update(service, context);
    case 'patch':
      return patch(service, context);
    case 'delete':
      return remove(service, context);
    case 'deletecollection':
      return removeCollection(service, context);
  }
}

function wantsTable(accept: string): boolean {
  return /as=Table/.test(accept);
}

function includeObject(query: URLSearchParams): 'None' | 'Metadata' | 'Object' {
  return queryIncludeObject(query);
}

function atVersion(object: KubeObject, type: ResourceType, version: string): KubeObject {
  const apiVersion = apiVersionOf(type.group, version);
  return object.apiVersion === apiVersion ? object : { ...object, apiVersion };
}

function getOne(service: ObjectService, { route, accept, query }: RequestContext): Reply {
  const object = atVersion(service.get(route.type, route.namespace, route.name!), route.type, route.version);
  if (route.subresource === 'scale') return { status: 200, body: toScale(object) };
  if (wantsTable(accept)) {
    return { status: 200, body: toTable(route.type, route.version, [object], { includeObject: includeObject(query), resourceVersion: String(object.metadata.resourceVersion), now: Date.now() }) };
  }
  return { status: 200, body: object };
}

interface ContinueToken {
  rv: number;
  start: string;
}

function selectorMatcher(query: URLSearchParams): (object: KubeObject) => boolean {
  const labelText = queryString(query, 'labelSelector');
  const fieldText = queryString(query, 'fieldSelector');
  const labels = labelText ? parseLabelSelector(labelText) : [];
  const fields = fieldText ? parseFieldSelector(fieldText) : [];
  if (labels.length === 0 && fields.length === 0) return () => true;
  return (object) => matchesLabels(labels, object.metadata.labels) && matchesFields(fields, object as Record<string, unknown>);
}

function matchingObjects(service: ObjectService, route: ResourceRoute, query: URLSearchParams): KubeObject[] {
  const matches = selectorMatcher(query);
  const objects = service.store.list(storageKey(route.type.group, route.type.plural), route.namespace).filter(matches);
  const id = (object: KubeObject) => `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
  return objects.sort((a, b) => (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
}

function list(service: ObjectService, { route, query, accept }: RequestContext): Reply {
  const options = listQuery(query);
  let objects = matchingObjects(service, route, query);
  let resourceVersion = service.store.resourceVersion;
  const token = options.continue;
  if (token) {
    let parsed: ContinueToken;
    try {
      parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as ContinueToken;
    } catch {
      throw badRequest('continue key is not valid');
    }
    if (parsed.rv < service.store.oldestResumable) throw gone('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
    resourceVersion = parsed.rv;
    const id = (object: KubeObject) => `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    objects = objects.filter((object) => id(object) > parsed.start);
  }
  const limit = options.limit;
  let continueToken: string | undefined;
  let remainingItemCount: number | undefined;
  if (limit > 0 && objects.length > limit) {
    remainingItemCount = objects.length - limit;
    objects = objects.slice(0, limit);
    const last = objects[objects.length - 1]!;
    continueToken = Buffer.from(JSON.stringify({ rv: resourceVersion, start: `${last.metadata.namespace ?? ''}/${last.metadata.name}` })).toString('base64url');
  }
  const items = objects.map((object) => atVersion(object, route.type, route.version));
  if (wantsTable(accept)) {
    return {
      status: 200,
      body: toTable(route.type, route.version, items, {
        includeObject: includeObject(query), resourceVersion: String(resourceVersion), now: Date.now(),
        ...(continueToken ? { continueToken } : {}), ...(remainingItemCount !== undefined ? { remainingItemCount } : {}),
      }),
    };
  }
  return {
    status: 200,
    body: {
      kind: route.type.listKind,
      apiVersion: apiVersionOf(route.type.group, route.version),
      metadata: { resourceVersion: String(resourceVersion), ...(continueToken ? { continue: continueToken, remainingItemCount } : {}) },
      items,
    },
  };
}

async function watch(service: ObjectService, { route, query, accept, res }: RequestContext): Promise<void> {
  const options = listQuery(query);
  const matches = selectorMatcher(query);
  const table = wantsTable(accept);
  const version = route.version;
  const needsRewrite = route.type.versions.length > 1;
  const render = table
    ? (object: KubeObject) => toTable(route.type, version, [atVersion(object, route.type, version)], { includeObject: includeObject(query), resourceVersion: String(object.metadata.resourceVersion), now: Date.now() })
    : needsRewrite ? (object: KubeObject) => atVersion(object, route.type, version) : undefined;
  await serveWatch(service.store, res, {
    resource: storageKey(route.type.group, route.type.plural),
    namespace: route.namespace,
    matches,
  }, {
    resourceVersion: options.resourceVersion,
    timeoutSeconds: options.timeoutSeconds || undefined,
    ...(render ? { render } : {}),
    sendInitialEvents: options.sendInitialEvents === true,
    allowBookmarks: options.allowWatchBookmarks,
  }, () => matchingObjects(service, route, query));
}

function parseBody(body: string, contentType: string): unknown {
  // Protobuf bodies were decoded to JSON by the server (protobuf/decode.ts); YAML bodies are not accepted.
  if (contentType.includes('yaml') || contentType.includes('protobuf')) throw unsupportedMediaType(contentType);
  try {
    return JSON.parse(body);
  } catch {
    throw badRequest('the request body is not valid JSON');
  }
}

export function writeOptions(query: URLSearchParams, userAgent: string, verb: WriteVerb = 'update', apply = false): WriteOptions {
  const options = writeQuery(query, verb, apply);
  return {
    fieldManager: options.fieldManager ?? defaultManager(userAgent),
    fieldValidation: options.fieldValidation ?? 'Warn',
    dryRun: options.dryRun,
    force: options.force,
  };
}

/** The API server names an unnamed manager after the client's user agent up to the first '/'. */
function defaultManager(userAgent: string): string {
  return (userAgent.split('/')[0] || 'unknown').slice(0, 128);
}

function create(service: ObjectService, context: RequestContext): Reply {
  const { route } = context;
  if (route.name) throw methodNotAllowed('POST is not allowed on a named object');
  const result = service.create(route.type, route.version, route.namespace, parseBody(context.body, context.contentType), writeOptions(context.query, context.userAgent, 'create'));
  return { status: 201, body: result.object, warnings: result.warnings };
}

function update(service: ObjectService, context: RequestContext): Reply {
  const { route } = context;
  if (route.subresource === 'scale') return scaleUpdate(service, context, parseBody(context.body, context.contentType));
  const options = { ...writeOptions(context.query, context.userAgent), ...(route.subresource === 'status' ? { subresource: 'status' as const } : {}) };
  const result = service.update(route.type, route.version, route.namespace, route.name!, parseBody(context.body, context.contentType), options);
  return { status: 200, body: result.object, warnings: result.warnings };
}

function patch(service: ObjectService, context: RequestContext): Reply {
  const { route } = context;
  const mediaType = context.contentType.split(';')[0]!.trim();
  const patchType: PatchType | undefined = PATCH_CONTENT_TYPES[mediaType];
  if (!patchType) throw unsupportedMediaType(mediaType);
  if (route.subresource === 'scale') {
    const current = toScale(service.get(route.type, route.namespace, route.name!));
    const patched = patchType === 'merge' || patchType === 'strategic' ? { ...current, spec: { ...current.spec, ...((JSON.parse(context.body) as { spec?: object }).spec ?? {}) } } : current;
    return scaleUpdate(service, context, patched);
  }
  const options = { ...writeOptions(context.query, context.userAgent, 'patch', patchType === 'apply'), ...(route.subresource === 'status' ? { subresource: 'status' as const } : {}) };
  const result = service.patch(route.type, route.version, route.namespace, route.name!, patchType, context.body, options);
  return { status: result.created ? 201 : 200, body: result.object, warnings: result.warnings };
}

function remove(service: ObjectService, context: RequestContext): Reply {
  const { route, query } = context;
  const options = deleteQuery(query, context.body.trim() ? (parseBody(context.body, 'application/json') as Parameters<typeof deleteQuery>[1]) : undefined);
  const propagation = options.propagationPolicy ?? 'Background';
  const deleted = service.delete(route.type, route.namespace, route.name!, {
    ...(options.preconditions.uid ? { uid: options.preconditions.uid } : {}),
    ...(options.preconditions.resourceVersion ? { resourceVersion: options.preconditions.resourceVersion } : {}),
    dryRun: options.dryRun,
    propagationPolicy: propagation,
    ...(options.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: options.gracePeriodSeconds } : {}),
  });
  return { status: 200, body: deleted };
}

function removeCollection(service: ObjectService, context: RequestContext): Reply {
  const { route, query } = context;
  // DeleteCollection reads ListOptions (which objects) and DeleteOptions (how), as the API server does.
  listQuery(query);
  const options = deleteQuery(query, context.body.trim() ? (parseBody(context.body, 'application/json') as Parameters<typeof deleteQuery>[1]) : undefined);
  for (const object of matchingObjects(service, route, query)) {
    try {
      service.delete(route.type, object.metadata.namespace, object.metadata.name, { dryRun: options.dryRun });
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 404)) throw error;
    }
  }
  return { status: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' } };
}

function toScale(object: KubeObject): { kind: string; apiVersion: string; metadata: Record<string, unknown>; spec: { replicas: number }; status: Record<string, unknown> } {
  const spec = object.spec as { replicas?: number; selector?: { matchLabels?: Record<string, string> } } | undefined;
  const status = object.status as { replicas?: number } | undefined;
  const selector = labelSelectorFromObject(spec?.selector).map((r) => ('values' in r ? `${r.key}=${r.values[0]}` : r.key)).join(',');
  return {
    kind: 'Scale', apiVersion: 'autoscaling/v1',
    metadata: { name: object.metadata.name, namespace: object.metadata.namespace, uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion, creationTimestamp: object.metadata.creationTimestamp },
    spec: { replicas: spec?.replicas ?? 0 },
    status: { replicas: status?.replicas ?? 0, selector },
  };
}

function scaleUpdate(service: ObjectService, { route, query, userAgent }: RequestContext, body: unknown): Reply {
  const replicas = (body as { spec?: { replicas?: unknown } }).spec?.replicas;
  if (typeof replicas !== 'number' || replicas < 0) throw badRequest('spec.replicas must be a non-negative number');
  const current = structuredClone(service.get(route.type, route.namespace, route.name!));
  (current.spec as { replicas: number }).replicas = replicas;
  const result = service.update(route.type, route.version, route.namespace, route.name!, current, writeOptions(query, userAgent));
  return { status: 200, body: toScale(result.object) };
}

export function matchesSelectorObject(selector: unknown, labels: Record<string, string> | undefined): boolean {
  return matchesLabels(labelSelectorFromObject(selector as Parameters<typeof labelSelectorFromObject>[0]), labels);
}
