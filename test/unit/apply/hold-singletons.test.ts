import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/kube/object.js';
import { HELD_ANNOTATION, HELD_REPLICAS_ANNOTATION, holdSingletons, plannedSingletons } from '../../../src/apply/transforms/hold-singletons.js';
import { checkSingletons, leaderElectionArgs, leaseWriters } from '../../../src/apply/preflight/singletons.js';
import type { MigrationPlan, Slice } from '../../../src/plan/schema.js';

const object = (kind: string, name: string, spec: Record<string, unknown>, extra: Partial<KubeObject> = {}): KubeObject =>
  ({ apiVersion: kind === 'CronJob' || kind === 'Job' ? 'batch/v1' : 'apps/v1', kind, metadata: { name, namespace: 'shop', ...(extra.metadata ?? {}) }, spec, ...(extra.status ? { status: extra.status } : {}) }) as KubeObject;

const slice = (extra: Partial<Slice> = {}): Slice => ({
  name: 'billing', namespace: 'shop', dependsOn: [],
  workloads: [{ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'scheduler' }, { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' }],
  resources: [], ...extra,
}) as Slice;

test('CronJobs arrive suspended and marked; the user\'s own suspend stays theirs; completed Jobs are not applied', () => {
  const running = object('CronJob', 'nightly', { schedule: '0 3 * * *' });
  const paused = object('CronJob', 'paused', { schedule: '0 3 * * *', suspend: true });
  const done = object('Job', 'migrate', { completions: 1 }, { status: { succeeded: 1 } } as Partial<KubeObject>);
  const pending = object('Job', 'backfill', { completions: 2 }, { status: { succeeded: 1 } } as Partial<KubeObject>);
  const all = [running, paused, done, pending];
  const { original, desired } = holdSingletons({ original: all, desired: all }, [slice()]);
  assert.deepEqual(desired.map((o) => o.metadata.name), ['nightly', 'paused', 'backfill'], 'a Job the source completed is left out, one still running is not');
  assert.equal(original.length, desired.length);
  assert.equal((desired[0]!.spec as { suspend?: boolean }).suspend, true);
  assert.equal(desired[0]!.metadata.annotations?.[HELD_ANNOTATION], 'true');
  assert.equal(desired[1]!.metadata.annotations?.[HELD_ANNOTATION], undefined, 'suspended by the user: never resumed by Ferry');
});

test('singleton workloads (annotation or plan field) start at 0 with their replicas recorded; others are untouched', () => {
  const annotated = object('Deployment', 'scheduler', { replicas: 3 }, { metadata: { name: 'scheduler', namespace: 'shop', annotations: { 'ferry.dev/singleton': 'true' } } } as Partial<KubeObject>);
  const web = object('Deployment', 'web', { replicas: 2 });
  const [held, untouched] = holdSingletons({ original: [annotated, web], desired: [annotated, web] }, [slice()]).desired;
  assert.equal((held!.spec as { replicas: number }).replicas, 0);
  assert.equal(held!.metadata.annotations?.[HELD_REPLICAS_ANNOTATION], '3');
  assert.equal((untouched!.spec as { replicas: number }).replicas, 2);
  const [listed] = holdSingletons({ original: [web], desired: [web] }, [slice({ singletons: ['Deployment/web'] })]).desired;
  assert.equal((listed!.spec as { replicas: number }).replicas, 0);
  assert.throws(() => plannedSingletons(slice({ singletons: ['Deployment/nope'] })), (error: any) => error.location?.field === 'slice billing singletons[0]' && /Deployment\/web/.test(error.fix));
});

test('preflight: leader election by args/env or a ServiceAccount that may write Leases is a WARN; CronJobs are said to be switched', () => {
  const elector = object('Deployment', 'web', { template: { spec: { serviceAccountName: 'ctl', containers: [{ name: 'c', args: ['--leader-elect=true'] }] } } });
  assert.match(leaderElectionArgs(elector)[0]!, /--leader-elect/);
  const rbac = [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'leases', namespace: 'shop' }, rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'update'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'b', namespace: 'shop' }, subjects: [{ kind: 'ServiceAccount', name: 'ctl', namespace: 'shop' }], roleRef: { kind: 'Role', name: 'leases' } },
  ] as unknown as KubeObject[];
  assert.match(leaseWriters(elector, rbac)[0]!, /ServiceAccount ctl may write Leases .* Role leases/);
  const cron = object('CronJob', 'nightly', { schedule: '0 3 * * *' });
  const plan = { spec: { defaults: { traffic: { provider: 'router' } }, waves: [{ slices: [slice({ resources: [{ apiVersion: 'batch/v1', kind: 'CronJob', namespace: 'shop', name: 'nightly' }] })] }] } } as unknown as MigrationPlan;
  const rows = checkSingletons(plan, [elector, cron, ...rbac]);
  assert.deepEqual(rows.map((row) => [row.severity, row.subject]), [['WARN', 'CronJob shop/nightly'], ['WARN', 'Deployment shop/web']]);
  assert.match(rows[0]!.message, /switched when its ramp reaches 100 %/);
  assert.match(rows[1]!.fix!, /ferry.dev\/singleton/);
});
