import 'reflect-metadata'; // @peculiar/x509 (lab TLS) needs the Reflect polyfill loaded first
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { Agent, request } from 'undici';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import type { KubeObject } from '../../../src/kube/object.js';

// CRD validation rules (x-kubernetes-validations) as real kubectl meets them on the lab:
// the upstream Gateway API CRDs, objects a real server refuses refused with the rule's
// message on create, update, patch and server-side apply; a transition rule on update; a CRD
// whose rule does not compile refused at creation.
let lab: TestLab;

function gatewayCrd(kind: string): KubeObject {
  return parseAllDocuments(readFileSync('/work/shared/crds/gateway-api-standard.yaml', 'utf8'))
    .map((document) => document.toJS() as KubeObject)
    .find((object) => object?.kind === 'CustomResourceDefinition' && (object.spec as { names: { kind: string } }).names.kind === kind)!;
}

function file(name: string, objects: unknown): string {
  const path = join(lab.dir, name);
  writeFileSync(path, stringify(objects));
  return path;
}

const route = (name: string, rule: Record<string, unknown>) => ({
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: 'default' },
  spec: { parentRefs: [{ name: 'public' }], rules: [{ backendRefs: [{ name: 'web', port: 80 }], ...rule }] },
});

const redirectAndRewrite = {
  filters: [
    { type: 'RequestRedirect', requestRedirect: { statusCode: 301 } },
    { type: 'URLRewrite', urlRewrite: { hostname: 'b.example.com' } },
  ],
  backendRefs: undefined,
};
const BOTH_FILTERS = 'The HTTPRoute "both" is invalid: spec.rules[0].filters: Invalid value: "array": May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both';

before(async () => {
  lab = await startTestLab(['cel']);
  const applied = await lab.kubectl(['apply', '--server-side', '-f', file('httproute-crd.yaml', gatewayCrd('HTTPRoute'))]);
  assert.equal(applied.code, 0, applied.stderr);
});

after(async () => {
  await lab?.stop();
  rmSync(lab.dir, { recursive: true, force: true });
});

test('kubectl apply of an HTTPRoute a real server refuses prints the rule\'s message; a valid one is created', async () => {
  const refused = await lab.kubectl(['apply', '-f', file('both.yaml', route('both', redirectAndRewrite))]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, new RegExp(escape(BOTH_FILTERS)));

  const relative = await lab.kubectl(['create', '-f', file('relative.yaml', route('relative', { matches: [{ path: { type: 'PathPrefix', value: 'shop' } }] }))]);
  assert.notEqual(relative.code, 0);
  assert.match(relative.stderr, /The HTTPRoute "relative" is invalid: spec.rules\[0\].matches\[0\].path: Invalid value: "object": value must be an absolute path and start with '\/' when type one of \['Exact', 'PathPrefix'\]/);

  const good = await lab.kubectl(['apply', '-f', file('good.yaml', route('good', { matches: [{ path: { type: 'PathPrefix', value: '/shop' } }], timeouts: { request: '10s', backendRequest: '5s' } }))]);
  assert.equal(good.code, 0, good.stderr);
});

test('server-side apply, merge patch and replace are held to the same rules', async () => {
  const ssa = await lab.kubectl(['apply', '--server-side', '-f', file('both-ssa.yaml', route('both', redirectAndRewrite))]);
  assert.notEqual(ssa.code, 0);
  assert.match(ssa.stderr, new RegExp(escape(BOTH_FILTERS)));

  const patch = await lab.kubectl(['patch', 'httproute', 'good', '--type', 'merge', '-p', JSON.stringify({ spec: { rules: [{ backendRefs: [{ name: 'web', port: 80 }], timeouts: { request: '5s', backendRequest: '10s' } }] } })]);
  assert.notEqual(patch.code, 0);
  assert.match(patch.stderr, /The HTTPRoute "good" is invalid: spec.rules\[0\].timeouts: Invalid value: "object": backendRequest timeout cannot be longer than request timeout/);

  const current = JSON.parse((await lab.kubectl(['get', 'httproute', 'good', '-o', 'json'])).stdout) as KubeObject;
  (current.spec as { rules: Record<string, unknown>[] }).rules[0]!.filters = redirectAndRewrite.filters;
  const replaced = await lab.kubectl(['replace', '-f', file('replace.yaml', current)]);
  assert.notEqual(replaced.code, 0);
  assert.match(replaced.stderr, /spec.rules\[0\].filters: Invalid value: "array": May specify either/);

  const after = JSON.parse((await lab.kubectl(['get', 'httproute', 'good', '-o', 'json'])).stdout) as KubeObject;
  assert.deepEqual((after.spec as { rules: { timeouts?: unknown }[] }).rules[0]!.timeouts, { request: '10s', backendRequest: '5s' }, 'refused writes change nothing');
});

