import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDependencyGraph } from '../../../src/graph/build.js';
import { buildUnitGraph } from '../../../src/graph/units.js';
import { renderableObjects, renderableUnits, toMermaid } from '../../../src/graph/render.js';
import { idOf, type GraphEdge } from '../../../src/graph/model.js';
import { isWorkload } from '../../../src/graph/pod-spec.js';
import type { KubeObject } from '../../../src/kube/object.js';

const NS = 'shop';
type Container = Record<string, unknown>;

function deployment(name: string, containers: Container[], extra: { initContainers?: Container[]; namespace?: string; annotations?: Record<string, string>; spec?: Record<string, unknown> } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: extra.namespace ?? NS, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers, ...(extra.initContainers ? { initContainers: extra.initContainers } : {}), ...extra.spec } },
    },
  };
}

function statefulSet(name: string, serviceName = name, namespace = NS): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace },
    spec: { serviceName, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'db', image: 'db' }] } } },
  };
}

function service(name: string, options: { namespace?: string; app?: string; headless?: boolean; externalName?: string; ports?: unknown[] } = {}): KubeObject {
  const spec: Record<string, unknown> = options.externalName
    ? { type: 'ExternalName', externalName: options.externalName }
    : { selector: { app: options.app ?? name }, ports: options.ports ?? [{ name: 'tcp', port: 80 }], ...(options.headless ? { clusterIP: 'None' } : {}) };
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: options.namespace ?? NS }, spec };
}

const configMap = (name: string, data: Record<string, string>, namespace = NS): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data });
const secret = (name: string, data: Record<string, string>): KubeObject => ({
  apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS },
  data: Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString('base64')])),
});
const container = (fields: Container): Container => ({ name: 'app', image: 'app', ...fields });

/** The app's call edges: `from -> Service`, by name. */
function callsOf(objects: KubeObject[], from = 'app'): string[] {
  return [...new Set(buildDependencyGraph(objects).edges.filter((edge) => edge.runtime && edge.from.endsWith(`/${from}`) && edge.to.startsWith('Service/')).map((edge) => edge.to))].sort();
}

function edge(objects: KubeObject[], to: string, from = `Deployment/${NS}/app`): GraphEdge {
  const found = buildDependencyGraph(objects).edges.find((e) => e.from === from && e.to === to && e.runtime);
  assert.ok(found, `no edge ${from} → ${to}`);
  return found;
}

/** Backends every test can call: a db StatefulSet behind a headless Service, and plain Deployments. */
const BACKENDS: KubeObject[] = [
  statefulSet('db'), service('db', { headless: true }), service('db-primary', { app: 'db' }),
  deployment('cache', [container({})]), service('cache', { ports: [{ name: 'redis', port: 6379 }] }),
  deployment('queue', [container({})]), service('queue'),
  deployment('api', [container({})]), service('api'),
];

test('literal env: every DNS form of a Service, with the matched text as evidence', () => {
  for (const value of ['cache', 'cache:6379', 'cache.shop', 'cache.shop.svc', 'cache.shop.svc.cluster.local:6379', 'redis://cache.shop:6379/0']) {
    const found = edge([...BACKENDS, deployment('app', [container({ env: [{ name: 'REDIS', value }] })])], `Service/${NS}/cache`);
    assert.equal(found.reason, 'env');
    assert.equal(found.provenance, 'static');
    assert.equal(found.detail, 'container app env REDIS');
    assert.deepEqual(found.evidence, [{ object: `Deployment/${NS}/app`, field: 'spec.template.spec.containers[app].env[REDIS]', text: value === 'redis://cache.shop:6379/0' ? 'redis://cache.shop:6379' : value }]);
  }
});

