import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { serverSideApply, recordUpdate, ApplyConflictError } from '../../../src/lab/api/ssa.js';
import { fromFieldsV1, toFieldsV1, fieldSetOf } from '../../../src/lab/api/field-set.js';
import { builtinListType } from '../../../src/lab/api/list-types.js';

const base = { live: undefined, force: false, apiVersion: 'apps/v1', now: '2025-01-01T00:00:00Z', resolver: builtinListType, skipStatus: true };
const deploy = (containers: unknown[], replicas?: number) => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' },
  spec: { ...(replicas !== undefined ? { replicas } : {}), template: { spec: { containers } } },
});

test('two managers own different containers of one list; each apply keeps the other', () => {
  const a = serverSideApply({ ...base, manager: 'a', applied: deploy([{ name: 'web', image: 'nginx:1' }]) });
  const b = serverSideApply({ ...base, live: { ...a.object, metadata: { ...(a.object.metadata as object), managedFields: a.managedFields } }, manager: 'b', applied: deploy([{ name: 'sidecar', image: 'envoy:1' }]) });
  const containers = (b.object as any).spec.template.spec.containers.map((c: { name: string }) => c.name);
  assert.deepEqual(containers, ['web', 'sidecar']);
  assert.deepEqual(b.managedFields.map((m) => m.manager).sort(), ['a', 'b']);
});

test('changing a field another manager owns conflicts; force takes it over', () => {
  const a = serverSideApply({ ...base, manager: 'a', applied: deploy([{ name: 'web', image: 'nginx:1' }], 2) });
  const live = { ...a.object, metadata: { ...(a.object.metadata as object), managedFields: a.managedFields } };
  assert.throws(() => serverSideApply({ ...base, live, manager: 'b', applied: deploy([{ name: 'web', image: 'nginx:1' }], 5) }),
    (error: unknown) => error instanceof ApplyConflictError && /conflict with "a" using apps\/v1: \.spec\.replicas/.test(error.message));
  // Same value: shared ownership, no conflict.
  assert.doesNotThrow(() => serverSideApply({ ...base, live, manager: 'b', applied: deploy([], 2) }));
  const forced = serverSideApply({ ...base, live, manager: 'b', force: true, applied: deploy([], 5) });
  assert.equal((forced.object as any).spec.replicas, 5);
  const aFields = fromFieldsV1(forced.managedFields.find((m) => m.manager === 'a')!.fieldsV1);
  assert.equal([...aFields].some((key) => key.endsWith('f:replicas')), false);
});

test('a field a manager stops applying is removed unless someone else owns it', () => {
  const first = serverSideApply({ ...base, manager: 'a', applied: deploy([{ name: 'web', image: 'nginx:1', env: [{ name: 'X', value: '1' }] }], 2) });
  const live = { ...first.object, metadata: { ...(first.object.metadata as object), managedFields: first.managedFields } };
  const second = serverSideApply({ ...base, live, manager: 'a', applied: deploy([{ name: 'web', image: 'nginx:1' }]) });
  const container = (second.object as any).spec.template.spec.containers[0];
  assert.equal(container.env, undefined);
  assert.equal((second.object as any).spec.replicas, undefined);
});

test('an update gives the updater the fields it changed', () => {
  const a = serverSideApply({ ...base, manager: 'a', applied: deploy([{ name: 'web', image: 'nginx:1' }], 2) });
  const old = { ...a.object, metadata: { ...(a.object.metadata as object), managedFields: a.managedFields } };
  const updated = structuredClone(old) as any;
  updated.spec.replicas = 3;
  const entries = recordUpdate({ old, updated, manager: 'kubectl-scale', apiVersion: 'apps/v1', now: base.now, resolver: builtinListType });
  const scale = entries.find((m) => m.manager === 'kubectl-scale')!;
  assert.equal(scale.operation, 'Update');
  assert.deepEqual(scale.fieldsV1, { 'f:spec': { 'f:replicas': {} } });
});

test('fieldsV1 encoding round-trips any field set', () => {
  const json = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, fc.integer(), fc.string({ maxLength: 3 }), fc.dictionary(fc.constantFrom('a', 'b', 'name', 'env'), tie('value') as fc.Arbitrary<unknown>, { maxKeys: 3 })),
  })).value;
  fc.assert(fc.property(fc.dictionary(fc.constantFrom('spec', 'data'), json, { maxKeys: 2 }), (object) => {
    const keys = new Set(fieldSetOf(object as Record<string, unknown>, builtinListType).keys());
    assert.deepEqual(fromFieldsV1(toFieldsV1(keys)), keys);
  }));
});
