import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { KubeObject } from '../../../src/kube/object.js';
import { parseConflicts, conflictError } from '../../../src/apply/conflicts.js';
import { unifiedDiff } from '../../../src/apply/unified.js';
import { comparable, fieldChanges, redactPair } from '../../../src/apply/field-diff.js';
import { podProblem, readinessOf } from '../../../src/apply/readiness.js';
import { applyTier, orderForApply } from '../../../src/apply/order.js';
import { scrub, secretValues } from '../../../src/apply/secrets.js';

test('conflicts: the API server\'s single, grouped and per-line messages all name manager and field', () => {
  assert.deepEqual(parseConflicts('cluster "t" answered 409 to PATCH /x: Apply failed with 1 conflict: conflict with "team-a" using v1: .spec.ports[port=9555].targetPort'), [
    { manager: 'team-a', apiVersion: 'v1', field: '.spec.ports[port=9555].targetPort' },
  ]);
  assert.deepEqual(parseConflicts('Apply failed with 3 conflicts: conflicts with "kubectl-edit" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name="server"].image\nconflict with "hpa" using autoscaling/v2: .spec.ports[containerPort=80,protocol="TCP"]'), [
    { manager: 'kubectl-edit', apiVersion: 'apps/v1', field: '.spec.replicas' },
    { manager: 'kubectl-edit', apiVersion: 'apps/v1', field: '.spec.template.spec.containers[name="server"].image' },
    { manager: 'hpa', apiVersion: 'autoscaling/v2', field: '.spec.ports[containerPort=80,protocol="TCP"]' },
  ]);
  assert.deepEqual(parseConflicts('Apply failed with 2 conflicts: conflict with "a" using v1: .data.x\nconflict with "b" using v1: .data.y').map((c) => `${c.manager} ${c.field}`), ['a .data.x', 'b .data.y']);
  const error = conflictError('Deployment shop/web', parseConflicts('conflicts with "kubectl-edit" using apps/v1:\n- .spec.replicas\n- .spec.paused'), 'x');
  assert.equal(error.oneLine(), 'Deployment shop/web: conflict with another field manager on the target: .spec.replicas, .spec.paused owned by "kubectl-edit" (fix: apply with --force-conflicts to make Ferry the owner of these fields ("kubectl-edit" will then conflict on its next apply), or stop "kubectl-edit" from managing them on the target first)');
});

test('unified diff: hunks with 3 lines of context, nearby changes merged, creations all added', () => {
  const before = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join('\n');
  const after = before.replace('line 5', 'line five').replace('line 8', 'line eight').replace('line 18', 'line 18\nline 18b');
  assert.equal(unifiedDiff(before, after, { beforeLabel: 'live', afterLabel: 'applied' }), [
    '--- live', '+++ applied',
    '@@ -2,10 +2,10 @@', ' line 2', ' line 3', ' line 4', '-line 5', '+line five', ' line 6', ' line 7', '-line 8', '+line eight', ' line 9', ' line 10', ' line 11',
    '@@ -16,5 +16,6 @@', ' line 16', ' line 17', ' line 18', '+line 18b', ' line 19', ' line 20', '',
  ].join('\n'));
  assert.equal(unifiedDiff('a\n', 'a\n'), '');
  assert.equal(unifiedDiff('', 'a\nb\n', { beforeLabel: '/dev/null', afterLabel: 'new' }), '--- /dev/null\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n');
});

test('unified diff: with unlimited context, the kept and removed lines are the old text and the kept and added lines the new one', () => {
  const lines = fc.array(fc.constantFrom('a', 'b', 'c', 'd', '  x: 1', '- y'), { maxLength: 30 });
  fc.assert(fc.property(lines, lines, (a, b) => {
    const diff = unifiedDiff(a.join('\n'), b.join('\n'), { context: 1e9 });
    if (a.join('\n') === b.join('\n')) return diff === '';
    const body = diff.trimEnd().split('\n').slice(3);
    assert.deepEqual(body.filter((l) => !l.startsWith('+')).map((l) => l.slice(1)), a);
    assert.deepEqual(body.filter((l) => !l.startsWith('-')).map((l) => l.slice(1)), b);
    return true;
  }), { numRuns: 300 });
});

const liveSecret: KubeObject = {
  apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
  metadata: { name: 'db', namespace: 'shop', uid: 'u1', resourceVersion: '12', creationTimestamp: '2026-01-01T00:00:00Z', managedFields: [{ manager: 'ferry' }], annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"data":{"password":"b2xk"}}' } },
  data: { password: 'b2xk', user: 'YWRtaW4=' },
} as KubeObject;

test('field diff: server-written fields ignored; Secret values redacted, a changed one marked, never shown', () => {
  const after = structuredClone(liveSecret) as any;
  after.metadata.resourceVersion = '13';
  after.metadata.managedFields = [{ manager: 'ferry' }, { manager: 'x' }];
  after.data.password = 'bmV3';
  after.data.extra = 'ZXh0cmE=';
  const pair = redactPair(comparable(liveSecret), comparable(after));
  assert.deepEqual(fieldChanges(pair.before, pair.after), [
    { path: 'data.extra', after: '<redacted>' },
    { path: 'data.password', before: '<redacted>', after: '<redacted, changed>' },
  ]);
  const text = JSON.stringify(pair);
  for (const value of ['b2xk', 'bmV3', 'ZXh0cmE=', 'YWRtaW4=']) assert.ok(!text.includes(value), value);
  const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'w', generation: 3 }, spec: { replicas: 2 }, status: { readyReplicas: 1 } } as unknown as KubeObject;
  assert.deepEqual(fieldChanges(comparable(deployment), comparable({ ...deployment, metadata: { name: 'w', generation: 4 }, status: {} } as KubeObject)), []);
});