test('envFrom ConfigMap with a prefix: every key is scanned, evidence names the ConfigMap key', () => {
  const objects = [
    ...BACKENDS,
    configMap('settings', { QUEUE_URL: 'amqp://queue:5672', LOG_LEVEL: 'info' }),
    deployment('app', [container({ envFrom: [{ prefix: 'CFG_', configMapRef: { name: 'settings' } }] })]),
  ];
  const found = edge(objects, `Service/${NS}/queue`);
  assert.equal(found.detail, 'container app env CFG_QUEUE_URL');
  assert.deepEqual(found.evidence, [{ object: `ConfigMap/${NS}/settings`, field: `ConfigMap ${NS}/settings data.QUEUE_URL via envFrom prefix CFG_ (containers[app])`, text: 'amqp://queue:5672' }]);
});

test('configMapKeyRef: the referenced key only', () => {
  const objects = [
    ...BACKENDS,
    configMap('settings', { API: 'http://api:80', OTHER: 'http://cache:6379' }),
    deployment('app', [container({ env: [{ name: 'API_URL', valueFrom: { configMapKeyRef: { name: 'settings', key: 'API' } } }] })]),
  ];
  assert.deepEqual(callsOf(objects), [`Service/${NS}/api`]);
  assert.equal(edge(objects, `Service/${NS}/api`).evidence![0]!.field, `ConfigMap ${NS}/settings data.API via configMapKeyRef (spec.template.spec.containers[app].env[API_URL])`);
});

test('secretKeyRef and envFrom Secrets: read for hosts only, the evidence holds no credential', () => {
  const objects = [
    ...BACKENDS,
    secret('db-url', { url: 'postgresql://app:Sup3r-S3cret@db-primary.shop:5432/orders?sslmode=require' }),
    // DB_HOST is a host key; PASSWORD is never read even when it happens to be a Service's name;
    // TOKEN_SEED is no host key and no URL: not read even though it looks like host:port.
    secret('bundle', { DB_HOST: 'cache', PASSWORD: 'queue', TOKEN_SEED: 'api:4242' }),
    deployment('app', [container({
      env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db-url', key: 'url' } } }],
      envFrom: [{ secretRef: { name: 'bundle' } }],
    })]),
  ];
  assert.deepEqual(callsOf(objects), [`Service/${NS}/cache`, `Service/${NS}/db-primary`]);
  const db = edge(objects, `Service/${NS}/db-primary`);
  assert.deepEqual(db.evidence, [{ object: `Secret/${NS}/db-url`, field: `Secret ${NS}/db-url data.url via secretKeyRef (spec.template.spec.containers[app].env[DATABASE_URL])`, text: 'postgresql://db-primary.shop:5432' }]);
  const json = JSON.stringify(buildDependencyGraph(objects));
  for (const secretText of ['Sup3r-S3cret', 'orders', 'sslmode', '4242']) assert.ok(!json.includes(secretText), secretText);
});

