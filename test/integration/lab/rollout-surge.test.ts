/**
 * maxSurge and maxUnavailable as the Deployment controller applies them, watched pod by pod
 * during real rollouts (pods are processes with real readiness probes): with maxSurge 1 and
 * maxUnavailable 0 there are never fewer than `replicas` ready pods nor more than
 * replicas + 1 pods; percentages round surge up and unavailability down; both zero is
 * refused by the API server as a real one refuses it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { isActivePod, isPodReady } from '../../../src/lab/controllers/client.js';
import type { StoreEvent } from '../../../src/lab/api/store.js';

let lab: TestLab;
const kubectl = async (...args: string[]) => lab.kubectl(args);

const deployment = (name: string, replicas: number, maxSurge: string | number, maxUnavailable: string | number) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: default}
spec:
  replicas: ${replicas}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: ${JSON.stringify(maxSurge)}, maxUnavailable: ${JSON.stringify(maxUnavailable)}}}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
      - name: app
        image: ferry.dev/echo:v1
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 1}
`;

before(async () => {
  lab = await startTestLab(['source'], 'processes');
});
after(async () => {
  await lab?.stop();
});

/** Pod counts of one app after every change the store sees, from `start` on. */
function watchCounts(app: string): { samples: Array<{ pods: number; ready: number }>; stop(): void } {
  const service = lab.clusters[0]!.service;
  const samples: Array<{ pods: number; ready: number }> = [];
  const count = () => {
    const pods = service.store.list('/pods', 'default').filter((pod) => pod.metadata.labels?.app === app && isActivePod(pod));
    samples.push({ pods: pods.length, ready: pods.filter(isPodReady).length });
  };
  const unsubscribe = service.store.subscribe((event: StoreEvent) => {
    if (event.resource === '/pods') count();
  });
  return { samples, stop: unsubscribe };
}

async function rollOut(name: string, replicas: number, maxSurge: string | number, maxUnavailable: string | number): Promise<Array<{ pods: number; ready: number }>> {
  const file = join(lab.dir, `${name}.yaml`);
  writeFileSync(file, deployment(name, replicas, maxSurge, maxUnavailable));
  const applied = await kubectl('apply', '-f', file);
  assert.equal(applied.code, 0, applied.stderr);
  const first = await kubectl('rollout', 'status', `deploy/${name}`, '--timeout=60s');
  assert.equal(first.code, 0, first.stderr);
  const watch = watchCounts(name);
  try {
    const changed = await kubectl('set', 'image', `deploy/${name}`, 'app=ferry.dev/echo:v2');
    assert.equal(changed.code, 0, changed.stderr);
    const rolled = await kubectl('rollout', 'status', `deploy/${name}`, '--timeout=90s');
    assert.equal(rolled.code, 0, rolled.stderr);
  } finally {
    watch.stop();
  }
  const rs = JSON.parse((await kubectl('get', 'rs', '-l', `app=${name}`, '-o', 'json')).stdout).items as any[];
  assert.deepEqual(rs.map((r) => r.spec.replicas).sort(), [0, replicas], 'the old ReplicaSet is scaled to 0, the new one to replicas');
  assert.ok(watch.samples.length > 4, 'the rollout was watched');
  return watch.samples;
}

test('maxSurge 1, maxUnavailable 0: never fewer than replicas ready, never more than replicas + 1 pods', async (t) => {
  const samples = await rollOut('surge', 3, 1, 0);
  const most = Math.max(...samples.map((s) => s.pods));
  const fewestReady = Math.min(...samples.map((s) => s.ready));
  t.diagnostic(`${samples.length} pod changes; at most ${most} pods, at least ${fewestReady} ready`);
  assert.equal(most, 4, 'one surge pod at a time');
  assert.equal(fewestReady, 3, 'no pod is taken away before its replacement is ready');
});

test('percentages: maxSurge rounds up, maxUnavailable rounds down (replicas 3, 50%/50% → 2 extra, 1 missing)', async (t) => {
  const samples = await rollOut('percent', 3, '50%', '50%');
  const most = Math.max(...samples.map((s) => s.pods));
  const fewestReady = Math.min(...samples.map((s) => s.ready));
  t.diagnostic(`at most ${most} pods, at least ${fewestReady} ready`);
  assert.ok(most <= 5, `at most 3 + ceil(1.5) = 5 pods, saw ${most}`);
  assert.ok(most > 3, 'it did surge');
  assert.ok(fewestReady >= 2, `at least 3 - floor(1.5) = 2 ready, saw ${fewestReady}`);
});

test('maxSurge 0 and maxUnavailable 0 is refused (422) with the real server\'s message', async () => {
  const file = join(lab.dir, 'frozen.yaml');
  writeFileSync(file, deployment('frozen', 2, 0, '0%'));
  const applied = await kubectl('apply', '-f', file);
  assert.equal(applied.code, 1);
  assert.match(applied.stderr, /The Deployment "frozen" is invalid: spec\.strategy\.rollingUpdate\.maxUnavailable: Invalid value: intstr\.IntOrString\{Type:1, IntVal:0, StrVal:"0%"\}: may not be 0 when `maxSurge` is 0/);
  const raw = await kubectl('create', '-f', file, '-o', 'name', '--validate=false');
  assert.equal(raw.code, 1);
  assert.match(raw.stderr, /may not be 0 when `maxSurge` is 0/);
});
