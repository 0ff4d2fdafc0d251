import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { inventoryFromManifests } from '../../../src/inventory/load.js';
import { buildDependencyGraph } from '../../../src/graph/build.js';
import { generatePlan } from '../../../src/plan/generate.js';
import type { KubeObject } from '../../../src/kube/object.js';

/** Public demo applications' manifests, unchanged (test/fixtures/apps/README.md names source and commit). */
const APPS = fileURLToPath(new URL('../../fixtures/apps', import.meta.url));
const load = (...dirs: string[]): KubeObject[] => dirs.flatMap((dir) => inventoryFromManifests({ manifests: `${APPS}/${dir}` }).objects);
const SOURCE = { context: 'source' } as never;
const TARGET = { context: 'target' } as never;

/** Workload → Service call edges, as `caller -> Service name`. */
function calls(objects: KubeObject[]): string[] {
  return buildDependencyGraph(objects).edges
    .filter((edge) => edge.runtime && edge.to.startsWith('Service/') && !edge.from.startsWith('Service/') && /^(Deployment|StatefulSet|DaemonSet|Job|CronJob|Pod)\//.test(edge.from))
    .map((edge) => `${edge.from.split('/')[2]} -> ${edge.to.split('/')[2]}`)
    .sort();
}

/** Every caller's slice in an earlier wave than its callee's, and the named data stores in the last wave. */
function assertWaves(objects: KubeObject[], dataStores: string[]) {
  const plan = generatePlan(objects, { source: SOURCE, target: TARGET });
  const waveOf = new Map<string, number>();
  const sliceOf = new Map<string, string>();
  plan.spec.waves.forEach((wave, i) => {
    for (const slice of wave.slices) {
      waveOf.set(slice.name, i);
      for (const workload of slice.workloads) sliceOf.set(workload.name, slice.name);
    }
  });
  const graph = buildDependencyGraph(objects);
  const selects = new Map<string, string[]>();
  for (const edge of graph.edges) if (edge.reason === 'selector') selects.set(edge.to, [...(selects.get(edge.to) ?? []), edge.from]);
  for (const slice of plan.spec.waves.flatMap((wave) => wave.slices)) {
    for (const dependency of slice.dependsOn) assert.ok(waveOf.get(slice.name)! < waveOf.get(dependency)!, `${slice.name} moves before ${dependency}, which it calls`);
  }
  const last = plan.spec.waves.length - 1;
  for (const store of dataStores) assert.equal(waveOf.get(sliceOf.get(store)!), last, `${store} moves in the last wave`);
  return plan;
}

test('Bookinfo: the database URLs and hosts its manifests give, and its routes, are found; the databases move last', () => {
  const objects = load('bookinfo');
  assert.deepEqual(calls(objects), ['ratings-v2 -> mongodb', 'ratings-v2-mysql -> mysqldb']);
  const graph = buildDependencyGraph(objects);
  const mongo = graph.edges.find((edge) => edge.from === 'Deployment/default/ratings-v2' && edge.to === 'Service/default/mongodb')!;
  assert.deepEqual(mongo.evidence, [{ object: 'Deployment/default/ratings-v2', field: 'spec.template.spec.containers[ratings].env[MONGO_DB_URL]', text: 'mongodb://mongodb:27017' }]);
  const routes = graph.edges.filter((edge) => edge.reason === 'route').map((edge) => `${edge.from} -> ${edge.to}`);
  assert.deepEqual(routes, ['Ingress/default/gateway -> Service/default/productpage', 'VirtualService/default/bookinfo -> Service/default/productpage']);
  // MYSQL_DB_PASSWORD (a literal) and the mysql-credentials Secret are never read.
  const evidence = JSON.stringify(graph.edges.flatMap((edge) => edge.evidence ?? []));
  assert.ok(!evidence.includes('password'), evidence);
  assertWaves(objects, ['mongodb-v1', 'mysqldb-v1']);
});

test('Bookinfo with the Gateway API: the HTTPRoute routes to productpage', () => {
  const objects = [...load('bookinfo').filter((object) => object.kind !== 'Gateway'), ...load('bookinfo-gateway-api')];
  const graph = buildDependencyGraph(objects);
  assert.ok(graph.edges.some((edge) => edge.from === 'HTTPRoute/default/bookinfo' && edge.reason === 'route' && edge.to === 'Service/default/productpage'));
});

test('TeaStore: every service → its registry, persistence → its database, kieker → RabbitMQ; a service naming itself is no edge; callers move first', () => {
  const services = ['teastore-auth', 'teastore-image', 'teastore-persistence', 'teastore-recommender', 'teastore-webui'];
  const clusterip = load('teastore/clusterip');
  assert.deepEqual(calls(clusterip), [...services.map((s) => `${s} -> teastore-registry`), 'teastore-persistence -> teastore-db'].sort());
  assertWaves(clusterip, ['teastore-db', 'teastore-registry']);

  const kieker = load('teastore/ribbon-kieker');
  assert.deepEqual(calls(kieker), [...services.flatMap((s) => [`${s} -> teastore-registry`, `${s} -> teastore-kieker-rabbitmq`]), 'teastore-persistence -> teastore-db'].sort());
  assertWaves(kieker, ['teastore-db', 'teastore-kieker-rabbitmq']);
});

test('DeathStarBench hotelReservation and socialNetwork: their manifests name no address, so no call is claimed (only traffic shows them)', () => {
  const hotel = load('deathstarbench-hotel-reservation');
  assert.deepEqual(calls(hotel), []);
  assert.deepEqual(buildDependencyGraph(hotel).dangling, []);
  const social = load('deathstarbench-social-network');
  assert.deepEqual(calls(social), []);
  // The ConfigMaps its deploy script creates from files are named as missing, not guessed at.
  const missing = new Set(buildDependencyGraph(social).dangling.map((d) => `${d.kind} ${d.target}`));
  assert.ok(missing.has('missing-object ConfigMap/social-network/jaeger-config-yaml'));
  for (const objects of [hotel, social]) {
    const plan = generatePlan(objects, { source: SOURCE, target: TARGET });
    assert.equal(plan.spec.waves.length, 1, 'with no call known, every slice can move at once');
  }
});