test('$(VAR) expansion as the kubelet does: earlier vars, ConfigMap vars, Service variables, the namespace; $$ escapes; later vars are not seen', () => {
  const objects = [
    ...BACKENDS,
    configMap('hosts', { API_HOST: 'api' }),
    deployment('app', [container({
      envFrom: [{ configMapRef: { name: 'hosts' } }],
      env: [
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'API_URL', value: 'http://$(API_HOST):8080' },
        { name: 'REDIS_ADDR', value: '$(CACHE_SERVICE_HOST):$(CACHE_SERVICE_PORT)' },
        { name: 'QUEUE_URL', value: 'amqp://queue.$(POD_NAMESPACE).svc.cluster.local:5672' },
        { name: 'ESCAPED', value: 'http://$$(DB_NAME):80' },
        { name: 'TOO_EARLY', value: 'http://$(LATER):80' },
        { name: 'LATER', value: 'db-primary' },
      ],
    })]),
  ];
  const api = edge(objects, `Service/${NS}/api`);
  assert.deepEqual(api.evidence, [
    // The ConfigMap's API_HOST is in the container's environment too, so it is an address of its own.
    { object: `ConfigMap/${NS}/hosts`, field: `ConfigMap ${NS}/hosts data.API_HOST via envFrom (containers[app])`, text: 'api' },
    { object: `Deployment/${NS}/app`, field: 'spec.template.spec.containers[app].env[API_URL]', text: 'http://api:8080', expandedFrom: [`ConfigMap ${NS}/hosts data.API_HOST via envFrom (containers[app])`] },
  ]);
  assert.equal(edge(objects, `Service/${NS}/cache`).evidence![0]!.text, 'cache.shop.svc.cluster.local:6379');
  assert.equal(edge(objects, `Service/${NS}/queue`).evidence![0]!.text, 'amqp://queue.shop.svc.cluster.local:5672');
  // LATER itself names db-primary (a bare value), but TOO_EARLY's $(LATER) stays unexpanded.
  assert.deepEqual(edge(objects, `Service/${NS}/db-primary`).evidence!.map((e) => e.field), ['spec.template.spec.containers[app].env[LATER]']);
  // The namespace name (POD_NAMESPACE) is never taken for a Service.
  assert.deepEqual(callsOf(objects), [`Service/${NS}/api`, `Service/${NS}/cache`, `Service/${NS}/db-primary`, `Service/${NS}/queue`]);
});

test('command and args: URLs, host:port, host flags and dotted names count, other words do not; $(VAR) expands', () => {
  const objects = [
    ...BACKENDS,
    deployment('run', [container({})]), service('run'),
    deployment('app', [container({
      command: ['run', '--upstream=http://api:8080'],
      args: ['--cache-host', 'cache', '-h', 'db-primary', '--queue-addr=$(Q)', 'run'],
      env: [{ name: 'Q', value: 'queue:5672' }],
    })]),
  ];
  assert.deepEqual(callsOf(objects), [`Service/${NS}/api`, `Service/${NS}/cache`, `Service/${NS}/db-primary`, `Service/${NS}/queue`]);
  const api = edge(objects, `Service/${NS}/api`);
  assert.equal(api.reason, 'command');
  assert.deepEqual(api.evidence, [{ object: `Deployment/${NS}/app`, field: 'spec.template.spec.containers[app].command[1]', text: 'http://api:8080' }]);
  assert.equal(edge(objects, `Service/${NS}/cache`).evidence![0]!.field, 'spec.template.spec.containers[app].args[1]');
});

test('init containers: a wait-for-the-database loop is a dependency', () => {
  const objects = [
    ...BACKENDS,
    deployment('app', [container({})], { initContainers: [{ name: 'wait', image: 'busybox', command: ['sh', '-c', 'until nslookup db-primary.shop.svc.cluster.local; do sleep 2; done; until nc -z cache 6379; do sleep 1; done'] }] }),
  ];
  assert.deepEqual(callsOf(objects), [`Service/${NS}/cache`, `Service/${NS}/db-primary`]);
  assert.equal(edge(objects, `Service/${NS}/db-primary`).evidence![0]!.field, 'spec.template.spec.initContainers[wait].command[2]');
});

test('pod DNS of a StatefulSet: every name the pod resolver answers reaches the headless Service, from any namespace', () => {
  for (const host of ['db-0.db', 'db-1.db.shop', 'db-0.db.shop.svc', 'db-2.db.shop.svc.cluster.local']) {
    assert.deepEqual(callsOf([...BACKENDS, deployment('app', [container({ env: [{ name: 'DB', value: `${host}:5432` }] })])]), [`Service/${NS}/db`], host);
  }
  const elsewhere = [...BACKENDS, deployment('app', [container({ env: [{ name: 'DB', value: 'mongodb://db-0.db.shop:27017,db-1.db.shop:27017/x' }] })], { namespace: 'web' })];
  assert.deepEqual(buildDependencyGraph(elsewhere).edges.filter((e) => e.from === 'Deployment/web/app' && e.runtime).map((e) => e.to), [`Service/${NS}/db`]);
  // The unit graph sees the StatefulSet behind it.
  const objects = [...BACKENDS, deployment('app', [container({ env: [{ name: 'DB', value: 'db-0.db:5432' }] })])];
  const units = buildUnitGraph(buildDependencyGraph(objects), objects.filter(isWorkload).map(idOf));
  assert.ok(units.edges.some((e) => e.from === 'app' && e.to === 'db'));
});

