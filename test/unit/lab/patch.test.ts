import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mergePatch, strategicMergePatch } from '../../../src/lab/api/patch.js';
import { builtinListType } from '../../../src/lab/api/list-types.js';

const pod = { spec: { containers: [{ name: 'web', image: 'a', ports: [{ containerPort: 80 }] }, { name: 'side', image: 'b' }], volumes: [{ name: 'v1', emptyDir: {} }] } };

test('strategic merge merges containers by name and ports by containerPort', () => {
  const result = strategicMergePatch(pod, { spec: { containers: [{ name: 'web', image: 'c', ports: [{ containerPort: 8080 }] }] } }, builtinListType) as typeof pod;
  assert.deepEqual(result.spec.containers.map((c) => [c.name, c.image]), [['web', 'c'], ['side', 'b']]);
  assert.deepEqual(result.spec.containers[0]!.ports!.map((p) => p.containerPort), [80, 8080]);
});

test('strategic merge honours $patch: delete and replace, and null removes', () => {
  const deleted = strategicMergePatch(pod, { spec: { containers: [{ name: 'side', $patch: 'delete' }], volumes: null } }, builtinListType) as any;
  assert.deepEqual(deleted.spec.containers.map((c: { name: string }) => c.name), ['web']);
  assert.equal(deleted.spec.volumes, undefined);
  const replaced = strategicMergePatch(pod, { spec: { containers: [{ name: 'only', image: 'z' }, { $patch: 'replace' }] } }, builtinListType) as any;
  assert.deepEqual(replaced.spec.containers, [{ name: 'only', image: 'z' }]);
});

test('JSON merge patch: applying a patch twice equals applying it once', () => {
  const json = fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.oneof(fc.integer(), fc.constant(null), fc.dictionary(fc.constantFrom('x', 'y'), fc.oneof(fc.integer(), fc.constant(null)))));
  fc.assert(fc.property(json, json, (target, patch) => {
    const once = mergePatch(target, patch);
    assert.deepEqual(mergePatch(once, patch), once);
  }));
});
