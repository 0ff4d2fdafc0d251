/**
 * Which route a mesh VirtualService gives a call (src/lab/network/mesh.ts), on a lab API
 * store with Istio's CRDs: host forms and precedence, mesh binding and exportTo, request and
 * connection matches, weights, destinations and DestinationRule subsets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { ObjectStore } from '../../../src/lab/api/store.js';
import { ResourceRegistry } from '../../../src/lab/api/registry.js';
import { ObjectService } from '../../../src/lab/api/objects.js';
import { ControllerClient } from '../../../src/lab/controllers/client.js';
import { resourceTypeOf } from '../../../src/lab/controllers/crd.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { findServicePort, ServiceUnreachable } from '../../../src/lab/network/endpoints.js';
import { meshRoute, type MeshCall } from '../../../src/lab/network/mesh.js';

function cluster(): ControllerClient {
  const registry = new ResourceRegistry();
  for (const document of parseAllDocuments(readFileSync('/work/shared/crds/istio.yaml', 'utf8'))) {
    const crd = document.toJS() as KubeObject | null;
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    const type = resourceTypeOf(crd);
    if (type && ['VirtualService', 'DestinationRule'].includes(type.kind)) registry.add(type);
  }
  const client = new ControllerClient(new ObjectService(new ObjectStore(), registry));
  for (const name of ['shop', 'web']) client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  const service = (name: string, ports: number[]) => client.create({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop' }, spec: { selector: { app: name }, ports: ports.map((port) => ({ name: `p${port}`, port })) } });
  service('cart', [7070, 9090]);
  service('cart-v2', [8080]);
  client.create({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'cart', namespace: 'shop' }, spec: { host: 'cart', subsets: [{ name: 'target', labels: { 'topology.istio.io/cluster': 'target' } }] } });
  return client;
}

function vs(client: ControllerClient, name: string, spec: Record<string, unknown>, namespace = 'shop'): void {
  const existing = client.get('networking.istio.io/v1', 'VirtualService', namespace, name);
  const object = { apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService', metadata: { name, namespace, ...(existing ? { resourceVersion: existing.metadata.resourceVersion } : {}) }, spec } as KubeObject;
  if (existing) client.update(object);
  else client.create(object);
}

function route(client: ControllerClient, call: MeshCall, port = 7070, turns = new Map<string, number[]>()) {
  const cart = client.get('v1', 'Service', 'shop', 'cart')!;
  const found = meshRoute(client, cart, findServicePort(cart, port), call, turns);
  return found && { vs: found.virtualService, service: found.service.metadata.name, port: found.port.port, subset: found.subset?.name };
}

const request = (path: string, headers: Record<string, string> = {}, method = 'GET'): MeshCall['request'] => ({ method, path, authority: 'cart:7070', scheme: 'http', headers });
const to = (host: string, extra: Record<string, unknown> = {}) => ({ destination: { host, ...extra } });

test('a mesh VirtualService for the Service applies: short, FQDN and wildcard hosts (exact first); gateway-only and unexported ones do not', () => {
  const client = cluster();
  assert.equal(route(client, { namespace: 'web' }), undefined, 'no VirtualService: the Service as it is');
  vs(client, 'edge', { hosts: ['cart'], gateways: ['shop/ingress'], http: [{ route: [to('cart-v2')] }] });
  assert.equal(route(client, { namespace: 'web' }), undefined, 'bound to a gateway only');
  vs(client, 'wild', { hosts: ['*.shop.svc.cluster.local'], http: [{ route: [to('cart', { subset: 'target' })] }] });
  assert.deepEqual(route(client, { namespace: 'web' }), { vs: 'shop/wild', service: 'cart', port: 7070, subset: 'target' });
  vs(client, 'private', { hosts: ['cart.shop.svc.cluster.local'], exportTo: ['.'], gateways: ['mesh'], http: [{ route: [to('cart-v2')] }] });
  assert.deepEqual(route(client, { namespace: 'shop' }), { vs: 'shop/private', service: 'cart-v2', port: 8080, subset: undefined }, 'exact beats wildcard; the only port of another Service');
  assert.equal(route(client, { namespace: 'web' })?.vs, 'shop/wild', 'exportTo "." hides it from other namespaces');
  assert.equal(route(client, {})?.vs, 'shop/wild', 'a caller of unknown namespace (a ClusterIP) sees only exported ones');
});

test('http matches: uri regex and ignoreUriCase, method, queryParams, headers presence, sourceLabels, port; no match is a 404 for a request', () => {
  const client = cluster();
  vs(client, 'cart', {
    hosts: ['cart.shop'],
    http: [
      { name: 'api', match: [{ uri: { regex: '/api/v[0-9]+/.*' }, method: { exact: 'POST' } }], route: [to('cart-v2')] },
      { name: 'canary', match: [{ queryParams: { canary: { exact: 'yes' } } }, { headers: { 'x-canary': {} } }], route: [to('cart', { subset: 'target' })] },
      { name: 'metrics', match: [{ port: 9090 }], route: [to('cart', { port: { number: 9090 } })] },
      { name: 'team', match: [{ sourceLabels: { team: 'blue' }, uri: { prefix: '/CART', }, ignoreUriCase: true }], route: [to('cart', { subset: 'target' })] },
    ],
  });
  assert.equal(route(client, { request: request('/api/v2/items', {}, 'POST') })?.service, 'cart-v2');
  assert.throws(() => route(client, { request: request('/api/v2/items') }), (error: ServiceUnreachable) => error.status === 404 && /VirtualService shop\/cart has no http route matching GET \/api\/v2\/items to cart.shop.svc.cluster.local/.test(error.message));
  assert.equal(route(client, { request: request('/?canary=yes') })?.subset, 'target');
  assert.equal(route(client, { request: request('/', { 'x-canary': 'anything' }) })?.subset, 'target', 'an empty StringMatch is presence');
  assert.equal(route(client, { request: request('/') }, 9090)?.port, 9090);
  assert.equal(route(client, { labels: { team: 'blue' }, request: request('/cart/1') })?.subset, 'target');
  assert.throws(() => route(client, { labels: { team: 'red' }, request: request('/cart/1') }), /no http route/);
});

test('a connection (CONNECT, ClusterIP) takes the first route that needs no request, then tcp routes, else the Service as a whole', () => {
  const client = cluster();
  vs(client, 'cart', { hosts: ['cart'], http: [{ match: [{ headers: { 'x-canary': { exact: 'yes' } } }], route: [to('cart-v2')] }, { match: [{ port: 7070 }], route: [to('cart', { subset: 'target' })] }] });
  assert.equal(route(client, {})?.subset, 'target');
  vs(client, 'cart', { hosts: ['cart'], http: [{ match: [{ uri: { prefix: '/' } }], route: [to('cart-v2')] }] });
  assert.equal(route(client, {}), undefined);
  vs(client, 'cart', { hosts: ['cart'], http: [{ match: [{ uri: { prefix: '/' } }], route: [to('cart-v2')] }], tcp: [{ route: [to('cart-v2')] }] });
  assert.equal(route(client, {})?.service, 'cart-v2');
});

test('weights: exact shares by smooth weighted round-robin, a lone destination takes all, all zero is a 503; a missing subset is a 503 naming it', () => {
  const client = cluster();
  vs(client, 'cart', { hosts: ['cart'], http: [{ route: [{ ...to('cart'), weight: 25 }, { ...to('cart', { subset: 'target' }), weight: 75 }] }] });
  const turns = new Map<string, number[]>();
  const picks = Array.from({ length: 8 }, () => route(client, {}, 7070, turns)?.subset ?? 'all');
  assert.deepEqual(picks.filter((pick) => pick === 'target').length, 6, picks.join(' '));
  vs(client, 'cart', { hosts: ['cart'], http: [{ route: [{ ...to('cart'), weight: 0 }, { ...to('cart', { subset: 'target' }), weight: 0 }] }] });
  assert.throws(() => route(client, {}), (error: ServiceUnreachable) => error.status === 503 && /gives every destination weight 0/.test(error.message));
  vs(client, 'cart', { hosts: ['cart'], http: [{ route: [to('cart', { subset: 'source' })] }] });
  assert.throws(() => route(client, {}), /routes to subset source of cart.shop.svc.cluster.local, which no DestinationRule for that host in namespace shop defines \(cart\)/);
  vs(client, 'cart', { hosts: ['cart'], http: [{ route: [to('nowhere')] }] });
  assert.throws(() => route(client, {}), /routes to host nowhere, which is no Service in this cluster/);
});