test('pod DNS needs a headless Service that governs a pod of that name; otherwise it is a missing Service', () => {
  const objects = [
    statefulSet('db'), service('db', { headless: true }), statefulSet('web'), service('web'),
    deployment('app', [container({ env: [
      { name: 'A', value: 'other-0.db.shop.svc.cluster.local:5432' },
      { name: 'B', value: 'web-0.web.shop.svc.cluster.local:80' },
    ] })]),
  ];
  const graph = buildDependencyGraph(objects);
  assert.deepEqual(graph.edges.filter((e) => e.from === `Deployment/${NS}/app` && e.runtime), []);
  assert.deepEqual(graph.dangling.map((d) => `${d.kind} ${d.target}`), ['missing-service other-0.db.shop.svc.cluster.local', 'missing-service web-0.web.shop.svc.cluster.local']);
});

test('a host the resolver reaches as a pod name first wins over a Service of another namespace (search order)', () => {
  // `db-0.db` from namespace shop: `db-0.db.shop.svc.cluster.local` is asked before `db-0.db.svc.cluster.local`.
  const objects = [...BACKENDS, service('db-0', { namespace: 'db', app: 'x' }), deployment('app', [container({ env: [{ name: 'DB', value: 'db-0.db:5432' }] })])];
  assert.deepEqual(callsOf(objects), [`Service/${NS}/db`]);
});

test('ExternalName chains reach the Service at their end; the unit graph follows them', () => {
  const objects = [
    statefulSet('db', 'db', 'data'), service('db', { namespace: 'data', headless: true }),
    service('orders-db', { externalName: 'db-alias.shop.svc.cluster.local' }),
    service('db-alias', { externalName: 'db.data.svc.cluster.local.' }),
    service('payments', { externalName: 'api.payments.example.com' }),
    deployment('app', [container({ env: [{ name: 'DATABASE_URL', value: 'postgresql://orders-db:5432/orders' }, { name: 'PAY', value: 'https://payments' }] })]),
  ];
  const graph = buildDependencyGraph(objects);
  const chain = graph.edges.filter((e) => e.reason === 'externalName').map((e) => `${e.from} -> ${e.to}`);
  assert.deepEqual(chain, [`Service/${NS}/db-alias -> Service/data/db`, `Service/${NS}/orders-db -> Service/${NS}/db-alias`]);
  assert.deepEqual(graph.dangling.map((d) => `${d.from} ${d.kind} ${d.target}`), [`Service/${NS}/payments external-host api.payments.example.com`]);
  const units = buildUnitGraph(graph, objects.filter(isWorkload).map(idOf));
  assert.deepEqual(units.edges.map((e) => `${e.from}->${e.to}`), ['app->db']);
});

test('self-references are no edges: a workload naming its own Service, a StatefulSet naming its own pods', () => {
  const peers: KubeObject = { ...statefulSet('db'), spec: { ...(statefulSet('db').spec as object), template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'db', env: [{ name: 'PEERS', value: 'db-0.db:7000,db-1.db:7000' }, { name: 'SELF', value: 'http://db-primary:5432' }] }] } } } };
  const objects = [peers, service('db', { headless: true }), service('db-primary', { app: 'db' }), deployment('app', [container({ env: [{ name: 'HOST_NAME', value: 'app' }, { name: 'URL', value: 'http://app:80' }] })]), service('app')];
  const graph = buildDependencyGraph(objects);
  assert.deepEqual(graph.edges.filter((e) => e.runtime && e.reason !== 'selector'), []);
  assert.deepEqual(graph.dangling, []);
});

