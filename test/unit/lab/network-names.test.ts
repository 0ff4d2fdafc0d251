import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ObjectStore } from '../../../src/lab/api/store.js';
import { ResourceRegistry } from '../../../src/lab/api/registry.js';
import { ObjectService } from '../../../src/lab/api/objects.js';
import { ControllerClient } from '../../../src/lab/controllers/client.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { resolveHost } from '../../../src/lab/network/names.js';
import { serviceLinkEnv, proxyEnv } from '../../../src/lab/network/env.js';
import { clusterIpAllocator, isGatewayAddress } from '../../../src/lab/network/addresses.js';
import { podIdentity } from '../../../src/lab/network/proxy.js';

function cluster(): ControllerClient {
  const store = new ObjectStore();
  const service = new ObjectService(store, new ResourceRegistry());
  service.clusterIPs = clusterIpAllocator(20, () => false);
  const client = new ControllerClient(service);
  for (const name of ['default', 'shop', 'data']) client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  const svc = (namespace: string, name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec });
  client.create(svc('default', 'kubernetes', { ports: [{ name: 'https', port: 443, targetPort: 6443 }] }));
  client.create(svc('shop', 'cart-service', { selector: { app: 'cart' }, ports: [{ name: 'grpc', port: 7070 }, { name: 'metrics-http', port: 9090, protocol: 'TCP' }] }));
  client.create(svc('data', 'cart-service', { selector: { app: 'other' }, ports: [{ port: 80 }] }));
  client.create(svc('data', 'db', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ port: 5432 }] }));
  client.create(svc('shop', 'db-alias', { type: 'ExternalName', externalName: 'db.data.svc.cluster.local' }));
  for (const name of ['db-0', 'db-1']) client.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'data' }, spec: { hostname: name, subdomain: 'db', containers: [{ name: 'c', image: 'x' }] } });
  // db-0 is ready, db-1 still starting: cluster DNS publishes only db-0's name.
  const address = (name: string) => ({ ip: '127.0.0.1', targetRef: { kind: 'Pod', namespace: 'data', name } });
  client.create({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'db', namespace: 'data' }, subsets: [{ addresses: [address('db-0')], notReadyAddresses: [address('db-1')], ports: [{ port: 5432 }] }] } as KubeObject);
  return client;
}

test('names resolve as through a pod\'s DNS search list, relative to the caller\'s namespace', () => {
  const client = cluster();
  const service = (namespace: string, name: string) => ({ kind: 'service', namespace, name });
  assert.deepEqual(resolveHost(client, 'cart-service', 'shop'), service('shop', 'cart-service'));
  assert.deepEqual(resolveHost(client, 'cart-service', 'data'), service('data', 'cart-service'), 'the same short name means the caller\'s namespace');
  assert.deepEqual(resolveHost(client, 'cart-service.data', 'shop'), service('data', 'cart-service'));
  assert.deepEqual(resolveHost(client, 'cart-service.data.svc', 'shop'), service('data', 'cart-service'));
  assert.deepEqual(resolveHost(client, 'cart-service.data.svc.cluster.local', 'shop'), service('data', 'cart-service'));
  assert.deepEqual(resolveHost(client, 'Cart-Service.Data.svc.cluster.local.', 'shop'), service('data', 'cart-service'), 'case and a trailing dot do not matter');
  assert.deepEqual(resolveHost(client, 'db-0.db.data.svc.cluster.local', 'shop'), { kind: 'pod', namespace: 'data', pod: 'db-0', service: 'db' });
  assert.deepEqual(resolveHost(client, 'db-0.db', 'data'), { kind: 'pod', namespace: 'data', pod: 'db-0', service: 'db' });
  assert.deepEqual(resolveHost(client, 'db-alias', 'shop'), service('data', 'db'), 'ExternalName to an in-cluster name is followed');
  assert.equal(resolveHost(client, 'cart-service', 'default'), undefined);
  assert.equal(resolveHost(client, 'db-1.db.data.svc.cluster.local', 'shop'), undefined, 'a pod that is not ready has no DNS name yet');
  assert.equal(resolveHost(client, 'db-2.db.data.svc.cluster.local', 'shop'), undefined);
  assert.equal(resolveHost(client, 'example.com', 'shop'), undefined);
  const cart = client.get('v1', 'Service', 'shop', 'cart-service')!;
  assert.deepEqual(resolveHost(client, (cart.spec as { clusterIP: string }).clusterIP, 'default'), service('shop', 'cart-service'), 'a ClusterIP names its Service');
  assert.deepEqual(resolveHost(client, '127.0.0.1', 'shop'), { kind: 'address', host: '127.0.0.1' });
  assert.equal(resolveHost(client, '10.1.2.3', 'shop'), undefined, 'non-loopback addresses are not reachable from the lab');
});

