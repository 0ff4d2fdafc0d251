import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addressesIn, hostReferences, isCredentialKey, isHostKey, serviceForHost, withoutCredentialArguments } from '../../../src/graph/service-refs.js';
import { dnsTargets } from '../../../src/graph/dns.js';
import { expandKubeletVars } from '../../../src/util/kubelet-env.js';

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

test('URL shapes: hosts and ports of every common connection string, printed without userinfo, path or query', () => {
  const shapes: Array<[string, string[], string]> = [
    ['postgresql://user:pw@db.data/app', ['db.data'], 'postgresql://db.data'],
    ['postgres://user:p%40ss@db:5432/app?sslmode=require', ['db:5432'], 'postgres://db:5432'],
    ['postgresql://app:pa/ss@db:5432/app', ['db:5432'], 'postgresql://db:5432'],
    ['jdbc:postgresql://db.data:5432/app?user=a&password=b', ['db.data:5432'], 'jdbc:postgresql://db.data:5432'],
    ['jdbc:mysql:loadbalance://h1:3306,h2:3306/db', ['h1:3306', 'h2:3306'], 'jdbc:mysql:loadbalance://h1:3306,h2:3306'],
    ['jdbc:oracle:thin:@//ora.data:1521/XE', ['ora.data:1521'], 'jdbc:oracle:thin:@ora.data:1521'],
    ['jdbc:sqlserver://mssql:1433;databaseName=x;password=y', ['mssql:1433'], 'jdbc:sqlserver://mssql:1433'],
    ['redis://:pw@cache:6379/0', ['cache:6379'], 'redis://cache:6379'],
    ['rediss://default:pw@cache.shop:6380', ['cache.shop:6380'], 'rediss://cache.shop:6380'],
    ['amqp://guest:guest@rabbitmq:5672/vhost', ['rabbitmq:5672'], 'amqp://rabbitmq:5672'],
    ['mongodb://u:p@mongo-0.mongo:27017,mongo-1.mongo:27017/db?replicaSet=rs0', ['mongo-0.mongo:27017', 'mongo-1.mongo:27017'], 'mongodb://mongo-0.mongo:27017,mongo-1.mongo:27017'],
    ['mongodb://h1,h2/', ['h1', 'h2'], 'mongodb://h1,h2'],
    ['mongodb+srv://u:p@cluster0.example.net/db', ['cluster0.example.net'], 'mongodb+srv://cluster0.example.net'],
    ['tcp://redis:6379', ['redis:6379'], 'tcp://redis:6379'],
  ];
  for (const [value, hosts, text] of shapes) {
    const found = addressesIn(value);
    assert.deepEqual(found.map((a) => (a.port ? `${a.host}:${a.port}` : a.host)), hosts, value);
    assert.ok(found.every((a) => a.explicit && a.text === text), `${value}: ${JSON.stringify(found)}`);
  }
});

test('host lists: Kafka bootstrap servers, listener URLs, ZooKeeper strings, URL lists, keyed connection strings', () => {
  const hosts = (value: string) => addressesIn(value).map((a) => `${a.host}${a.port ? `:${a.port}` : ''}${a.explicit ? '' : '?'}`);
  assert.deepEqual(hosts('host1:9092,host2:9092'), ['host1:9092', 'host2:9092']);
  assert.deepEqual(hosts('PLAINTEXT://kafka-0.kafka:9092,SSL://kafka-1.kafka:9093'), ['kafka-0.kafka:9092', 'kafka-1.kafka:9093']);
  assert.deepEqual(hosts('kafka-0.kafka-headless:9092 kafka-1.kafka-headless:9092'), ['kafka-0.kafka-headless:9092', 'kafka-1.kafka-headless:9092']);
  assert.deepEqual(hosts('zk-0.zk:2181,zk-1.zk:2181/chroot'), ['zk-0.zk:2181', 'zk-1.zk:2181']);
  assert.deepEqual(hosts('http://a:80,http://b:80'), ['a:80', 'b:80']);
  assert.deepEqual(hosts('host=db port=5432 user=app password=secret'), ['db']);
  assert.deepEqual(hosts('Server=mssql;Database=orders;Password=pw;'), ['mssql']);
  assert.deepEqual(hosts('redis:6379,password=xyz,ssl=False'), ['redis:6379']);
  assert.deepEqual(hosts('--redis-host=redis'), ['redis']);
  assert.deepEqual(hosts('"http://quoted:80"'), ['quoted:80']);
  assert.deepEqual(hosts('[::1]:5432 file:///etc/x unix:///run/x.sock'), []);
});