test('shared config: addresses in a ConfigMap many workloads load are marked, unless a workload names them itself', () => {
  const objects = [
    ...BACKENDS,
    configMap('common', { API_URL: 'http://api:80', CACHE_ADDR: 'cache:6379' }),
    deployment('app', [container({ envFrom: [{ configMapRef: { name: 'common' } }], env: [{ name: 'MY_CACHE', value: 'redis://cache:6379' }] })]),
    deployment('worker', [container({ envFrom: [{ configMapRef: { name: 'common' } }] })]),
    deployment('cron', [container({})], { annotations: { 'ferry.dev/depends-on': 'api' } }),
  ];
  const graph = buildDependencyGraph(objects);
  const provenance = (from: string, to: string) => graph.edges.find((e) => e.from === `Deployment/${NS}/${from}` && e.to === `Service/${NS}/${to}`)?.provenance;
  assert.equal(provenance('worker', 'api'), 'static (shared config)');
  assert.equal(provenance('worker', 'cache'), 'static (shared config)');
  assert.equal(provenance('app', 'api'), 'static (shared config)');
  assert.equal(provenance('app', 'cache'), 'static', 'app names cache in its own env too');
  assert.equal(provenance('cron', 'api'), 'declared');
  const appCache = graph.edges.find((e) => e.from === `Deployment/${NS}/app` && e.to === `Service/${NS}/cache`)!;
  assert.deepEqual(appCache.evidence!.map((e) => [e.object, e.sharedConfig ?? false]), [[`ConfigMap/${NS}/common`, true], [`Deployment/${NS}/app`, false]]);

  const units = buildUnitGraph(graph, objects.filter(isWorkload).map(idOf));
  const unitProvenance = Object.fromEntries(units.edges.map((e) => [`${e.from}->${e.to}`, e.provenance]));
  assert.deepEqual(unitProvenance, {
    'app->api': 'static (shared config)', 'app->cache': 'static', 'cron->api': 'declared', 'worker->api': 'static (shared config)', 'worker->cache': 'static (shared config)',
  });
  // `ferry graph` says so in its text output, at both levels.
  const workloads = toMermaid(renderableUnits(units));
  assert.match(workloads, /-->\|"shared config"\|/);
  assert.match(workloads, /-->\|"declared"\|/);
  assert.match(toMermaid(renderableObjects(graph)), /-->\|"env \(shared config\)"\|/);
});

test('a ConfigMap loaded by one workload is plain static config', () => {
  const objects = [...BACKENDS, configMap('own', { API_URL: 'http://api:80' }), deployment('app', [container({ envFrom: [{ configMapRef: { name: 'own' } }] })])];
  assert.equal(edge(objects, `Service/${NS}/api`).provenance, 'static');
});

test('CronJob and Pod field paths; Gateway API mirrors and cross-namespace backends', () => {
  const cron: KubeObject = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'report', namespace: NS }, spec: { jobTemplate: { spec: { template: { spec: { containers: [container({ args: ['--api-url=http://api:80'] })] } } } } } };
  const route: KubeObject = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'edge' }, spec: { rules: [{ backendRefs: [{ name: 'api', namespace: NS, port: 80 }], filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'cache', namespace: NS } } }] }] } };
  const graph = buildDependencyGraph([...BACKENDS, cron, route]);
  const cronEdge = graph.edges.find((e) => e.from === `CronJob/${NS}/report`)!;
  assert.equal(cronEdge.evidence![0]!.field, 'spec.jobTemplate.spec.template.spec.containers[app].args[0]');
  assert.deepEqual(graph.edges.filter((e) => e.from === 'HTTPRoute/edge/r').map((e) => e.to), [`Service/${NS}/api`, `Service/${NS}/cache`]);
});
