import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callGraphEdges, callGraphManifests } from '../../../src/lab/workloads/topologies.js';
import { buildDependencyGraph } from '../../../src/graph/build.js';
import { generatePlan } from '../../../src/plan/generate.js';

const SOURCE = { context: 'source' } as never;
const TARGET = { context: 'target' } as never;

test('call-graph app: calls read from a ConfigMap (configMapKeyRef) and a StatefulSet pod DNS name are edges, with evidence', () => {
  const graph = buildDependencyGraph(callGraphManifests({ namespace: 'shop' }));
  const edge = (from: string, to: string) => graph.edges.find((e) => e.from === `Deployment/shop/${from}` && e.to === `Service/shop/${to}`);
  for (const callee of ['paymentservice', 'emailservice']) {
    const found = edge('checkoutservice', callee);
    assert.ok(found, `checkoutservice → ${callee}`);
    assert.equal(found.reason, 'env');
    assert.equal(found.provenance, 'static');
    assert.equal(found.evidence?.[0]?.object, 'ConfigMap/shop/checkoutservice-calls');
    assert.match(found.evidence![0]!.field, /^ConfigMap shop\/checkoutservice-calls data\.CALLS via configMapKeyRef \(spec\.template\.spec\.containers\[server\]\.env\[CALLS\]\)$/);
  }
  const redis = edge('cartservice', 'redis-cart');
  assert.ok(redis, 'cartservice → redis-cart by its pod DNS name');
  assert.deepEqual(redis.evidence, [{ object: 'Deployment/shop/cartservice', field: 'spec.template.spec.containers[server].env[CALLS]', text: 'http://redis-cart-0.redis-cart.shop.svc.cluster.local:6379' }]);
  assert.deepEqual(graph.dangling, []);
  // Every call the topology makes is found; nothing else (SERVICE_NAME naming its own Service is no edge).
  const calls = graph.edges.filter((e) => e.runtime && e.from.startsWith('Deployment/')).map((e) => `${e.from.split('/')[2]}->${e.to.split('/')[2]}`).sort();
  assert.deepEqual(calls, callGraphEdges().map(({ caller, callee }) => `${caller}->${callee}`).sort());
});

test('call-graph app: consumers-first waves put every caller before its callees and redis-cart last', () => {
  const plan = generatePlan(callGraphManifests({ namespace: 'shop' }), { source: SOURCE, target: TARGET });
  const waveOf = new Map<string, number>();
  plan.spec.waves.forEach((wave, i) => { for (const slice of wave.slices) waveOf.set(slice.name, i); });
  for (const { caller, callee } of callGraphEdges()) {
    assert.ok(waveOf.get(caller)! < waveOf.get(callee)!, `${caller} (wave ${waveOf.get(caller)}) before ${callee} (wave ${waveOf.get(callee)})`);
  }
  const last = plan.spec.waves.at(-1)!;
  assert.deepEqual(last.slices.map((slice) => slice.name), ['redis-cart']);
});
