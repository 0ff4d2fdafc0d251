import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { validateRules } from '../../../src/lab/api/cel.js';
import { crdRuleProblems } from '../../../src/lab/api/cel-rules.js';
import { gatewayHttpRoute } from '../../../src/traffic/gateway-api.js';
import { istioDestinationRules, istioVirtualService } from '../../../src/traffic/istio.js';
import { gatewayApiProviderSchema, istioProviderSchema } from '../../../src/traffic/provider-config.js';
import type { KubeObject } from '../../../src/kube/object.js';

// The upstream CRDs are the oracle: their rules, their messages.
const CRDS = '/work/shared/crds';

function loadCrds(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(`${CRDS}/${file}`, 'utf8')).map((d) => d.toJS() as KubeObject).filter((d) => d?.kind === 'CustomResourceDefinition');
}

const gatewayCrds = loadCrds('gateway-api-standard.yaml');
const istioCrds = loadCrds('istio.yaml');

function schemaOf(crds: KubeObject[], kind: string, version = 'v1'): unknown {
  const crd = crds.find((c) => (c.spec as { names: { kind: string } }).names.kind === kind)!;
  const versions = (crd.spec as { versions: { name: string; schema: { openAPIV3Schema: unknown } }[] }).versions;
  return versions.find((v) => v.name === version)!.schema.openAPIV3Schema;
}

const httpRouteSchema = schemaOf(gatewayCrds, 'HTTPRoute');

function route(rule: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'x', namespace: 'shop' },
    spec: { parentRefs: [{ name: 'public' }], rules: [rule] },
  };
}

const causesOf = (schema: unknown, object: KubeObject, old?: KubeObject) => validateRules(schema, object, old).causes.map((c) => `${c.field}: ${c.message}`);

test('every rule of the upstream Gateway API and Istio CRDs compiles, so installing them is not refused', () => {
  for (const crd of [...gatewayCrds, ...istioCrds]) assert.deepEqual(crdRuleProblems(crd), [], crd.metadata.name);
});

test('the objects Ferry\'s traffic providers write pass every CEL rule of their CRDs', () => {
  const gateway = gatewayApiProviderSchema.parse({
    type: 'gateway-api', namespace: 'shop', name: 'frontend', parentRefs: [{ name: 'public', namespace: 'gateways' }],
    hostnames: ['shop.example.com'], source: { name: 'frontend', port: 80 }, target: { name: 'frontend-new', port: 80 },
  });
  const istio = istioProviderSchema.parse({
    type: 'istio', namespace: 'shop', name: 'frontend', hosts: ['shop.example.com'], gateways: ['istio-system/public'],
    source: { host: 'frontend.shop.svc.cluster.local', subset: 'old', port: 80, labels: { 'ferry.dev/cluster': 'old' } },
    target: { host: 'frontend.shop.svc.cluster.local', subset: 'new', port: 80, labels: { 'ferry.dev/cluster': 'new' } },
  });
  for (const weight of [0, 1, 50, 100]) {
    for (const mirror of [{ enabled: false, percent: 0 }, { enabled: true, percent: 5 }]) {
      const previous = gatewayHttpRoute(gateway, 0, { enabled: false, percent: 0 });
      assert.deepEqual(causesOf(httpRouteSchema, gatewayHttpRoute(gateway, weight, mirror), previous), []);
      assert.deepEqual(causesOf(schemaOf(istioCrds, 'VirtualService'), istioVirtualService(istio, weight, mirror)), []);
    }
  }
  for (const rule of istioDestinationRules(istio)) assert.deepEqual(causesOf(schemaOf(istioCrds, 'DestinationRule'), rule), []);
});

