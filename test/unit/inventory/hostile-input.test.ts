import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inventoryFromManifests } from '../../../src/inventory/load.js';
import { buildDependencyGraph } from '../../../src/graph/build.js';
import { desiredObjects } from '../../../src/apply/desired.js';
import { transformProblems } from '../../../src/apply/transforms/index.js';
import { generatePlan } from '../../../src/plan/generate.js';
import { loadPlan } from '../../../src/plan/load.js';
import type { KubeObject } from '../../../src/kube/object.js';
import { FerryError } from '../../../src/util/errors.js';
import { toYamlText } from '../../../src/util/output.js';
import { firstInvalidUtf8 } from '../../../src/util/text-file.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-hostile-'));
let counter = 0;
function file(content: string | Uint8Array, name = `input-${++counter}.yaml`): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function ferryError(call: () => unknown): FerryError {
  try {
    call();
  } catch (error) {
    assert.ok(error instanceof FerryError, `expected a FerryError, got ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    return error;
  }
  assert.fail('expected a FerryError, got a result');
}

const deployment = (spec: string) => `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec: ${spec}\n`;
const goodDeployment = deployment('\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx}]');

function planText(extra: { transforms?: string } = {}): string {
  const manifests = file(goodDeployment);
  const plan = generatePlan(inventoryFromManifests({ manifests }).objects, { source: { manifests }, target: { context: 'target' }, traffic: { kind: 'none' } });
  const text = toYamlText(plan);
  return extra.transforms ? text.replace(/ {2}transforms:\n( {4}- name: strip-server-fields\n)/, `  transforms:\n$1${extra.transforms}`) : text;
}

test('a manifest with bytes that are not UTF-8 is refused at the first bad byte, never applied with U+FFFD in its place', () => {
  const bytes = Buffer.concat([Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  k: "ab'), Buffer.from([0xff, 0xfe]), Buffer.from('cd"\n')]);
  const path = file(bytes);
  const error = ferryError(() => inventoryFromManifests({ manifests: path }));
  assert.equal(error.code, 'encoding');
  assert.deepEqual([error.location.file, error.location.line, error.location.column], [path, 5, 9]);
  assert.match(error.oneLine(), /not valid UTF-8: byte 0xFF/);
  assert.match(error.fix ?? '', /UTF-8/);
});

test('a plan file that is not UTF-8 is refused the same way', () => {
  const text = planText();
  const at = text.indexOf('name: migration') + 'name: migr'.length;
  const bytes = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xe9]), Buffer.from(text.slice(at))]); // Latin-1 "é"
  const error = ferryError(() => loadPlan(file(bytes)));
  assert.equal(error.code, 'encoding');
  assert.equal(error.location.line, text.slice(0, at).split('\n').length);
});

test('the first invalid byte is found for overlongs, surrogates, truncated and out-of-range sequences', () => {
  const cases: Array<[number[], number]> = [
    [[0x61, 0xc3, 0xa9, 0x62], 4], // valid "aéb"
    [[0x61, 0xc0, 0xaf], 1], // overlong "/"
    [[0xed, 0xa0, 0x80], 0], // UTF-16 surrogate
    [[0x61, 0x62, 0xe2, 0x82], 2], // truncated "€"
    [[0xf4, 0x90, 0x80, 0x80], 0], // above U+10FFFF
    [[0xf0, 0x9f, 0x98, 0x80, 0x80], 4], // a lone continuation byte after an emoji
  ];
  for (const [bytes, offset] of cases) assert.equal(firstInvalidUtf8(Uint8Array.from(bytes)), offset, `bytes ${bytes.map((b) => b.toString(16)).join(' ')}`);
});

test('an alias bomb inside transforms[].with is refused when the plan is read, at once, naming the alias', () => {
  const levels = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) levels.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(',')}]`);
  const text = planText({ transforms: `    - name: json-patch\n      with:\n${levels.map((line) => `        ${line}`).join('\n')}\n` });
  const started = performance.now();
  const error = ferryError(() => loadPlan(file(text)));
  assert.ok(performance.now() - started < 1000, 'refused in under a second');
  assert.equal(error.code, 'yaml');
  assert.match(error.message, /aliases expand the document to [\d,]+ values/);
  assert.equal(error.location.line, text.split('\n').findIndex((line) => line.includes('*a0')) + 1);
});

test('a recursive alias is refused', () => {
  const error = ferryError(() => inventoryFromManifests({ manifests: file('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: &d\n  self: *d\n') }));
  assert.match(error.message, /contains itself/);
});

test('anchors used as people use them (a shared env block in many objects) are fine', () => {
  // Anchors live within one document: a List whose first item defines the block the others reuse.
  const item = (i: number, env: string) => `  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: w${i}}, spec: {template: {spec: {containers: [{name: c, image: i, env: ${env}}]}}}}`;
  const items = [item(0, '&env [{name: A, value: "1"}, {name: B, value: "2"}, {name: C, value: "http://api:8080"}]'), ...Array.from({ length: 299 }, (_, i) => item(i + 1, '*env'))];
  const inventory = inventoryFromManifests({ manifests: file(`apiVersion: v1\nkind: List\nitems:\n${items.join('\n')}\n`) });
  assert.equal(inventory.objects.length, 300);
});

