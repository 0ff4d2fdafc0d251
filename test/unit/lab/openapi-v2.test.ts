/**
 * /openapi/v2 as kubectl 1.27–1.28 read it: the gnostic protobuf decodes to the same
 * document as the JSON form, kinds carry x-kubernetes-group-version-kind as YAML, and CRD
 * schemas are converted to shapes kubectl's parser accepts. (kubectl itself reads it in
 * test/integration/lab/kubectl-versions.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { ResourceRegistry, type ResourceType } from '../../../src/lab/api/registry.js';
import { openApiV2Document, openApiV2Server, toV2Schema } from '../../../src/lab/api/openapi-v2.js';
import { openApiV2DocumentType } from '../../../src/lab/api/openapi-v2-proto.js';

const widget: ResourceType = {
  group: 'lab.ferry.dev', versions: ['v1'], kind: 'Widget', listKind: 'WidgetList', plural: 'widgets', singular: 'widget',
  namespaced: true, shortNames: [], categories: [], status: false, scale: false, generation: true,
  custom: {
    crdName: 'widgets.lab.ferry.dev', columns: {},
    schemas: { v1: { type: 'object', properties: { spec: { type: 'object', properties: { replicas: { type: 'integer', minimum: 0 }, tags: { type: 'array' } } } } } },
  },
};

function registryWithWidget(): ResourceRegistry {
  const registry = new ResourceRegistry();
  registry.add(widget);
  return registry;
}

type Decoded = Record<string, any>;

function decodeProtobuf(registry: ResourceRegistry): Decoded {
  const reply = openApiV2Server(registry)('application/com.github.proto-openapi.spec.v2@v1.0+protobuf', '1');
  assert.match(reply.contentType, /protobuf/);
  const type = openApiV2DocumentType();
  return type.toObject(type.decode(reply.body), { defaults: false }) as Decoded;
}

test('the protobuf form carries every served path with its GVK as YAML, as kubectl parses it', () => {
  const document = decodeProtobuf(registryWithWidget());
  assert.equal(document.swagger, '2.0');
  const path = document.paths.path.find((entry: Decoded) => entry.name === '/apis/apps/v1/namespaces/{namespace}/deployments/{name}');
  assert.ok(path, 'the Deployment item path is served');
  const gvk = path.value.patch.vendorExtension.find((entry: Decoded) => entry.name === 'x-kubernetes-group-version-kind');
  assert.deepEqual(parseYaml(gvk.value.yaml), { group: 'apps', version: 'v1', kind: 'Deployment' });
  const names = path.value.patch.parameters.map((item: Decoded) => item.parameter.nonBodyParameter.queryParameterSubSchema.name);
  assert.ok(names.includes('fieldValidation'), 'kubectl learns the server validates fields');
  const core = document.paths.path.find((entry: Decoded) => entry.name === '/api/v1/namespaces/{namespace}/configmaps/{name}');
  const coreGvk = core.value.get.vendorExtension.find((entry: Decoded) => entry.name === 'x-kubernetes-group-version-kind');
  assert.deepEqual(parseYaml(coreGvk.value.yaml), { group: '', version: 'v1', kind: 'ConfigMap' });
});

test('a CRD appears as a definition tagged with its GVK, and its PATCH offers no strategic merge patch', () => {
  const document = decodeProtobuf(registryWithWidget());
  const definition = document.definitions.additionalProperties.find((entry: Decoded) => entry.name === 'dev.ferry.lab.v1.Widget');
  assert.ok(definition, 'the Widget definition is served');
  const gvk = definition.value.vendorExtension.find((entry: Decoded) => entry.name === 'x-kubernetes-group-version-kind');
  assert.deepEqual(parseYaml(gvk.value.yaml), [{ group: 'lab.ferry.dev', version: 'v1', kind: 'Widget' }]);
  const fields = definition.value.properties.additionalProperties.map((entry: Decoded) => entry.name);
  assert.deepEqual(fields, ['apiVersion', 'kind', 'metadata', 'spec']);
  const path = document.paths.path.find((entry: Decoded) => entry.name === '/apis/lab.ferry.dev/v1/namespaces/{namespace}/widgets/{name}');
  assert.ok(!path.value.patch.consumes.includes('application/strategic-merge-patch+json'));
  const deployment = document.paths.path.find((entry: Decoded) => entry.name === '/apis/apps/v1/namespaces/{namespace}/deployments/{name}');
  assert.ok(deployment.value.patch.consumes.includes('application/strategic-merge-patch+json'));
});

test('built-in kinds have no definition, so kubectl computes their patches from its compiled-in types', () => {
  const document = openApiV2Document(new ResourceRegistry());
  assert.deepEqual(Object.keys(document.definitions), []);
});

test('a removed CRD disappears at the next generation', () => {
  const registry = registryWithWidget();
  const serve = openApiV2Server(registry);
  assert.match(serve('application/json', '1').body.toString(), /Widget/);
  registry.remove('lab.ferry.dev', 'widgets');
  assert.match(serve('application/json', '1').body.toString(), /Widget/, 'same generation: cached');
  assert.doesNotMatch(serve('application/json', '2').body.toString(), /Widget/);
});

const conversions: Array<[name: string, v3: Record<string, unknown>, v2: Record<string, unknown>]> = [
  ['an array without items gets an arbitrary item schema', { type: 'array' }, { type: 'array', items: {} }],
  ['int-or-string has no type', { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] }, { 'x-kubernetes-int-or-string': true }],
  ['nullable is dropped', { type: 'string', nullable: true, enum: ['a', 'b'] }, { type: 'string', enum: ['a', 'b'] }],
  ['a type v2 does not know is dropped', { type: 'null' }, {}],
  ['maps keep their value schema', { type: 'object', additionalProperties: { type: 'string' } }, { type: 'object', additionalProperties: { type: 'string' } }],
  ['CEL rules and list types stay as extensions', { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set' }, { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set' }],
];
for (const [name, v3, v2] of conversions) {
  test(`CRD schema to v2: ${name}`, () => assert.deepEqual(toV2Schema(v3), v2));
}
