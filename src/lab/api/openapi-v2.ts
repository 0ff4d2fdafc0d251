/**
 * /openapi/v2: the Swagger 2.0 document kubectl 1.27 and 1.28 fetch before every
 * client-side `apply` (and later versions fetch to compute strategic merge patches).
 * Their discovery client asks only for the gnostic protobuf form
 * (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`) and unmarshals whatever
 * comes back as protobuf: there is no JSON fallback, so we encode it (openapi-v2-proto.ts).
 *
 * Built from the same registry as /openapi/v3 (discovery.ts):
 * - paths: every served resource, each operation with `x-kubernetes-action`,
 *   `x-kubernetes-group-version-kind` and the query parameters kubectl's
 *   QueryParamVerifier looks for (`fieldValidation` tells it the server validates, so it
 *   skips client-side validation, as against a real 1.27+ server);
 * - definitions: one per custom resource version, from the CRD's openAPIV3Schema, tagged
 *   with `x-kubernetes-group-version-kind` so kubectl finds the kind's schema
 *   (`kubectl explain` on v2 reads it).
 * Built-in kinds get no definition: we do not ship the upstream schemas, and a partial one
 * would make kubectl compute strategic merge patches from it instead of from its compiled-in
 * types (with the real patch strategies and merge keys), which is what it does when
 * a definition is absent.
 */
import type { ServerResponse } from 'node:http';
import { KUBERNETES_VERSION } from './discovery.js';
import type { ResourceRegistry, ResourceType } from './registry.js';
import { encodeOpenApiV2 } from './openapi-v2-proto.js';

export type V2Schema = Record<string, unknown>;

export interface V2Operation {
  operationId: string;
  consumes: string[];
  produces: string[];
  parameters: Array<{ name: string; in: 'query'; type: string; uniqueItems: boolean }>;
  responses: Record<string, { description: string }>;
  'x-kubernetes-action': string;
  'x-kubernetes-group-version-kind': { group: string; version: string; kind: string };
}

export interface V2Document {
  swagger: '2.0';
  info: { title: string; version: string };
  paths: Record<string, Partial<Record<'get' | 'put' | 'post' | 'delete' | 'patch', V2Operation>>>;
  definitions: Record<string, V2Schema>;
}

const QUERY_PARAMETERS = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty'];
const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
// Custom resources take no strategic merge patch; kubectl reads this list to choose JSON merge patch for them.
const CUSTOM_PATCH_TYPES = PATCH_TYPES.filter((type) => !type.includes('strategic'));

/** The document as JSON (what a client asking for application/json gets). */
export function openApiV2Document(registry: ResourceRegistry): V2Document {
  const paths: V2Document['paths'] = {};
  const definitions: V2Document['definitions'] = {};
  const types = [...registry.all()].sort((a, b) => `${a.group}/${a.plural}`.localeCompare(`${b.group}/${b.plural}`));
  for (const type of types) {
    for (const version of type.versions) {
      addPaths(paths, type, version);
      if (type.custom) definitions[definitionName(type, version)] = customDefinition(type, version);
    }
  }
  return { swagger: '2.0', info: { title: 'Kubernetes', version: KUBERNETES_VERSION.gitVersion }, paths, definitions };
}

function addPaths(paths: V2Document['paths'], type: ResourceType, version: string): void {
  const gvk = { group: type.group, version, kind: type.kind };
  const prefix = type.group ? `/apis/${type.group}/${version}` : `/api/${version}`;
  const scope = type.namespaced ? `${prefix}/namespaces/{namespace}` : prefix;
  const patchTypes = type.custom ? CUSTOM_PATCH_TYPES : PATCH_TYPES;
  const operation = (action: string, id: string, consumes = ['*/*']): V2Operation => ({
    operationId: `${id}${type.kind}`,
    consumes,
    produces: ['application/json', 'application/yaml'],
    parameters: QUERY_PARAMETERS.map((name) => ({ name, in: 'query', type: name === 'force' ? 'boolean' : 'string', uniqueItems: true })),
    responses: { '200': { description: 'OK' }, '401': { description: 'Unauthorized' } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
  });
  paths[`${scope}/${type.plural}/{name}`] = {
    get: operation('get', 'read'),
    put: operation('put', 'replace'),
    patch: operation('patch', 'patch', patchTypes),
    delete: operation('delete', 'delete'),
  };
  paths[`${scope}/${type.plural}`] = {
    get: operation('list', 'list'),
    post: operation('post', 'create'),
    delete: operation('deletecollection', 'deleteCollection'),
  };
  if (type.status) {
    paths[`${scope}/${type.plural}/{name}/status`] = {
      get: operation('get', 'read', ['*/*']),
      put: operation('put', 'replace', ['*/*']),
      patch: operation('patch', 'patch', patchTypes),
    };
  }
}

/** Kubernetes names CRD definitions by the reversed group, the version and the kind: com.example.stable.v1.CronTab. */
export function definitionName(type: ResourceType, version: string): string {
  return [...type.group.split('.').reverse(), version, type.kind].join('.');
}

function customDefinition(type: ResourceType, version: string): V2Schema {
  const gvk = [{ group: type.group, version, kind: type.kind }];
  const schema = type.custom?.schemas[version];
  if (!schema || typeof schema !== 'object') {
    return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, 'x-kubernetes-group-version-kind': gvk };
  }
  const converted = toV2Schema(schema as V2Schema);
  const properties = (converted.properties ?? {}) as Record<string, V2Schema>;
  return {
    ...converted,
    type: 'object',
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      ...properties,
    },
    'x-kubernetes-group-version-kind': gvk,
  };
}