test('transform settings over 64 KiB are refused, naming the field', () => {
  const big = 'x'.repeat(70_000);
  const text = planText({ transforms: `    - name: map-image-registry\n      with:\n        big: ${big}\n` });
  const error = ferryError(() => loadPlan(file(text)));
  assert.equal(error.location.field, 'spec.transforms[1].with');
  assert.match(error.message, /larger than 64 KiB/);
});

test('a Deployment with `spec: 5` is an error naming the object, the field and where it is, not a JavaScript error', () => {
  const path = file(deployment('5'));
  const error = ferryError(() => inventoryFromManifests({ manifests: path }));
  assert.equal(error.location.object, 'Deployment shop/web');
  assert.equal(error.location.line, 6);
  assert.equal(error.oneLine(), `${path}:6:1: Deployment shop/web: spec: expected a mapping, got number 5 (fix: ${error.fix})`);
});

test('values Kubernetes takes only as strings are errors that say to quote them', () => {
  const labels = ferryError(() => inventoryFromManifests({ manifests: file(goodDeployment.replace('labels: {app: web}', 'labels: {app: web, version: 1.0}')) }));
  assert.equal(labels.message, 'spec.template.metadata.labels.version: expected a string, got number 1');
  assert.match(labels.fix ?? '', /quote the value/);
  const env = ferryError(() => inventoryFromManifests({ manifests: file(goodDeployment.replace('image: nginx}', 'image: nginx, env: [{name: PORT, value: 8080}]}')) }));
  assert.match(env.message, /containers\[0\]\.env\[0\]\.value: expected a string, got number 8080/);
  const containers = ferryError(() => inventoryFromManifests({ manifests: file(goodDeployment.replace(/containers: .*/, 'containers: {name: web}')) }));
  assert.equal(containers.message, 'spec.template.spec.containers: expected a list, got a mapping');
});

test('objects handed to the graph or to desiredObjects without an inventory are checked the same way', () => {
  const bad = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' }, spec: 5 } as KubeObject;
  assert.equal(ferryError(() => buildDependencyGraph([bad])).location.object, 'Deployment shop/web');
  const manifests = file(goodDeployment);
  const inventory = inventoryFromManifests({ manifests });
  const plan = generatePlan(inventory.objects, { source: { manifests }, target: { context: 'target' }, traffic: { kind: 'none' } });
  const error = ferryError(() => desiredObjects(plan, { ...inventory, objects: [bad] }));
  assert.equal(error.message, 'spec: expected a mapping, got number 5');
});

test('a json-patch that breaks an object is an error naming the transform and the object', () => {
  const manifests = file(goodDeployment);
  const inventory = inventoryFromManifests({ manifests });
  const plan = generatePlan(inventory.objects, { source: { manifests }, target: { context: 'target' }, traffic: { kind: 'none' } });
  plan.spec.transforms.push({ name: 'json-patch', with: { select: { kind: 'Deployment' }, patch: [{ op: 'replace', path: '/spec/template/spec/containers', value: 'web' }] } });
  plan.spec.transforms.push({ name: 'map-image-registry', with: { 'docker.io': 'mirror.example.com' } });
  const error = ferryError(() => desiredObjects(plan, inventory));
  assert.equal(error.code, 'transform');
  assert.equal(error.location.field, 'spec.transforms[1].with');
  assert.match(error.message, /^transform "json-patch" leaves Deployment shop\/web malformed: spec\.template\.spec\.containers: expected a list, got string "web"$/);
});

test('a manifests folder with a directory as plan, a broken link or a link loop: an error naming the path', () => {
  assert.match(ferryError(() => loadPlan(dir)).message, /plan file is a directory, not a file/);
  const broken = mkdtempSync(join(tmpdir(), 'ferry-links-'));
  writeFileSync(join(broken, 'a.yaml'), goodDeployment);
  symlinkSync(join(broken, 'missing.yaml'), join(broken, 'b.yaml'));
  const brokenError = ferryError(() => inventoryFromManifests({ manifests: broken }));
  assert.deepEqual([brokenError.location.file, brokenError.message], [join(broken, 'b.yaml'), 'a broken symbolic link among the manifests']);
  const looping = mkdtempSync(join(tmpdir(), 'ferry-loop-'));
  mkdirSync(join(looping, 'sub'));
  writeFileSync(join(looping, 'sub', 'a.yaml'), goodDeployment);
  symlinkSync(looping, join(looping, 'sub', 'up'));
  assert.match(ferryError(() => inventoryFromManifests({ manifests: looping })).message, /a folder reached twice through symbolic links/);
});

test('transformProblems finds what the run would refuse in spec.transforms and in slices, with the plan path', () => {
  const manifests = file(goodDeployment);
  const plan = generatePlan(inventoryFromManifests({ manifests }).objects, { source: { manifests }, target: { context: 'target' }, traffic: { kind: 'none' } });
  plan.spec.transforms.push({ name: 'json-patch', with: { patch: [] } });
  plan.spec.waves[0]!.slices[0]!.transforms = [{ name: 'map-everything' }];
  assert.deepEqual(transformProblems(plan).map((problem) => [problem.path.join('/'), problem.message]), [
    ['spec/transforms/1/with/select', 'transform "json-patch": Invalid input: expected object, received undefined'],
    ['spec/waves/0/slices/0/transforms/0/name', 'unknown transform "map-everything"'],
  ]);
});
