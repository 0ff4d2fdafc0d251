import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { inventoryFromManifests } from '../../../src/inventory/load.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { EDGE_SLICES_ANNOTATION, generatePlan } from '../../../src/plan/generate.js';
import { runnableProblems } from '../../../src/plan/runnable.js';
import { planJsonSchema, type MigrationPlan } from '../../../src/plan/schema.js';
import type { TrafficChoice } from '../../../src/plan/traffic-choice.js';
import { isFerryError } from '../../../src/util/errors.js';
import { toYamlText } from '../../../src/util/output.js';
import { BOUTIQUE } from '../../helpers/cli.js';

const boutique = inventoryFromManifests({ manifests: BOUTIQUE }).objects;
const env = { FERRY_ROUTER_TOKEN: 'token', PDNS_API_KEY: 'key' };
const addresses = { sourceAddresses: ['192.0.2.10'], targetAddresses: ['192.0.2.20'] };
const validateSchema = new Ajv2020({ strict: false, allErrors: true }).compile(planJsonSchema());

const choices: Array<{ choice: TrafficChoice; frontend: Record<string, unknown> }> = [
  { choice: { kind: 'router', router: { adminUrl: 'http://127.0.0.1:9901' } }, frontend: { type: 'router', route: 'frontend', tokenEnv: 'FERRY_ROUTER_TOKEN' } },
  { choice: { kind: 'haproxy', haproxy: { socket: '127.0.0.1:9999' } }, frontend: { type: 'haproxy', backend: 'frontend', sourceServer: 'source', targetServer: 'target' } },
  {
    choice: { kind: 'istio' },
    frontend: { type: 'istio', name: 'frontend', hosts: ['frontend-external.default.svc.cluster.local'], target: { host: 'frontend-external.default.svc.cluster.local', port: 80 } },
  },
  {
    choice: { kind: 'gateway-api', gatewayApi: { gateway: 'gateways/public' }, domain: 'shop.example' },
    frontend: { type: 'gateway-api', parentRefs: [{ namespace: 'gateways', name: 'public' }], hostnames: ['frontend.shop.example'], source: { name: 'frontend-external-ferry-source', port: 80 } },
  },
  { choice: { kind: 'ingress-nginx', domain: 'shop.example' }, frontend: { type: 'ingress-nginx', name: 'frontend', host: 'frontend.shop.example', target: { service: 'frontend-external', port: 80 } } },
  {
    choice: { kind: 'powerdns', powerdns: { apiUrl: 'http://127.0.0.1:8081', zone: 'shop.example.' }, ...addresses },
    frontend: { type: 'powerdns', zone: 'shop.example.', record: 'frontend.shop.example', source: ['192.0.2.10'], target: ['192.0.2.20'] },
  },
];

/** Each field of `expected` is deep-equal in `actual` (Node 20 has no partialDeepStrictEqual). */
function assertHas(actual: unknown, expected: Record<string, unknown>): void {
  assert.ok(actual && typeof actual === 'object', `expected an object, got ${JSON.stringify(actual)}`);
  for (const [key, value] of Object.entries(expected)) assert.deepEqual((actual as Record<string, unknown>)[key], value, key);
}

function plan(choice: TrafficChoice): MigrationPlan {
  return generatePlan(boutique, { source: { context: 'source' }, target: { context: 'target' }, traffic: choice, metrics: { url: 'http://127.0.0.1:9090' } });
}

function providers(p: MigrationPlan): Record<string, unknown> {
  return Object.fromEntries(p.spec.waves.flatMap((wave) => wave.slices).map((slice) => [slice.name, slice.traffic?.provider]));
}

for (const { choice, frontend } of choices) {
  test(`--traffic ${choice.kind}: runnable as generated, only the edge slice frontend ramps, schema-valid`, () => {
    const generated = plan(choice);
    assert.deepEqual(runnableProblems(generated, { env }), []);
    const byslice = providers(generated);
    assertHas(byslice.frontend, frontend);
    assert.deepEqual(Object.entries(byslice).filter(([, provider]) => provider !== 'none').map(([name]) => name), ['frontend']);
    assert.ok(validateSchema(generated), JSON.stringify(validateSchema.errors?.slice(0, 3)));
    assert.equal(toYamlText(plan(choice)), toYamlText(generated));
  });
}

