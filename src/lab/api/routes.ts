/**
 * Parses a Kubernetes REST path into the resource it names and the verb it asks for.
 * Pure. https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-uris
 */
import type { ResourceRegistry, ResourceType } from './registry.js';
import { isWatch } from './query.js';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface ResourceRoute {
  group: string;
  version: string;
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  verb: Verb;
}

export type Route =
  | { kind: 'resource'; route: ResourceRoute }
  | { kind: 'discovery'; group: string | undefined; version: string | undefined; core: boolean }
  | { kind: 'unknown-resource'; group: string; version: string; plural: string }
  | { kind: 'other' };

export function parseRoute(method: string, path: string, query: URLSearchParams, registry: ResourceRegistry): Route {
  const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let version: string | undefined;
  let rest: string[];
  if (segments[0] === 'api') {
    group = '';
    version = segments[1];
    rest = segments.slice(2);
    if (!version) return { kind: 'discovery', group: undefined, version: undefined, core: true };
  } else if (segments[0] === 'apis') {
    if (segments.length === 1) return { kind: 'discovery', group: undefined, version: undefined, core: false };
    group = segments[1]!;
    version = segments[2];
    rest = segments.slice(3);
    if (!version) return { kind: 'discovery', group, version: undefined, core: false };
  } else return { kind: 'other' };
  if (rest.length === 0) return { kind: 'discovery', group, version, core: group === '' };

  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const nested = registry.lookup(group, version, rest[2]!);
    if (nested?.namespaced) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
  }
  const plural = rest[0]!;
  const type = registry.lookup(group, version, plural);
  if (!type) return { kind: 'unknown-resource', group, version, plural };
  const name = rest[1];
  const subresource = rest[2];
  const watch = isWatch(query);
  const verb = verbOf(method, name !== undefined, watch);
  if (!verb) return { kind: 'other' };
  return { kind: 'resource', route: { group, version, type, ...(namespace !== undefined ? { namespace } : {}), ...(name !== undefined ? { name } : {}), ...(subresource ? { subresource } : {}), verb } };
}

function verbOf(method: string, item: boolean, watch: boolean): Verb | undefined {
  switch (method) {
    case 'GET':
      if (watch) return 'watch';
      return item ? 'get' : 'list';
    case 'POST':
      return item ? undefined : 'create';
    case 'PUT':
      return item ? 'update' : undefined;
    case 'PATCH':
      return item ? 'patch' : undefined;
    case 'DELETE':
      return item ? 'delete' : 'deletecollection';
    default:
      return undefined;
  }
}
