import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { inventoryFromManifests } from '../../../src/inventory/load.js';
import { generatePlan } from '../../../src/plan/generate.js';
import { planJsonSchema, type MigrationPlan } from '../../../src/plan/schema.js';
import { validatePlanMeaning } from '../../../src/plan/validate.js';
import { parsePlan } from '../../../src/plan/load.js';
import { toYamlText } from '../../../src/util/output.js';
import { BOUTIQUE, REPO } from '../../helpers/cli.js';

const boutique = inventoryFromManifests({ manifests: BOUTIQUE }).objects;
const options = { source: { manifests: BOUTIQUE }, target: { context: 'target' } } as const;

function waveOf(plan: MigrationPlan, slice: string): number {
  return plan.spec.waves.findIndex((wave) => wave.slices.some((s) => s.name === slice));
}

test('providers-first reverses the order: redis-cart first, loadgenerator last', () => {
  const plan = generatePlan(boutique, { ...options, order: 'providers-first' });
  assert.equal(waveOf(plan, 'redis-cart'), 0);
  assert.equal(waveOf(plan, 'loadgenerator'), plan.spec.waves.length - 1);
  assert.deepEqual(validatePlanMeaning(plan), []);
});

test('a slice carries its Service, account, config, autoscaler, budget and route; shared config goes with the first user', () => {
  const plan = generatePlan(inventoryFromManifests({ manifests: `${REPO}/test/fixtures/helm-rendered.yaml` }).objects, options);
  const slices = Object.fromEntries(plan.spec.waves.flatMap((wave) => wave.slices).map((slice) => [slice.name, slice]));
  const names = (slice: string) => slices[slice]!.resources.map((r) => `${r.kind}/${r.name}`);
  assert.deepEqual(names('shop-api'), [
    'ConfigMap/shared-settings', 'Deployment/shop-api', 'HorizontalPodAutoscaler/shop-api', 'Ingress/shop',
    'PodDisruptionBudget/shop-api', 'Secret/shop-db', 'Service/shop-api', 'ServiceAccount/shop-api',
  ]);
  assert.deepEqual(names('shop-worker'), ['Deployment/shop-worker']);
  assert.deepEqual(names('shop-db'), ['Service/shop-db', 'StatefulSet/shop-db']);
  assert.deepEqual(slices['shop-worker']!.traffic, { provider: 'none' });
  assert.ok(waveOf(plan, 'shop-db') > waveOf(plan, 'shop-api'));
  assert.ok(waveOf(plan, 'shop-db') > waveOf(plan, 'shop-worker'));
});

test('the same objects in any order give byte-identical YAML', () => {
  const first = toYamlText(generatePlan(boutique, options));
  const shuffled = [...boutique].reverse();
  assert.equal(toYamlText(generatePlan(shuffled, options)), first);
});

test('a generated plan validates against the exported JSON Schema and loads back unchanged', () => {
  const plan = generatePlan(boutique, options);
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile(planJsonSchema());
  assert.ok(validate(plan), JSON.stringify(validate.errors?.slice(0, 3)));
  assert.deepEqual(parsePlan(toYamlText(plan), 'plan.yaml').plan, plan);
});

test('meaning checks: unknown dependency, weights not ending at 100, duplicate resource, cycle', () => {
  const plan = generatePlan(boutique, options);
  const wave = plan.spec.waves[0]!;
  const slice = wave.slices[0]!;
  slice.dependsOn.push('no-such-slice');
  plan.spec.defaults.traffic.steps = [1, 10, 50];
  plan.spec.waves[1]!.slices[0]!.resources.push(slice.resources[0]!);
  plan.spec.waves[1]!.slices[0]!.dependsOn.push(slice.name);
  const problems = validatePlanMeaning(plan).filter((p) => p.severity === 'error');
  const messages = problems.map((p) => `${p.field}: ${p.message}`);
  assert.deepEqual(messages, [
    'spec.defaults.traffic.steps: traffic weights end at 50, not 100',
    'spec.waves[0].slices[0].dependsOn[1]: slice "loadgenerator" depends on unknown slice "no-such-slice"',
    'spec.waves[1].slices[0].resources[4]: Deployment default/loadgenerator is in slice "loadgenerator" and in "frontend"',
    'spec.waves[1].slices[0].dependsOn: slices depend on each other in a cycle: frontend → loadgenerator → frontend',
  ]);
});
