import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hostReferences, serviceForHost } from '../../../src/graph/service-refs.js';

test('every DNS form of a Service resolves to that Service', () => {
  const forms = [
    'cartservice', 'cartservice:7070', 'cartservice.shop', 'cartservice.shop:7070', 'cartservice.shop.svc',
    'cartservice.shop.svc.cluster.local', 'cartservice.shop.svc.cluster.local:7070', 'http://cartservice.shop:7070/api',
    'grpc://cartservice.shop.svc.cluster.local:7070', 'redis://user:pa55@cartservice.shop:6379/0',
  ];
  for (const value of forms) {
    const [reference] = hostReferences(value);
    assert.ok(reference, `no host found in ${value}`);
    assert.deepEqual(serviceForHost(reference.host, 'shop'), { namespace: 'shop', name: 'cartservice' }, value);
  }
});

test('a bare name resolves in the caller namespace; other domains and IPs are not Services', () => {
  assert.deepEqual(serviceForHost('redis', 'team-a'), { namespace: 'team-a', name: 'redis' });
  assert.equal(serviceForHost('api.example.com', 'x'), undefined);
  assert.equal(serviceForHost('db.prod.svc.other.domain', 'x'), undefined);
  assert.deepEqual(hostReferences('10.0.0.1:5432'), []);
  assert.deepEqual(hostReferences('8080'), []);
  assert.deepEqual(hostReferences('true'), [{ host: 'true', explicit: false }]);
});

test('lists of brokers yield one reference each, and credentials never appear in the host', () => {
  const refs = hostReferences('kafka-0.kafka:9092,kafka-1.kafka:9092 postgres://admin:s3cret@db.data:5432/app');
  assert.deepEqual(refs.map((r) => `${r.host}:${r.port}`), ['kafka-0.kafka:9092', 'kafka-1.kafka:9092', 'db.data:5432']);
  assert.ok(!JSON.stringify(refs).includes('s3cret'));
});

test('property: any service and namespace name round-trips through all its DNS forms', () => {
  const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$/);
  fc.assert(
    fc.property(label, label, fc.integer({ min: 1, max: 65535 }), (name, namespace, port) => {
      for (const form of [`${name}.${namespace}`, `${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`, `http://${name}.${namespace}:${port}/x`, `${name}.${namespace}:${port}`]) {
        const [reference] = hostReferences(form);
        assert.deepEqual(serviceForHost(reference!.host, 'caller'), { namespace, name });
      }
    }),
  );
});
