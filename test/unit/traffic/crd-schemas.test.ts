import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { gatewayHttpRoute } from '../../../src/traffic/gateway-api.js';
import { istioDestinationRules, istioVirtualService } from '../../../src/traffic/istio.js';
import { gatewayApiProviderSchema, istioProviderSchema } from '../../../src/traffic/provider-config.js';
import type { KubeObject } from '../../../src/kube/object.js';

// The objects Ferry writes must be accepted by the upstream CRDs' structural schemas.
const CRDS = '/work/shared/crds';

function crdValidators(file: string): Map<string, ValidateFunction> {
  const validators = new Map<string, ValidateFunction>();
  // strict: false because Kubernetes schemas carry x-kubernetes-* keywords ajv does not know.
  const ajv = new Ajv({ strict: false, allErrors: true });
  (addFormatsModule as unknown as (ajv: Ajv) => void)(ajv);
  for (const format of ['int32', 'int64', 'double', 'float', 'byte']) ajv.addFormat(format, true);
  for (const document of parseAllDocuments(readFileSync(`${CRDS}/${file}`, 'utf8'))) {
    const crd = document.toJS() as { kind?: string; spec?: { group: string; names: { kind: string }; versions: Array<{ name: string; schema?: { openAPIV3Schema: object } }> } } | null;
    if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
    for (const version of crd.spec.versions) {
      if (version.schema) validators.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, ajv.compile(intOrString(version.schema.openAPIV3Schema)));
    }
  }
  return validators;
}

/** `x-kubernetes-int-or-string: true` means integer or string; ajv needs that spelled out. */
function intOrString(schema: unknown): object {
  if (Array.isArray(schema)) return schema.map(intOrString);
  if (typeof schema !== 'object' || schema === null) return schema as object;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) out[key] = intOrString(value);
  if (out['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  return out;
}

function validate(validators: Map<string, ValidateFunction>, object: KubeObject): void {
  const key = `${object.apiVersion}/${object.kind}`;
  const validateObject = validators.get(key);
  assert.ok(validateObject, `no CRD schema for ${key}`);
  const valid = validateObject(object);
  assert.ok(valid, `${key} ${object.metadata.name} is invalid: ${JSON.stringify(validateObject.errors, null, 2)}`);
}

const istioConfig = istioProviderSchema.parse({
  type: 'istio',
  namespace: 'shop',
  name: 'frontend',
  hosts: ['shop.example.com'],
  gateways: ['istio-system/public'],
  source: { host: 'frontend.shop.svc.cluster.local', subset: 'old', port: 80, labels: { 'ferry.dev/cluster': 'old' } },
  target: { host: 'frontend.shop.svc.cluster.local', subset: 'new', port: 80, labels: { 'ferry.dev/cluster': 'new' } },
});

test('Istio VirtualService and DestinationRule validate against the upstream CRD at every step of a ramp', () => {
  const validators = crdValidators('istio.yaml');
  for (const weight of [0, 1, 10, 50, 100]) {
    validate(validators, istioVirtualService(istioConfig, weight, { enabled: false, percent: 0 }));
    validate(validators, istioVirtualService(istioConfig, weight, { enabled: true, percent: 12.5 }));
  }
  const rules = istioDestinationRules(istioConfig);
  assert.equal(rules.length, 1, 'both subsets share one host, so one DestinationRule');
  for (const rule of rules) validate(validators, rule);
});

test('Gateway API HTTPRoute validates against the upstream standard-channel CRD, mirror filter included', () => {
  const validators = crdValidators('gateway-api-standard.yaml');
  const config = gatewayApiProviderSchema.parse({
    type: 'gateway-api',
    namespace: 'shop',
    name: 'frontend',
    parentRefs: [{ name: 'public', namespace: 'gateways' }],
    hostnames: ['shop.example.com'],
    source: { name: 'frontend', port: 80 },
    target: { name: 'frontend-new', port: 80 },
  });
  for (const weight of [0, 1, 10, 50, 100]) {
    validate(validators, gatewayHttpRoute(config, weight, { enabled: false, percent: 0 }));
    validate(validators, gatewayHttpRoute(config, weight, { enabled: true, percent: 5 }));
  }
});

test('a broken object is rejected, so the validation above is not vacuous', () => {
  const validators = crdValidators('gateway-api-standard.yaml');
  const route = gatewayHttpRoute(gatewayApiProviderSchema.parse({
    type: 'gateway-api', namespace: 'shop', name: 'frontend', parentRefs: [{ name: 'public' }], source: { name: 'a', port: 80 }, target: { name: 'b', port: 80 },
  }), 10, { enabled: false, percent: 0 });
  ((route.spec as { rules: Array<{ backendRefs: Array<{ weight: unknown }> }> }).rules[0]!.backendRefs[0]!).weight = -5;
  const validateRoute = validators.get('gateway.networking.k8s.io/v1/HTTPRoute')!;
  assert.equal(validateRoute(route), false);
});