test('credential keys and arguments are never read; address keys are', () => {
  for (const key of ['PASSWORD', 'DB_PASSWORD', 'MYSQL_ROOT_PASSWORD', 'AUTH_TOKEN', 'API_KEY', 'client-secret', 'PGPASS']) assert.ok(isCredentialKey(key), key);
  for (const key of ['DATABASE_URL', 'SECRET_STORE_ADDR', 'AUTH_SERVICE_URL', 'REDIS_HOST', 'KEYCLOAK_URL', 'HOST_NAME']) assert.ok(!isCredentialKey(key), key);
  for (const key of ['REDIS_HOST', 'DATABASE_URL', 'bootstrap.servers', 'CART_SERVICE_ADDR', 'upstream', 'db-endpoint']) assert.ok(isHostKey(key), key);
  assert.equal(withoutCredentialArguments('psql -h db --password hunter2:1 -U app'), 'psql -h db --password -U app');
  // Nothing after a credential pair in the same word is read: it may hold "," and "://" itself.
  assert.deepEqual(hostReferences('redis:6379,password=ab,http://leak:80,ssl=false'), [{ host: 'redis', port: 6379, explicit: true }]);
  assert.deepEqual(hostReferences('-Dspring.datasource.password=x;y=http://leak:80'), []);
});

test('pod DNS: the resolver search list (ndots 5) decides what a name is', () => {
  const kinds = (host: string, ns = 'shop') => dnsTargets(host, ns).map((t) => (t.kind === 'service' ? `svc ${t.namespace}/${t.name}` : `pod ${t.namespace}/${t.service}/${t.hostname}`));
  assert.deepEqual(kinds('db'), ['svc shop/db']);
  assert.deepEqual(kinds('db-0.db'), ['pod shop/db/db-0', 'svc db/db-0']);
  assert.deepEqual(kinds('db-0.db.orders'), ['pod orders/db/db-0']);
  // Asked first as `db.orders.svc.svc.cluster.local`: a pod in a namespace named "svc", which rarely exists.
  assert.deepEqual(kinds('db.orders.svc'), ['pod svc/orders/db', 'svc orders/db']);
  assert.deepEqual(kinds('db-0.db.orders.svc'), ['pod orders/db/db-0']);
  assert.deepEqual(kinds('db-0.db.orders.svc.cluster.local'), ['pod orders/db/db-0']);
  assert.deepEqual(kinds('db.orders.svc.cluster.local.'), ['svc orders/db']);
  assert.deepEqual(kinds('api.payments.example.com'), []);
});

test('$(VAR) expansion follows the kubelet: $$ escapes, unknown names and unterminated references stay as written', () => {
  const env: Record<string, string> = { A: 'x', B: 'y' };
  const expand = (value: string) => expandKubeletVars(value, (name) => env[name]);
  assert.equal(expand('$(A)-$(B)'), 'x-y');
  assert.equal(expand('$$(A)'), '$(A)');
  assert.equal(expand('$$$(A)'), '$x');
  assert.equal(expand('$(C)'), '$(C)');
  assert.equal(expand('$(A'), '$(A');
  assert.equal(expand('$(A $(B)'), '$(A $(B)');
  assert.equal(expand('$A $'), '$A $');
  assert.equal(expand('$()'), '$()');
});
