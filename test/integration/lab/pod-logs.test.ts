/**
 * `kubectl logs` (real kubectl) against a lab whose pods are real processes: the output the
 * processes wrote, per container, with --tail, --timestamps, --since, --limit-bytes,
 * --previous after a restart, and -f streaming new lines; errors worded as the real server's.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestLab, type TestLab } from '../../helpers/lab.js';
import { waitFor } from './workloads-helpers.js';

let lab: TestLab;

const PODS = `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
  annotations:
    lab.ferry.dev/command.app: 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.2; done'
    lab.ferry.dev/command.side: 'echo side-start; echo side-error >&2; sleep 300'
spec:
  containers:
  - {name: app, image: example.com/ticker:v1}
  - {name: side, image: example.com/side:v1}
---
apiVersion: v1
kind: Pod
metadata:
  name: crasher
  namespace: default
  annotations:
    lab.ferry.dev/command: 'echo "run $(date +%s%N)"; sleep 0.3; exit 3'
spec:
  restartPolicy: Always
  containers:
  - {name: main, image: example.com/crasher:v1}
`;

before(async () => {
  lab = await startTestLab(['logs'], 'processes');
  const file = join(lab.dir, 'pods.yaml');
  writeFileSync(file, PODS);
  const applied = await lab.kubectl(['apply', '-f', file]);
  assert.equal(applied.code, 0, applied.stderr);
});

after(async () => {
  await lab?.stop();
});

const ticks = (text: string) => [...text.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));

test('kubectl logs: the process output, per container, with --tail, --timestamps, --since and --limit-bytes', async () => {
  await waitFor('five ticks', async () => ticks((await lab.kubectl(['logs', 'web', '-c', 'app'])).stdout).length >= 5, 30_000, 200);

  const all = await lab.kubectl(['logs', 'web', '-c', 'app']);
  assert.equal(all.code, 0, all.stderr);
  const seen = ticks(all.stdout);
  assert.deepEqual(seen, seen.map((_, index) => index), 'every line, in order, from the first');

  const defaulted = await lab.kubectl(['logs', 'web']);
  assert.equal(defaulted.code, 0, defaulted.stderr);
  assert.match(defaulted.stdout, /^tick 0$/m, 'kubectl picks the first container');

  const side = await lab.kubectl(['logs', 'web', '-c', 'side']);
  assert.deepEqual(side.stdout.trim().split('\n').sort(), ['side-error', 'side-start'], 'stdout and stderr both');

  const tail = await lab.kubectl(['logs', 'web', '-c', 'app', '--tail=2']);
  const tailed = ticks(tail.stdout);
  assert.equal(tail.stdout.trim().split('\n').length, 2);
  assert.equal(tailed[1], tailed[0]! + 1);

  const stamped = await lab.kubectl(['logs', 'web', '-c', 'app', '--timestamps', '--tail=1']);
  assert.match(stamped.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z tick \d+\n$/);
  const stampedAt = Date.parse(stamped.stdout.split(' ')[0]!);
  assert.ok(Math.abs(Date.now() - stampedAt) < 5_000, 'the time the line was written');

  await new Promise((resolve) => setTimeout(resolve, 1500));
  const recent = await lab.kubectl(['logs', 'web', '-c', 'app', '--since=1s']);
  const recentTicks = ticks(recent.stdout);
  const everything = ticks((await lab.kubectl(['logs', 'web', '-c', 'app'])).stdout);
  assert.ok(recentTicks.length >= 2 && recentTicks.length <= 8, `about one second of ticks: ${recentTicks.length}`);
  assert.ok(everything.length > recentTicks.length + 5);

  const limited = await lab.kubectl(['logs', 'web', '-c', 'app', '--limit-bytes=10']);
  assert.equal(limited.stdout, 'tick 0\ntic');
});

test('kubectl logs -f streams new lines until stopped', async () => {
  const before = ticks((await lab.kubectl(['logs', 'web', '-c', 'app'])).stdout);
  const child = spawn('kubectl', ['--kubeconfig', lab.kubeconfigFile, '--context', 'logs', 'logs', '-f', '--tail=1', 'web', '-c', 'app'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    await waitFor('three lines streamed after the start', () => ticks(out).length >= 4, 15_000, 100);
    const streamed = ticks(out);
    assert.ok(streamed[0]! >= before[before.length - 1]!, 'starts at the tail');
    assert.deepEqual(streamed, streamed.map((_, index) => streamed[0]! + index), 'consecutive lines, none lost or repeated');
    assert.equal(child.exitCode, null, 'the stream stays open');
  } finally {
    child.kill('SIGTERM');
    await closed;
  }
});

test('kubectl logs --previous reads the instance before the restart', async () => {
  const kubectl = lab.kubectl;
  await waitFor('a restart', async () => {
    const count = await kubectl(['get', 'pod', 'crasher', '-o', 'jsonpath={.status.containerStatuses[0].restartCount}']);
    return Number(count.stdout) >= 1;
  }, 30_000, 200);
  const previous = await kubectl(['logs', 'crasher', '--previous']);
  assert.equal(previous.code, 0, previous.stderr);
  assert.match(previous.stdout, /^run \d+\n$/);
  await waitFor('the current instance wrote', async () => /^run \d+/.test((await kubectl(['logs', 'crasher'])).stdout), 15_000, 200);
  const current = await kubectl(['logs', 'crasher']);
  assert.notEqual(current.stdout, previous.stdout, 'a different run');
});

test('errors are worded as the real server words them', async () => {
  const wrong = await lab.kubectl(['logs', 'web', '-c', 'nope']);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /container nope is not valid for pod web/, 'kubectl checks this itself');
  const raw = await lab.kubectl(['get', '--raw', '/api/v1/namespaces/default/pods/web/log?container=nope']);
  assert.match(raw.stderr, /Error from server \(BadRequest\): container nope is not valid for pod web/, 'the server says it the same way');
  const unnamed = await lab.kubectl(['get', '--raw', '/api/v1/namespaces/default/pods/web/log']);
  assert.match(unnamed.stderr, /a container name must be specified for pod web, choose one of: \[app side\]/);

  const noRestart = await lab.kubectl(['logs', 'web', '-c', 'app', '--previous']);
  assert.notEqual(noRestart.code, 0);
  assert.match(noRestart.stderr, /Error from server \(BadRequest\): previous terminated container "app" in pod "web" not found/);

  const missing = await lab.kubectl(['logs', 'ghost']);
  assert.match(missing.stderr, /pods "ghost" not found/);

  const negative = await lab.kubectl(['get', '--raw', '/api/v1/namespaces/default/pods/web/log?container=app&tailLines=-1']);
  assert.match(negative.stderr, /PodLogOptions "web" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0/);
});

test('a lab that simulates its pods says why there are no logs', async () => {
  const simulated = await startTestLab(['simulated']);
  try {
    const file = join(simulated.dir, 'pod.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: Pod\nmetadata: {name: quiet, namespace: default}\nspec:\n  containers: [{name: app, image: example.com/app:v1}]\n');
    assert.equal((await simulated.kubectl(['apply', '-f', file])).code, 0);
    const logs = await simulated.kubectl(['logs', 'quiet']);
    assert.notEqual(logs.code, 0);
    assert.match(logs.stderr, /pod "quiet" runs no process: this lab cluster simulates its pods/);
  } finally {
    await simulated.stop();
  }
});
