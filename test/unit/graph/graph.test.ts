import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { inventoryFromManifests } from '../../../src/inventory/load.js';
import { buildDependencyGraph } from '../../../src/graph/build.js';
import { buildUnitGraph } from '../../../src/graph/units.js';
import { stronglyConnectedComponents } from '../../../src/graph/scc.js';
import { idOf } from '../../../src/graph/model.js';
import { isWorkload } from '../../../src/graph/pod-spec.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { BOUTIQUE, REPO } from '../../helpers/cli.js';

function unitsOf(objects: KubeObject[]) {
  const graph = buildDependencyGraph(objects);
  return { graph, units: buildUnitGraph(graph, objects.filter(isWorkload).map(idOf)) };
}

test('online boutique: env addresses become call edges between workloads', () => {
  const { units } = unitsOf(inventoryFromManifests({ manifests: BOUTIQUE }).objects);
  const edges = new Set(units.edges.map((edge) => `${edge.from}->${edge.to}`));
  assert.ok(edges.has('frontend->cartservice'));
  assert.ok(edges.has('cartservice->redis-cart'));
  assert.ok(edges.has('loadgenerator->frontend'));
  assert.ok(edges.has('recommendationservice->productcatalogservice'));
  assert.equal(units.units.length, 12);
  const frontendToCart = units.edges.find((edge) => edge.from === 'frontend' && edge.to === 'cartservice')!;
  assert.deepEqual(frontendToCart.via, [{ from: 'Deployment/default/frontend', to: 'Service/default/cartservice', detail: 'container server env CART_SERVICE_ADDR' }]);
});

test('helm output: config, secrets, accounts, autoscaler, budget, route and declared edges', () => {
  const { graph } = unitsOf(inventoryFromManifests({ manifests: `${REPO}/test/fixtures/helm-rendered.yaml` }).objects);
  const edges = new Set(graph.edges.map((edge) => `${edge.from} ${edge.reason} ${edge.to}`));
  for (const expected of [
    'Service/default/shop-api selector Deployment/default/shop-api',
    'Deployment/default/shop-api envFrom ConfigMap/default/shared-settings',
    'Deployment/default/shop-api env Secret/default/shop-db',
    'Deployment/default/shop-api serviceAccount ServiceAccount/default/shop-api',
    'Deployment/default/shop-api env Service/data/shop-db',
    'HorizontalPodAutoscaler/default/shop-api scaleTarget Deployment/default/shop-api',
    'PodDisruptionBudget/default/shop-api disruptionBudget Deployment/default/shop-api',
    'Ingress/default/shop route Service/default/shop-api',
    'Deployment/default/shop-worker declared Service/data/shop-db',
    'StatefulSet/data/shop-db governingService Service/data/shop-db',
  ]) assert.ok(edges.has(expected), `missing edge: ${expected}`);
  assert.deepEqual(graph.dangling.map((d) => `${d.kind} ${d.target}`), ['external-host api.payments.example.com']);
});

test('workloads calling each other in a cycle become one unit', () => {
  const deployment = (name: string, calls: string): KubeObject => ({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'ns' },
    spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'x', env: [{ name: 'PEER', value: `${calls}:80` }] }] } } },
  });
  const service = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'ns' }, spec: { selector: { app: name } } });
  const objects = [deployment('a', 'b'), deployment('b', 'c'), deployment('c', 'a'), deployment('d', 'a'), service('a'), service('b'), service('c')];
  const { units } = unitsOf(objects);
  assert.deepEqual(units.units.map((unit) => unit.name), ['a+b+c', 'd']);
  assert.deepEqual(units.edges.map((edge) => `${edge.from}->${edge.to}`), ['d->a+b+c']);
});

test('property: SCCs partition the nodes and the condensed graph is acyclic', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 25 }), fc.array(fc.tuple(fc.nat(24), fc.nat(24)), { maxLength: 60 }), (size, rawEdges) => {
      const nodes = Array.from({ length: size }, (_, i) => `n${i}`);
      const edges = rawEdges.filter(([a, b]) => a < size && b < size).map(([a, b]) => [`n${a}`, `n${b}`] as const);
      const next = (node: string) => edges.filter(([from]) => from === node).map(([, to]) => to);
      const components = stronglyConnectedComponents(nodes, next);
      const componentOf = new Map(components.flatMap((members, i) => members.map((m) => [m, i] as const)));
      assert.equal(componentOf.size, size);
      assert.equal(components.flat().length, size);
      // Tarjan emits components in reverse topological order: every cross edge points to an earlier one.
      for (const [from, to] of edges) assert.ok(componentOf.get(from)! >= componentOf.get(to)!);
    }),
  );
});
