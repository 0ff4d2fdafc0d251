/**
 * API discovery: the legacy documents (/api, /apis, /api/v1, /apis/<g>/<v>), the
 * aggregated discovery kubectl ≥ 1.30 asks for first (apidiscovery.k8s.io/v2, with a
 * fallback to legacy when the response is plain JSON), and the small OpenAPI v3 surface
 * kubectl reads to learn that the server validates fields itself (`fieldValidation`),
 * which lets `kubectl apply` skip client-side schema validation.
 * https://kubernetes.io/docs/concepts/overview/kubernetes-api/#aggregated-discovery
 */
import { ALL_VERBS, apiVersionOf, type ResourceRegistry, type ResourceType } from './registry.js';

export const KUBERNETES_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-ferry-lab', gitCommit: 'ferry', gitTreeState: 'clean', buildDate: '2025-01-01T00:00:00Z', goVersion: 'go1.23', compiler: 'gc', platform: 'linux/amd64' };

const SUBRESOURCE_VERBS = ['get', 'patch', 'update'];

function typesIn(registry: ResourceRegistry, group: string, version: string): ResourceType[] {
  return registry.all().filter((type) => type.group === group && type.versions.includes(version));
}

export function apiVersions(): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] };
}

function groupDocument(group: string, versions: string[]): Record<string, unknown> {
  const list = versions.map((version) => ({ groupVersion: apiVersionOf(group, version), version }));
  return { name: group, versions: list, preferredVersion: list[0] };
}

export function apiGroupList(registry: ResourceRegistry): Record<string, unknown> {
  const groups = [...registry.groups()].filter(([group]) => group !== '').map(([group, versions]) => groupDocument(group, versions));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function apiGroup(registry: ResourceRegistry, group: string): Record<string, unknown> | undefined {
  const versions = registry.groups().get(group);
  return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDocument(group, versions) } : undefined;
}

export function apiResourceList(registry: ResourceRegistry, group: string, version: string): Record<string, unknown> | undefined {
  const types = typesIn(registry, group, version);
  if (types.length === 0) return undefined;
  const resources = types.flatMap((type) => [
    {
      name: type.plural, singularName: type.singular, namespaced: type.namespaced, kind: type.kind, verbs: ALL_VERBS,
      ...(type.shortNames.length ? { shortNames: type.shortNames } : {}), ...(type.categories.length ? { categories: type.categories } : {}),
    },
    ...(type.status ? [{ name: `${type.plural}/status`, singularName: '', namespaced: type.namespaced, kind: type.kind, verbs: SUBRESOURCE_VERBS }] : []),
    ...(type.scale ? [{ name: `${type.plural}/scale`, singularName: '', namespaced: type.namespaced, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: SUBRESOURCE_VERBS }] : []),
  ]);
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(group, version), resources };
}

/** apidiscovery.k8s.io/v2 (or v2beta1) APIGroupDiscoveryList for /api (core only) or /apis (all named groups). */
export function aggregatedDiscovery(registry: ResourceRegistry, core: boolean, apiVersion: string): Record<string, unknown> {
  const groups = [...registry.groups()].filter(([group]) => (group === '') === core);
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion,
    metadata: {},
    items: groups.map(([group, versions]) => ({
      metadata: group ? { name: group } : {},
      versions: versions.map((version) => ({
        version,
        resources: typesIn(registry, group, version).map((type) => ({
          resource: type.plural,
          responseKind: { group, version, kind: type.kind },
          scope: type.namespaced ? 'Namespaced' : 'Cluster',
          singularResource: type.singular,
          verbs: ALL_VERBS,
          ...(type.shortNames.length ? { shortNames: type.shortNames } : {}),
          ...(type.categories.length ? { categories: type.categories } : {}),
          ...(type.status || type.scale ? {
            subresources: [
              ...(type.status ? [{ subresource: 'status', responseKind: { group, version, kind: type.kind }, verbs: SUBRESOURCE_VERBS }] : []),
              ...(type.scale ? [{ subresource: 'scale', responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: SUBRESOURCE_VERBS }] : []),
            ],
          } : {}),
        })),
        freshness: 'Current',
      })),
    })),
  };
}

/** /openapi/v3: one entry per group-version, with a hash that changes when CRDs change what is served. */
export function openApiRoot(registry: ResourceRegistry, hash: string): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [group, versions] of registry.groups()) {
    for (const version of versions) {
      const path = group ? `apis/${group}/${version}` : `api/${version}`;
      paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hash}` };
    }
  }
  return { paths };
}

/** A group-version's OpenAPI v3 document: paths with their verbs, the GVK extension and the query parameters kubectl checks for. */
export function openApiGroupVersion(registry: ResourceRegistry, group: string, version: string): Record<string, unknown> | undefined {
  const types = typesIn(registry, group, version);
  if (types.length === 0) return undefined;
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const paths: Record<string, unknown> = {};
  const parameters = ['fieldValidation', 'fieldManager', 'dryRun', 'force'].map((name) => ({ name, in: 'query', schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true } }));
  for (const type of types) {
    const gvk = { group, version, kind: type.kind };
    const operation = (verb: string) => ({ operationId: `${verb}${type.kind}`, 'x-kubernetes-action': verb, 'x-kubernetes-group-version-kind': gvk, parameters, responses: { '200': { description: 'OK' } } });
    const item = type.namespaced ? `${prefix}/namespaces/{namespace}/${type.plural}/{name}` : `${prefix}/${type.plural}/{name}`;
    const collection = type.namespaced ? `${prefix}/namespaces/{namespace}/${type.plural}` : `${prefix}/${type.plural}`;
    paths[item] = { get: operation('get'), put: operation('put'), patch: operation('patch'), delete: operation('delete') };
    paths[collection] = { get: operation('list'), post: operation('post'), delete: operation('deletecollection') };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes (ferry lab)', version: KUBERNETES_VERSION.gitVersion }, paths, components: { schemas: {} } };
}
