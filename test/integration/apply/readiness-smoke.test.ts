/**
 * Readiness and smoke checks with pods as real processes: a slice whose pods serve is
 * applied and its smoke checks reach the Service through its endpoints; a slice whose pods
 * never get ready fails at the plan's readyTimeout with the conditions, the pods' state and
 * the recent Events the lab's kubelet wrote; a smoke check that gets the wrong answer fails the apply.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ferryAsync } from '../../helpers/cli.js';
import { startTestLab, stuckDeployment, type TestLab } from '../../helpers/lab.js';

const MANIFESTS = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: ferry.dev/echo:v2
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
${stuckDeployment()}`;

let lab: TestLab;
let planFile: string;

before(async () => {
  lab = await startTestLab(['target'], 'processes');
  const manifests = join(lab.dir, 'app.yaml');
  writeFileSync(manifests, MANIFESTS);
  const planned = await ferryAsync(['plan', '--manifests', manifests, '--to', 'target', '-o', 'json']);
  assert.equal(planned.code, 0, planned.stderr);
  const plan = JSON.parse(planned.stdout);
  plan.spec.defaults.readyTimeout = '6s';
  const slices = plan.spec.waves.flatMap((wave: any) => wave.slices);
  assert.deepEqual(slices.map((s: any) => s.name).sort(), ['stuck', 'web']);
  slices.find((s: any) => s.name === 'web').smoke = [
    { name: 'version', service: 'default/web:80', path: '/hello', expectStatus: 200, expectBody: '"version":"v2"' },
    { name: 'by-port-name', service: 'default/web:http', path: '/', expectStatus: 200 },
  ];
  const wrong = structuredClone(plan);
  wrong.spec.waves.flatMap((wave: any) => wave.slices).find((s: any) => s.name === 'web').smoke = [
    { name: 'new-version', service: 'default/web:80', expectBody: '"version":"v3"' },
  ];
  planFile = join(lab.dir, 'plan.json');
  writeFileSync(planFile, JSON.stringify(plan));
  writeFileSync(join(lab.dir, 'wrong-smoke.json'), JSON.stringify(wrong));
});
after(async () => {
  await lab?.stop();
});

const ferry = (args: string[]) => ferryAsync([...args, '--kubeconfig', lab.kubeconfigFile]);

test('a slice whose pods serve: ready, then its smoke checks reach the Service through its endpoints', async () => {
  const applied = await ferry(['apply', planFile, '--slice', 'web', '-o', 'json']);
  assert.equal(applied.code, 0, applied.stderr);
  const report = JSON.parse(applied.stdout);
  assert.deepEqual(report.objects.map((o: any) => o.action), ['created', 'created']);
  assert.equal(report.smoke.length, 2);
  for (const smoke of report.smoke) {
    assert.equal(smoke.ok, true);
    assert.equal(smoke.status, 200);
    assert.match(smoke.url, /^http:\/\/127\.0\.0\.1:\d+\//, 'the pod’s mapped loopback port');
  }
  const text = await ferry(['apply', planFile, '--slice', 'web']);
  assert.match(text.stdout, /^smoke ok {3}version: 200 from http:\/\/127\.0\.0\.1:\d+\/hello$/m);

  const wrong = await ferry(['apply', join(lab.dir, 'wrong-smoke.json'), '--slice', 'web']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^error: smoke check failed on the target: new-version \(http:\/\/127\.0\.0\.1:\d+\/\): body does not contain "\\?"version\\?":\\?"v3\\?"" \(fix: /);
});

test('pods that never get ready: the apply fails at readyTimeout with conditions, pod state and Events', async (t) => {
  const started = Date.now();
  const stuck = await ferry(['apply', planFile, '--slice', 'stuck']);
  const seconds = (Date.now() - started) / 1000;
  assert.equal(stuck.code, 1, stuck.stdout);
  assert.equal(stuck.stdout, '');
  const lines = stuck.stderr.trim().split('\n');
  assert.equal(lines.length, 1, stuck.stderr);
  const error = lines[0]!;
  t.diagnostic(error);
  assert.match(error, /^error: Deployment default\/stuck not ready after 6 s: Deployment default\/stuck: updated 1\/1, available 0\/1/);
  assert.match(error, /Available=False \(MinimumReplicasUnavailable/);
  assert.match(error, /pod stuck-[a-z0-9]+-[a-z0-9]+: phase Running, Ready=False[^,]*, container app running, not ready/);
  // The lab's kubelet records the failed probes (one Event, counted), as a real one does.
  assert.match(error, /events: Warning Unhealthy Pod\/stuck-[a-z0-9]+-[a-z0-9]+: Readiness probe failed: Get "http:\/\/127\.0\.0\.1:\d+\/healthz": dial tcp 127\.0\.0\.1:\d+: connect: connection refused \(×\d+\)/);
  assert.match(error, /\(fix: look at the pods on the target/);
  assert.ok(seconds < 30, `gave up after ${seconds} s`);
});