test('ClusterIPs come from the cluster\'s own loopback /16, skipping taken addresses and the gateway\'s', () => {
  const taken = new Set(['127.30.0.2']);
  const next = clusterIpAllocator(30, (ip) => taken.has(ip));
  assert.deepEqual([next(), next(), next()], ['127.30.0.1', '127.30.0.3', '127.30.0.4']);
  const client = cluster();
  assert.match((client.get('v1', 'Service', 'shop', 'cart-service')!.spec as { clusterIP: string }).clusterIP, /^127\.20\.\d+\.\d+$/);
  assert.ok(isGatewayAddress('127.30.255.254'));
  assert.ok(!isGatewayAddress('127.30.0.254'));
});

test('a pod gets the kubelet\'s Service variables for its namespace and the proxy variables with its identity', () => {
  const client = cluster();
  const pod = (namespace: string, spec: Record<string, unknown> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace }, spec });
  const env = serviceLinkEnv(client, pod('shop'));
  const cart = (client.get('v1', 'Service', 'shop', 'cart-service')!.spec as { clusterIP: string }).clusterIP;
  const kube = (client.get('v1', 'Service', 'default', 'kubernetes')!.spec as { clusterIP: string }).clusterIP;
  assert.deepEqual(env, {
    KUBERNETES_SERVICE_HOST: kube, KUBERNETES_SERVICE_PORT: '443', KUBERNETES_SERVICE_PORT_HTTPS: '443',
    KUBERNETES_PORT: `tcp://${kube}:443`, KUBERNETES_PORT_443_TCP: `tcp://${kube}:443`, KUBERNETES_PORT_443_TCP_PROTO: 'tcp', KUBERNETES_PORT_443_TCP_PORT: '443', KUBERNETES_PORT_443_TCP_ADDR: kube,
    CART_SERVICE_SERVICE_HOST: cart, CART_SERVICE_SERVICE_PORT: '7070', CART_SERVICE_SERVICE_PORT_GRPC: '7070', CART_SERVICE_SERVICE_PORT_METRICS_HTTP: '9090',
    CART_SERVICE_PORT: `tcp://${cart}:7070`,
    CART_SERVICE_PORT_7070_TCP: `tcp://${cart}:7070`, CART_SERVICE_PORT_7070_TCP_PROTO: 'tcp', CART_SERVICE_PORT_7070_TCP_PORT: '7070', CART_SERVICE_PORT_7070_TCP_ADDR: cart,
    CART_SERVICE_PORT_9090_TCP: `tcp://${cart}:9090`, CART_SERVICE_PORT_9090_TCP_PROTO: 'tcp', CART_SERVICE_PORT_9090_TCP_PORT: '9090', CART_SERVICE_PORT_9090_TCP_ADDR: cart,
  });
  assert.equal(serviceLinkEnv(client, pod('data')).DB_SERVICE_HOST, undefined, 'headless Services have none');
  assert.deepEqual(Object.keys(serviceLinkEnv(client, pod('shop', { enableServiceLinks: false }))).filter((k) => k.startsWith('CART')), [], 'enableServiceLinks: false keeps only the master Service');
  assert.ok(serviceLinkEnv(client, pod('shop', { enableServiceLinks: false })).KUBERNETES_SERVICE_HOST);
  const proxy = proxyEnv(4242, 'shop', 'web-1');
  assert.equal(proxy.http_proxy, 'http://shop%2Fweb-1:lab@127.0.0.1:4242');
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'https_proxy', 'grpc_proxy']) assert.equal(proxy[name], proxy.http_proxy);
  assert.equal(proxy.NO_PROXY, 'localhost,127.0.0.1,127.0.0.0/8');
});

test('the proxy reads the calling pod from Proxy-Authorization, escaped or not', () => {
  const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
  assert.deepEqual(podIdentity(basic('shop/web-1:lab')), { namespace: 'shop', pod: 'web-1' });
  assert.deepEqual(podIdentity(basic('shop%2Fweb-1:lab')), { namespace: 'shop', pod: 'web-1' });
  assert.equal(podIdentity(basic('someone:secret')), undefined);
  assert.equal(podIdentity(undefined), undefined);
});
