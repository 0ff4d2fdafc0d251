/**
 * Events, written by the lab's kubelet (pods are processes) and controllers, read through
 * real kubectl: `describe pod` shows the failing readiness probe's Unhealthy Event with its
 * count, `describe deploy` the ScalingReplicaSet and ProgressDeadlineExceeded ones, a
 * crashing container gets BackOff; `get events` lists them, and the same Events are served
 * in the events.k8s.io/v1 shape. Repeats are one object with a count, not one per attempt.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestLab, stuckDeployment, type TestLab } from '../../helpers/lab.js';
import { EVENTS_PER_OBJECT } from '../../../src/lab/events.js';

let lab: TestLab;
const kubectl = async (...args: string[]) => lab.kubectl(args);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const CRASHING = `apiVersion: apps/v1
kind: Deployment
metadata: {name: crashing, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: crashing}}
  template:
    metadata:
      labels: {app: crashing}
      annotations: {lab.ferry.dev/command: "exit 3"}
    spec:
      containers: [{name: app, image: example.com/crashing:v1}]
`;

before(async () => {
  lab = await startTestLab(['source'], 'processes');
  writeFileSync(join(lab.dir, 'stuck.yaml'), stuckDeployment({ progressDeadlineSeconds: 3 }));
  writeFileSync(join(lab.dir, 'crashing.yaml'), CRASHING);
  for (const file of ['stuck.yaml', 'crashing.yaml']) {
    const applied = await kubectl('apply', '-f', join(lab.dir, file));
    assert.equal(applied.code, 0, applied.stderr);
  }
});
after(async () => {
  await lab?.stop();
});

async function eventsAbout(name: string): Promise<any[]> {
  const listed = await kubectl('get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'json');
  assert.equal(listed.code, 0, listed.stderr);
  return JSON.parse(listed.stdout).items;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

test('a failing readiness probe: one Unhealthy Event from the kubelet whose count grows; kubectl describe pod shows it', async () => {
  const pod = await until('the stuck pod', async () => {
    const pods = JSON.parse((await kubectl('get', 'pods', '-l', 'app=stuck', '-o', 'json')).stdout).items;
    return pods[0]?.metadata.name as string | undefined;
  });
  const unhealthy = await until('three failed probes', async () => {
    const found = (await eventsAbout(pod)).find((e) => e.reason === 'Unhealthy');
    return found && found.count >= 3 ? found : undefined;
  });
  assert.equal(unhealthy.type, 'Warning');
  assert.match(unhealthy.message, /^Readiness probe failed: Get "http:\/\/127\.0\.0\.1:\d+\/healthz": dial tcp 127\.0\.0\.1:\d+: connect: connection refused$/);
  assert.deepEqual([unhealthy.involvedObject.kind, unhealthy.involvedObject.name, unhealthy.involvedObject.fieldPath], ['Pod', pod, 'spec.containers{app}']);
  assert.ok(unhealthy.involvedObject.uid);
  assert.deepEqual(unhealthy.source, { component: 'kubelet', host: 'source-node' });
  assert.ok(unhealthy.firstTimestamp < unhealthy.lastTimestamp, 'first and last seen differ');
  const all = await eventsAbout(pod);
  assert.equal(all.filter((e) => e.reason === 'Unhealthy').length, 1, 'repeats are aggregated into one Event');
  assert.ok(all.some((e) => e.reason === 'Started' && e.message === 'Started container app'));
  assert.ok(all.length <= EVENTS_PER_OBJECT);

  const described = await kubectl('describe', 'pod', pod);
  assert.equal(described.code, 0, described.stderr);
  assert.match(described.stdout, /^Events:\n/m);
  assert.match(described.stdout, /Warning\s+Unhealthy\s+\S+ \(x\d+ over \S+\)\s+kubelet\s+Readiness probe failed: Get "http:\/\/127\.0\.0\.1:\d+\/healthz"/);
});

test('the Deployment and ReplicaSet controllers: ScalingReplicaSet, SuccessfulCreate, ProgressDeadlineExceeded in kubectl describe', async () => {
  await until('the progress deadline Event', async () => ((await eventsAbout('stuck')).some((e) => e.reason === 'ProgressDeadlineExceeded') ? true : undefined));
  const deploy = await kubectl('describe', 'deploy', 'stuck');
  assert.equal(deploy.code, 0, deploy.stderr);
  assert.match(deploy.stdout, /Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set stuck-[a-z0-9]+ from 0 to 1/);
  assert.match(deploy.stdout, /Warning\s+ProgressDeadlineExceeded\s+\S+\s+deployment-controller\s+Deployment "stuck" has timed out progressing\./);
  const rs = await kubectl('describe', 'rs', '-l', 'app=stuck');
  assert.match(rs.stdout, /Normal\s+SuccessfulCreate\s+\S+\s+replicaset-controller\s+Created pod: stuck-[a-z0-9]+-[a-z0-9]+/);
});

test('a crashing container: BackOff from the kubelet', async () => {
  const backOff = await until('a BackOff Event', async () => {
    const listed = JSON.parse((await kubectl('get', 'events', '-o', 'json')).stdout).items as any[];
    return listed.find((e) => e.reason === 'BackOff' && e.involvedObject.name.startsWith('crashing-'));
  });
  assert.equal(backOff.type, 'Warning');
  assert.match(backOff.message, /^Back-off restarting failed container app in pod crashing-[a-z0-9]+-[a-z0-9]+_default\(/);
});

test('kubectl get events lists them; events.k8s.io/v1 serves the same Events in its own shape', async () => {
  const table = await kubectl('get', 'events');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/m);
  assert.match(table.stdout, /Warning\s+Unhealthy\s+pod\/stuck-[a-z0-9]+-[a-z0-9]+\s+Readiness probe failed/);

  const core = JSON.parse((await kubectl('get', 'events', '-o', 'json')).stdout).items as any[];
  const modern = await kubectl('get', 'events.v1.events.k8s.io', '-o', 'json');
  assert.equal(modern.code, 0, modern.stderr);
  const items = JSON.parse(modern.stdout).items as any[];
  const unhealthy = core.find((e) => e.reason === 'Unhealthy')!;
  const same = items.find((e) => e.metadata.name === unhealthy.metadata.name);
  assert.ok(same, 'the same Event under events.k8s.io/v1');
  assert.equal(same.apiVersion, 'events.k8s.io/v1');
  assert.equal(same.metadata.uid, unhealthy.metadata.uid);
  assert.equal(same.note, unhealthy.message);
  assert.deepEqual(same.regarding, unhealthy.involvedObject);
  assert.equal(same.reportingController, 'kubelet');
  assert.equal(same.deprecatedSource.component, 'kubelet');
  assert.ok(same.deprecatedCount >= 3);
});