const PRIMITIVES = new Set(['string', 'integer', 'number', 'boolean', 'object', 'array']);
const KEPT = ['format', 'title', 'description', 'default', 'enum', 'maximum', 'minimum', 'exclusiveMaximum', 'exclusiveMinimum', 'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems', 'maxProperties', 'minProperties', 'multipleOf', 'required'];

/**
 * OpenAPI v3 (a CRD's structural schema) → Swagger 2.0, the way the API server publishes
 * CRDs in v2: `nullable`, `anyOf`/`oneOf`/`not` have no v2 form and are dropped; an
 * int-or-string has no type. kubectl refuses the whole document when one array lacks
 * `items` or a type is not a v2 type, so those are repaired rather than copied.
 */
export function toV2Schema(node: V2Schema): V2Schema {
  const out: V2Schema = {};
  const type = typeof node.type === 'string' && PRIMITIVES.has(node.type) && node['x-kubernetes-int-or-string'] !== true ? node.type : undefined;
  if (type) out.type = type;
  for (const key of KEPT) if (node[key] !== undefined) out[key] = node[key];
  if (node.properties && typeof node.properties === 'object') {
    out.properties = Object.fromEntries(Object.entries(node.properties as Record<string, V2Schema>).map(([name, child]) => [name, toV2Schema(child ?? {})]));
  }
  if (typeof node.additionalProperties === 'boolean') out.additionalProperties = node.additionalProperties;
  else if (node.additionalProperties && typeof node.additionalProperties === 'object') out.additionalProperties = toV2Schema(node.additionalProperties as V2Schema);
  if (type === 'array') out.items = node.items && typeof node.items === 'object' && !Array.isArray(node.items) ? toV2Schema(node.items as V2Schema) : {};
  for (const [key, value] of Object.entries(node)) if (key.startsWith('x-') && value !== undefined) out[key] = value;
  return out;
}

/** What kubectl asks for first; the real server answers it with this content type. */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
const OPENAPI_V2_PROTOBUF_REPLY = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

export interface OpenApiV2Reply {
  contentType: string;
  body: Buffer;
  etag: string;
}

/**
 * Serves /openapi/v2 in the form the Accept header asks for (protobuf for kubectl, JSON
 * otherwise), rebuilt only when `generation` changes (the server bumps it on CRD writes).
 */
export function openApiV2Server(registry: ResourceRegistry): (accept: string, generation: string) => OpenApiV2Reply {
  let cached: { generation: string; json?: OpenApiV2Reply; protobuf?: OpenApiV2Reply; document: V2Document } | undefined;
  return (accept, generation) => {
    if (cached?.generation !== generation) cached = { generation, document: openApiV2Document(registry) };
    const etag = `"ferry-lab-${generation}"`;
    if (accept.includes('protobuf')) {
      cached.protobuf ??= { contentType: OPENAPI_V2_PROTOBUF_REPLY, body: Buffer.from(encodeOpenApiV2(cached.document)), etag };
      return cached.protobuf;
    }
    cached.json ??= { contentType: 'application/json', body: Buffer.from(JSON.stringify(cached.document)), etag };
    return cached.json;
  };
}

export function writeOpenApiV2(res: ServerResponse, reply: OpenApiV2Reply): void {
  res.writeHead(200, { 'Content-Type': reply.contentType, 'Content-Length': String(reply.body.length), ETag: reply.etag, 'Cache-Control': 'no-cache, private' });
  res.end(reply.body);
}