const upstreamRules: Array<{ name: string; object: KubeObject; schema?: unknown; expected: string }> = [
  {
    name: 'HTTPRoute: RequestRedirect and URLRewrite filters together',
    object: route({ filters: [
      { type: 'RequestRedirect', requestRedirect: { statusCode: 301 } },
      { type: 'URLRewrite', urlRewrite: { hostname: 'b.example.com' } },
    ] }),
    expected: 'spec.rules[0].filters: Invalid value: "array": May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both',
  },
  {
    name: 'HTTPRoute: an Exact path match that is not absolute',
    object: route({ matches: [{ path: { type: 'Exact', value: 'shop' } }] }),
    expected: 'spec.rules[0].matches[0].path: Invalid value: "object": value must be an absolute path and start with \'/\' when type one of [\'Exact\', \'PathPrefix\']',
  },
  {
    name: 'HTTPRoute: a backend timeout longer than the request timeout',
    object: route({ timeouts: { request: '5s', backendRequest: '10s' } }),
    expected: 'spec.rules[0].timeouts: Invalid value: "object": backendRequest timeout cannot be longer than request timeout',
  },
  {
    name: 'HTTPRoute: a mirror fraction above 1 (integers compared as CEL ints)',
    object: route({ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'b', port: 80 }, fraction: { numerator: 3, denominator: 2 } } }] }),
    expected: 'spec.rules[0].filters[0].requestMirror.fraction: Invalid value: "object": numerator must be less than or equal to denominator',
  },
  {
    name: 'Istio VirtualService: a route timeout under 1ms (a scalar shows its value)',
    schema: schemaOf(istioCrds, 'VirtualService'),
    object: { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'x' }, spec: { hosts: ['a'], http: [{ timeout: '0.5ms', route: [{ destination: { host: 'a' } }] }] } },
    expected: 'spec.http[0].timeout: Invalid value: "0.5ms": must be a valid duration greater than 1ms',
  },
];

upstreamRules.push({
  name: 'HTTPRoute: URLRewrite replacePrefixMatch with two matches (has() on an indexed receiver)',
  object: route({
    matches: [{ path: { type: 'PathPrefix', value: '/a' } }, { path: { type: 'PathPrefix', value: '/b' } }],
    filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/c' } } }],
  }),
  expected: 'spec.rules[0]: Invalid value: "object": When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified',
}, {
  name: 'GRPCRoute: a service name that is not a gRPC name (RE2 inline flag (?i))',
  schema: schemaOf(gatewayCrds, 'GRPCRoute'),
  object: {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute', metadata: { name: 'g', namespace: 'shop' },
    spec: { rules: [{ matches: [{ method: { type: 'Exact', service: '1bad' } }] }] },
  },
  expected: 'spec.rules[0].matches[0].method: Invalid value: "object": service must only contain valid characters (matching ^(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*$)',
});

test('RE2 inline flags work: a GRPCRoute with a mixed-case service name passes', () => {
  const grpc = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute', metadata: { name: 'g', namespace: 'shop' }, spec: { rules: [{ matches: [{ method: { type: 'Exact', service: 'shop.Cart', method: 'Get' } }] }] } };
  assert.deepEqual(causesOf(schemaOf(gatewayCrds, 'GRPCRoute'), grpc), []);
});

for (const { name, object, schema, expected } of upstreamRules) {
  test(`upstream rule refuses ${name}`, () => {
    assert.deepEqual(causesOf(schema ?? httpRouteSchema, object), [expected]);
  });
}

test('parentRefs rules read the escaped `namespace` property (__namespace__) and the schema defaults (group, kind)', () => {
  const refs = (parentRefs: unknown[]) => {
    const object = route({});
    (object.spec as Record<string, unknown>).parentRefs = parentRefs;
    return object;
  };
  assert.deepEqual(causesOf(httpRouteSchema, refs([{ name: 'public', namespace: 'gw' }, { name: 'public', namespace: 'gw' }])), [
    'spec.parentRefs: Invalid value: "array": sectionName must be unique when parentRefs includes 2 or more references to the same parent',
  ]);
  // Told apart only by `namespace`: a rule that could not read it would refuse this too.
  assert.deepEqual(causesOf(httpRouteSchema, refs([{ name: 'public', namespace: 'gw' }, { name: 'public', namespace: 'other' }])), []);
});

const ownSchema = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      'x-kubernetes-validations': [
        { rule: 'has(self.maxReplicas) ? self.replicas <= self.maxReplicas : true', messageExpression: '"replicas " + string(self.replicas) + " exceeds " + string(self.maxReplicas)' },
        { rule: '!has(self.legacy)', reason: 'FieldValueForbidden', fieldPath: '.legacy', message: 'legacy is gone' },
      ],
      properties: {
        replicas: { type: 'integer' },
        maxReplicas: { type: 'integer' },
        legacy: { type: 'string' },
        storageClass: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'storageClass is immutable' }] },
        ports: {
          type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'],
          items: { type: 'object', properties: { name: { type: 'string' }, port: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self >= oldSelf', message: 'a port may only grow' }] } } },
        },
        tier: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self in ["gold", "silver"]' }] },
      },
    },
  },
};

