/**
 * Deletion as the garbage collector does it, through real kubectl: `--cascade=foreground`
 * keeps the Deployment (deletionTimestamp, `foregroundDeletion` finalizer) until its
 * ReplicaSet and pods are gone and only then returns; `--cascade=orphan` (and the older
 * `orphanDependents=true`) leaves the ReplicaSet and its pods running without an owner; any
 * object with a finalizer is only marked until its finalizers are removed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import type { StoreEvent } from '../../../src/lab/api/store.js';

let lab: TestLab;
const kubectl = async (...args: string[]) => lab.kubectl(args);
const getJson = async (...args: string[]) => {
  const result = await kubectl('get', ...args, '-o', 'json');
  return result.code === 0 ? JSON.parse(result.stdout) : undefined;
};

const deployment = (name: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec: {containers: [{name: app, image: ferry.dev/echo:v1}]}
`;

before(async () => {
  lab = await startTestLab(['source'], 'simulated');
});
after(async () => {
  await lab?.stop();
});

async function applyAndSettle(name: string): Promise<void> {
  const file = join(lab.dir, `${name}.yaml`);
  writeFileSync(file, deployment(name));
  const applied = await kubectl('apply', '-f', file);
  assert.equal(applied.code, 0, applied.stderr);
  await lab.clusters[0]!.settled();
}

const podsOf = async (app: string) => (await getJson('pods', '-l', `app=${app}`)).items as any[];
const replicaSetsOf = async (app: string) => (await getJson('rs', '-l', `app=${app}`)).items as any[];

test('--cascade=foreground: the Deployment stays, marked, until its ReplicaSet and pods are gone; kubectl returns after', async () => {
  await applyAndSettle('front');
  const pods = await podsOf('front');
  assert.equal(pods.length, 2);
  // A finalizer of someone else's holds one pod, so the cascade can be watched half-way.
  const held = pods[0].metadata.name;
  const hold = await kubectl('patch', 'pod', held, '--type=merge', '-p', '{"metadata":{"finalizers":["example.com/hold"]}}');
  assert.equal(hold.code, 0, hold.stderr);

  const gone: string[] = [];
  const unsubscribe = lab.clusters[0]!.service.store.subscribe((event: StoreEvent) => {
    if (event.type === 'DELETED' && ['Deployment', 'ReplicaSet', 'Pod'].includes(event.object.kind)) gone.push(`${event.object.kind}/${event.object.metadata.name}`);
  });
  let returned = false;
  const deleting = kubectl('delete', 'deploy', 'front', '--cascade=foreground', '--timeout=30s').then((result) => {
    returned = true;
    return result;
  });
  try {
    let marked: any;
    for (let i = 0; i < 100 && !marked?.metadata?.deletionTimestamp; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      marked = await getJson('deploy', 'front');
    }
    assert.ok(marked?.metadata?.deletionTimestamp, 'the Deployment is readable, with a deletionTimestamp');
    assert.deepEqual(marked.metadata.finalizers, ['foregroundDeletion']);
    await lab.clusters[0]!.settled();
    const rs = await replicaSetsOf('front');
    assert.equal(rs.length, 1, 'the ReplicaSet waits for its pod');
    assert.ok(rs[0].metadata.deletionTimestamp);
    assert.deepEqual(rs[0].metadata.finalizers, ['foregroundDeletion'], 'the ReplicaSet is deleted in the foreground too');
    const left = await podsOf('front');
    assert.deepEqual(left.map((p) => p.metadata.name), [held]);
    assert.ok(left[0].metadata.deletionTimestamp);
    assert.equal(returned, false, 'kubectl delete waits while the Deployment exists');
    assert.ok(await getJson('deploy', 'front'), 'still there');

    const release = await kubectl('patch', 'pod', held, '--type=merge', '-p', '{"metadata":{"finalizers":null}}');
    assert.equal(release.code, 0, release.stderr);
    const deleted = await deleting;
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /deployment.apps "front" deleted/);
    assert.equal(await getJson('deploy', 'front'), undefined);
    assert.equal(gone[gone.length - 1], 'Deployment/front', `the Deployment goes last: ${gone.join(', ')}`);
    assert.equal(gone.filter((g) => g.startsWith('Pod/')).length, 2);
    assert.ok(gone.indexOf(`Pod/${held}`) < gone.findIndex((g) => g.startsWith('ReplicaSet/')), 'the ReplicaSet goes after its pods');
  } finally {
    unsubscribe();
    await deleting;
  }
});

test('--cascade=orphan: the Deployment goes, its ReplicaSet and pods stay, without the owner reference', async () => {
  await applyAndSettle('orphans');
  const deleted = await kubectl('delete', 'deploy', 'orphans', '--cascade=orphan');
  assert.equal(deleted.code, 0, deleted.stderr);
  await lab.clusters[0]!.settled();
  assert.equal(await getJson('deploy', 'orphans'), undefined);
  const rs = await replicaSetsOf('orphans');
  assert.equal(rs.length, 1);
  assert.equal(rs[0].metadata.ownerReferences, undefined);
  assert.equal(rs[0].metadata.deletionTimestamp, undefined);
  const pods = await podsOf('orphans');
  assert.equal(pods.length, 2, 'the pods keep running');
  assert.ok(pods.every((p) => p.metadata.ownerReferences?.[0]?.name === rs[0].metadata.name));
});

test('orphanDependents=true (the older spelling) orphans too; Background collects the dependents', async () => {
  await applyAndSettle('older');
  const raw = await kubectl('delete', '--raw', '/apis/apps/v1/namespaces/default/deployments/older?orphanDependents=true');
  assert.equal(raw.code, 0, raw.stderr);
  await lab.clusters[0]!.settled();
  assert.equal(await getJson('deploy', 'older'), undefined);
  assert.equal((await replicaSetsOf('older')).length, 1);

  await applyAndSettle('background');
  const deleted = await kubectl('delete', 'deploy', 'background');
  assert.equal(deleted.code, 0, deleted.stderr);
  await lab.clusters[0]!.settled();
  assert.equal((await replicaSetsOf('background')).length, 0);
  assert.equal((await podsOf('background')).length, 0);
});

test('an object with a finalizer is only marked until its finalizers are removed', async () => {
  const created = await kubectl('create', 'configmap', 'kept');
  assert.equal(created.code, 0, created.stderr);
  assert.equal((await kubectl('patch', 'cm', 'kept', '--type=merge', '-p', '{"metadata":{"finalizers":["example.com/keep"]}}')).code, 0);
  const deleted = await kubectl('delete', 'cm', 'kept', '--wait=false');
  assert.equal(deleted.code, 0, deleted.stderr);
  const marked = await getJson('cm', 'kept');
  assert.ok(marked.metadata.deletionTimestamp);
  assert.deepEqual(marked.metadata.finalizers, ['example.com/keep']);
  assert.equal((await kubectl('patch', 'cm', 'kept', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]')).code, 0);
  assert.equal(await getJson('cm', 'kept'), undefined);
});

test('pods as processes: a deleted pod is Terminating until its process has stopped, so a foreground delete waits for it', async () => {
  const processes = await startTestLab(['source'], 'processes');
  try {
    const file = join(processes.dir, 'web.yaml');
    writeFileSync(file, deployment('web'));
    const run = async (...args: string[]) => processes.kubectl(args);
    assert.equal((await run('apply', '-f', file)).code, 0);
    assert.equal((await run('rollout', 'status', 'deploy/web', '--timeout=60s')).code, 0);
    const pids = processes.clusters[0]!.runtime!.list().map((pod) => pod.pid!);
    assert.equal(pids.length, 2);
    const deleted = await run('delete', 'deploy', 'web', '--cascade=foreground', '--wait=false');
    assert.equal(deleted.code, 0, deleted.stderr);
    const marked = JSON.parse((await run('get', 'deploy', 'web', '-o', 'json')).stdout);
    assert.deepEqual(marked.metadata.finalizers, ['foregroundDeletion'], 'the Deployment waits for its pods');
    const waited = await run('wait', '--for=delete', 'deploy/web', '--timeout=30s');
    assert.equal(waited.code, 0, waited.stderr);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'no process outlives the Deployment');
    assert.equal(JSON.parse((await run('get', 'pods', '-l', 'app=web', '-o', 'json')).stdout).items.length, 0);
  } finally {
    await processes.stop();
  }
});