test('--traffic none: nothing ramps, and the plan runs', () => {
  const generated = plan({ kind: 'none' });
  assert.deepEqual(runnableProblems(generated, { env }), []);
  assert.ok(Object.values(providers(generated)).every((provider) => provider === 'none'));
});

test('--traffic route53: generated, and refused only because Route 53 is generate-only', () => {
  const generated = plan({ kind: 'route53', route53: { hostedZoneId: 'Z0123' }, domain: 'shop.example', ...addresses });
  assertHas(providers(generated).frontend, { type: 'route53', record: 'frontend.shop.example', outDir: 'route53/frontend' });
  const problems = runnableProblems(generated, { env });
  assert.equal(problems.length, 1, JSON.stringify(problems));
  assert.match(problems[0]!.message, /route53 is generate-only/);
});

test('without --traffic, edge slices name the bare kind and the plan says why the others do not ramp', () => {
  const generated = generatePlan(boutique, { source: { context: 'source' }, target: { context: 'target' } });
  assert.equal(generated.spec.defaults.traffic.provider, 'router');
  assert.deepEqual(Object.entries(providers(generated)).filter(([, provider]) => provider !== 'none'), [['frontend', undefined]]);
  assert.equal(generated.metadata.annotations?.[EDGE_SLICES_ANNOTATION], 'frontend: Service default/frontend-external is a LoadBalancer');
  assert.match(generated.metadata.annotations?.['ferry.dev/internal-slices'] ?? '', /^adservice, cartservice, .*: only other services call them.*bridges/);
});

test('a setting no slice can supply is refused at plan time, naming the flag', () => {
  for (const [choice, flag] of [[{ kind: 'router' }, '--router-admin-url'], [{ kind: 'powerdns', powerdns: { apiUrl: 'http://x:8081' } }, '--pdns-zone'], [{ kind: 'ingress-nginx' }, '--domain']] as const) {
    assert.throws(() => plan(choice as TrafficChoice), (error: unknown) => isFerryError(error) && error.oneLine().includes(flag), `${choice.kind} without ${flag}`);
  }
});

const routed: KubeObject[] = [
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web' }] } } } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { app: 'web' }, ports: [{ name: 'metrics', port: 9100 }, { name: 'http', port: 8080 }] } },
  {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'web-route', namespace: 'shop' },
    spec: { parentRefs: [{ name: 'public', namespace: 'gateways', sectionName: 'https' }], hostnames: ['www.shop.example'], rules: [{ backendRefs: [{ name: 'web', port: 8080 }] }] },
  },
  {
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'web-vs', namespace: 'shop' },
    spec: { hosts: ['www.shop.example'], gateways: ['istio-system/public'], http: [{ route: [{ destination: { host: 'web.shop.svc.cluster.local', port: { number: 8080 } } }] }] },
  },
];

test("the slice's own HTTPRoute and VirtualService give the provider's names, hosts, parents and port", () => {
  const generate = (choice: TrafficChoice) => providers(generatePlan(routed, { source: { context: 'source' }, target: { context: 'target' }, traffic: choice })).web;
  assert.deepEqual(generate({ kind: 'gateway-api' }), {
    type: 'gateway-api', namespace: 'shop', name: 'web-route', parentRefs: [{ name: 'public', namespace: 'gateways', sectionName: 'https' }],
    hostnames: ['www.shop.example'], pathPrefix: '/', source: { name: 'web-ferry-source', port: 8080 }, target: { name: 'web', port: 8080 },
  });
  assert.deepEqual(generate({ kind: 'istio' }), {
    type: 'istio', namespace: 'shop', name: 'web-vs', hosts: ['www.shop.example'], gateways: ['istio-system/public'],
    source: { host: 'web-ferry-source.shop.svc.cluster.local', port: 8080 }, target: { host: 'web.shop.svc.cluster.local', port: 8080 },
  });
  assertHas(generate({ kind: 'powerdns', powerdns: { apiUrl: 'http://x:8081', zone: 'shop.example.' }, ...addresses }), { record: 'www.shop.example' });
});