const thingsCrd = (rule: Record<string, unknown>) => ({
  apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'volumes.cel.ferry.dev' },
  spec: {
    group: 'cel.ferry.dev', scope: 'Namespaced', names: { kind: 'Volume', plural: 'volumes', singular: 'volume' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: {
      type: 'object',
      properties: { storageClass: { type: 'string', 'x-kubernetes-validations': [rule] }, size: { type: 'integer' } },
      'x-kubernetes-validations': [{ rule: 'self.size <= 100', messageExpression: '"size " + string(self.size) + " is over the limit of 100"' }],
    } } } } }],
  },
});

test('a transition rule (oldSelf) lets the create through and refuses the change; messageExpression is the message', async () => {
  const created = await lab.kubectl(['apply', '-f', file('volume-crd.yaml', thingsCrd({ rule: 'self == oldSelf', message: 'storageClass is immutable' }))]);
  assert.equal(created.code, 0, created.stderr);
  const volume = (storageClass: string, size: number) => ({ apiVersion: 'cel.ferry.dev/v1', kind: 'Volume', metadata: { name: 'data', namespace: 'default' }, spec: { storageClass, size } });
  const first = await lab.kubectl(['apply', '-f', file('volume.yaml', volume('fast', 10))]);
  assert.equal(first.code, 0, first.stderr);
  const changed = await lab.kubectl(['apply', '-f', file('volume.yaml', volume('slow', 10))]);
  assert.notEqual(changed.code, 0);
  assert.match(changed.stderr, /The Volume "data" is invalid: spec.storageClass: Invalid value: "slow": storageClass is immutable/);
  const tooBig = await lab.kubectl(['apply', '--server-side', '--force-conflicts', '-f', file('volume.yaml', volume('fast', 500))]);
  assert.notEqual(tooBig.code, 0);
  assert.match(tooBig.stderr, /The Volume "data" is invalid: spec: Invalid value: size 500 is over the limit of 100/);
});

test('a CRD whose rule uses a function the lab cannot compile is refused at creation, naming it', async () => {
  const crd = thingsCrd({ rule: 'quantity(self).isGreaterThan(quantity("1Gi"))' });
  crd.metadata.name = 'others.cel.ferry.dev';
  Object.assign(crd.spec, { group: 'cel.ferry.dev', names: { kind: 'Other', plural: 'others', singular: 'other' } });
  const refused = await lab.kubectl(['apply', '-f', file('other-crd.yaml', crd)]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /The CustomResourceDefinition "others.cel.ferry.dev" is invalid: spec.versions\[0\].schema.openAPIV3Schema.properties\[spec\].properties\[storageClass\].x-kubernetes-validations\[0\].rule: Invalid value: apiextensions.ValidationRule\{Rule:"quantity\(self\).*compilation failed: ERROR: <input>:1:1: .*no quantity\(\)/);
  const listed = await lab.kubectl(['get', 'crd', 'others.cel.ferry.dev']);
  assert.notEqual(listed.code, 0, 'the CRD was not stored');
});

test('the Status body is what client libraries decode: 422, reason Invalid, one cause per failed rule with its field', async () => {
  const body = JSON.stringify(route('raw', redirectAndRewrite));
  const response = await fetchLab('POST', '/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes', body);
  assert.equal(response.status, 422);
  const status = await response.json() as { kind: string; reason: string; code: number; details: { name: string; group: string; kind: string; causes: unknown[] } };
  assert.equal(status.kind, 'Status');
  assert.equal(status.reason, 'Invalid');
  assert.equal(status.code, 422);
  assert.equal(status.details.name, 'raw');
  assert.equal(status.details.group, 'gateway.networking.k8s.io');
  assert.equal(status.details.kind, 'HTTPRoute');
  assert.deepEqual(status.details.causes, [{
    type: 'FieldValueInvalid', field: 'spec.rules[0].filters',
    message: 'Invalid value: "array": May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both',
  }]);
});

async function fetchLab(method: 'POST', path: string, body: string): Promise<{ status: number; json(): Promise<unknown> }> {
  const cluster = lab.clusters[0]!;
  const agent = new Agent({ connect: { ca: cluster.caPem } });
  try {
    const response = await request(`${cluster.url}${path}`, { method, body, dispatcher: agent, headers: { authorization: `Bearer ${cluster.token}`, 'content-type': 'application/json' } });
    const parsed = await response.body.json();
    return { status: response.statusCode, json: async () => parsed };
  } finally {
    await agent.close();
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