test('secret values (plain and base64) are scrubbed from any text', () => {
  const values = secretValues([liveSecret, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { token: 'tok-123' } } as KubeObject]);
  const text = scrub('old b2xk, admin, plain tok-123 and dG9rLTEyMw==', values);
  assert.equal(text, 'old <redacted>, <redacted>, plain <redacted> and <redacted>');
});

const deployment = (status: Record<string, unknown>, generation = 2, replicas = 2) => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', generation }, spec: { replicas }, status,
}) as unknown as KubeObject;

test('readiness: a Deployment is ready only when the latest generation is rolled out and Available', () => {
  const available = { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' };
  const rolledOut = { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, conditions: [available] };
  assert.equal(readinessOf(deployment(rolledOut))!.ready, true);
  assert.equal(readinessOf(deployment({ ...rolledOut, observedGeneration: 1 }))!.ready, false, 'controller has not seen the new spec');
  assert.equal(readinessOf(deployment({ ...rolledOut, replicas: 3 }))!.ready, false, 'an old pod still terminating');
  assert.equal(readinessOf(deployment({ ...rolledOut, updatedReplicas: 1 }))!.ready, false);
  const waiting = readinessOf(deployment({ observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 0, conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }] }))!;
  assert.deepEqual(waiting, { ready: false, conditions: ['updated 2/2, available 0/2', 'Available=False (MinimumReplicasUnavailable: Deployment does not have minimum availability.)'] });
  const stuck = readinessOf(deployment({ observedGeneration: 2, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-1" has timed out progressing.' }] }))!;
  assert.equal(stuck.failed, 'rollout exceeded its progress deadline: ReplicaSet "web-1" has timed out progressing.');
  assert.equal(readinessOf(deployment({ observedGeneration: 2 }, 2, 0))!.ready, true, 'scaled to zero');
});

test('readiness of StatefulSets, PVCs, Jobs and CRDs; none for kinds without it', () => {
  const of = (kind: string, status: unknown, spec: unknown = {}) => readinessOf({ apiVersion: 'v1', kind, metadata: { name: 'x', generation: 1 }, spec, status } as unknown as KubeObject);
  assert.equal(of('StatefulSet', { observedGeneration: 1, readyReplicas: 3, updatedReplicas: 3 }, { replicas: 3 })!.ready, true);
  assert.equal(of('StatefulSet', { observedGeneration: 1, readyReplicas: 2 }, { replicas: 3 })!.ready, false);
  assert.equal(of('PersistentVolumeClaim', { phase: 'Bound' })!.ready, true);
  assert.deepEqual(of('PersistentVolumeClaim', { phase: 'Pending' })!.conditions, ['phase Pending']);
  assert.equal(of('Job', { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] })!.ready, true);
  assert.equal(of('Job', { failed: 7, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] })!.failed, 'job failed: BackoffLimitExceeded Job has reached the specified backoff limit');
  assert.equal(of('CustomResourceDefinition', { conditions: [{ type: 'NamesAccepted', status: 'True' }, { type: 'Established', status: 'True' }] })!.ready, true);
  assert.equal(of('ConfigMap', undefined), undefined);
  assert.equal(of('Service', {}), undefined);
});

test('a pod that is not ready is described by phase, Ready condition and each unready container', () => {
  const pod = {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-7d9-abcde' },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]' }],
      containerStatuses: [
        { name: 'app', ready: false, restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } } },
        { name: 'sidecar', ready: false, restartCount: 0, state: { running: {} } },
        { name: 'ok', ready: true, state: { running: {} } },
      ],
    },
  } as unknown as KubeObject;
  assert.equal(podProblem(pod), 'pod web-7d9-abcde: phase Running, Ready=False (ContainersNotReady: containers with unready status: [app]), container app waiting CrashLoopBackOff: back-off 40s restarting failed container, 3 restarts, container sidecar running, not ready');
  assert.equal(podProblem({ ...pod, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } } as KubeObject), undefined);
});

test('apply order: namespaces, CRDs, identities, config, storage, Services, workloads, budgets, custom resources, routes', () => {
  const kinds = ['HTTPRoute', 'Deployment', 'Widget', 'Secret', 'Namespace', 'PodDisruptionBudget', 'Service', 'PersistentVolumeClaim', 'RoleBinding', 'CustomResourceDefinition', 'ConfigMap', 'Ingress', 'ServiceAccount', 'HorizontalPodAutoscaler', 'StatefulSet'];
  const objects = kinds.map((kind) => ({ apiVersion: 'v1', kind, metadata: { name: kind.toLowerCase() } }) as KubeObject);
  assert.deepEqual(orderForApply(objects).map((tier) => tier.map((o) => o.kind)), [
    ['Namespace'], ['CustomResourceDefinition'], ['RoleBinding', 'ServiceAccount'], ['Secret', 'ConfigMap'], ['PersistentVolumeClaim'], ['Service'],
    ['Deployment', 'StatefulSet'], ['PodDisruptionBudget', 'HorizontalPodAutoscaler'], ['Widget'], ['HTTPRoute', 'Ingress'],
  ]);
  assert.ok(applyTier('VirtualService') > applyTier('SomeOperatorResource'));
});