const own = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'ferry.dev/v1', kind: 'Thing', metadata: { name: 't' }, spec });

test('messageExpression, reason and fieldPath shape the error as the real server does', () => {
  assert.deepEqual(causesOf(ownSchema, own({ replicas: 5, maxReplicas: 3, legacy: 'x' })), [
    'spec: Invalid value: replicas 5 exceeds 3',
    'spec.legacy: Forbidden: legacy is gone',
  ]);
  assert.deepEqual(causesOf(ownSchema, own({ tier: 'bronze' })), ['spec.tier: Invalid value: "bronze": failed rule: self in ["gold", "silver"]']);
  assert.deepEqual(causesOf(ownSchema, own({ maxReplicas: 3 })), [
    'spec: Invalid value: "object": no such key: replicas evaluating rule: has(self.maxReplicas) ? self.replicas <= self.maxReplicas : true',
  ], 'a runtime error names the rule');
});

test('transition rules run only on update, with oldSelf correlated by property and by list-map key', () => {
  const before = own({ storageClass: 'fast', ports: [{ name: 'http', port: 80 }, { name: 'grpc', port: 90 }] });
  assert.deepEqual(causesOf(ownSchema, before), [], 'create: no oldSelf, transition rules skipped');
  const changed = own({ storageClass: 'slow', ports: [{ name: 'grpc', port: 85 }, { name: 'http', port: 80 }, { name: 'new', port: 1 }] });
  assert.deepEqual(causesOf(ownSchema, changed, before), [
    'spec.storageClass: Invalid value: "slow": storageClass is immutable',
    'spec.ports[0].port: Invalid value: 85: a port may only grow',
  ]);
});

test('ratcheting: a rule failing on a value unchanged since the old object only warns', () => {
  const old = own({ tier: 'bronze', replicas: 1, maxReplicas: 2 });
  const outcome = validateRules(ownSchema, own({ tier: 'bronze', replicas: 2, maxReplicas: 2 }), old);
  assert.deepEqual(outcome.causes, []);
  assert.deepEqual(outcome.warnings, ['spec.tier: Invalid value: "bronze": failed rule: self in ["gold", "silver"]']);
});

test('a CRD whose rule does not compile is refused at creation, naming the rule and the function', () => {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'things.ferry.dev' },
    spec: { versions: [{ name: 'v1', schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-validations': [
      { rule: 'quantity(self.size).isGreaterThan(quantity("1Gi"))' },
      { rule: 'self.replicas > ', message: 'broken' },
      { rule: 'self.size()', reason: 'Nope' },
      { rule: 'self.ok', messageExpression: 'no_such_variable' },
      { rule: 'self.names.isSorted() && isURL(self.home) && self.list.max() == 3' },
      { rule: 'self.a ||\nself.b' },
    ] } } } } }] },
  } as KubeObject;
  const problems = crdRuleProblems(crd).map((c) => `${c.field}: ${c.message}`);
  const at = 'spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations';
  assert.equal(problems.length, 6, problems.join('\n'));
  assert.equal(problems[5], `${at}[5].message: Required value: message must be specified if rule contains line break`);
  assert.match(problems[0]!, new RegExp(`^${escape(at)}\\[0\\]\\.rule: Invalid value: apiextensions\\.ValidationRule\\{Rule:"quantity.*compilation failed: ERROR: <input>:1:1: .*no quantity\\(\\)`));
  assert.match(problems[1]!, new RegExp(`^${escape(at)}\\[1\\]\\.rule: .*compilation failed: ERROR: <input>:1:`));
  assert.match(problems[2]!, new RegExp(`^${escape(at)}\\[2\\]\\.reason: Unsupported value: "Nope"`));
  assert.match(problems[3]!, new RegExp(`^${escape(at)}\\[2\\]\\.rule: .*must evaluate to a bool, got int`));
  assert.match(problems[4]!, new RegExp(`^${escape(at)}\\[3\\]\\.messageExpression: .*messageExpression compilation failed: ERROR: <input>:1:1: Unknown variable: no_such_variable`));
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
