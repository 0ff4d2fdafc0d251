/**
 * A Deployment whose pods never get ready exceeds its progressDeadlineSeconds in the lab as
 * in a real cluster: Progressing turns False (ProgressDeadlineExceeded) and the real
 * `kubectl rollout status` fails with its own message instead of waiting forever; fixing the
 * template makes it progress again.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestLab, stuckDeployment, type TestLab } from '../../helpers/lab.js';

let lab: TestLab;
const kubectl = async (...args: string[]) => lab.kubectl(args);

before(async () => {
  lab = await startTestLab(['source'], 'processes');
});

after(async () => {
  await lab?.stop();
});

const STUCK = stuckDeployment({ progressDeadlineSeconds: 3 });

const progressing = async () => JSON.parse((await kubectl('get', 'deploy', 'stuck', '-o', 'json')).stdout).status.conditions.find((c: { type: string }) => c.type === 'Progressing');

test('no progress for progressDeadlineSeconds: ProgressDeadlineExceeded, and kubectl rollout status fails; a fixed template progresses again', async () => {
  writeFileSync(join(lab.dir, 'stuck.yaml'), STUCK);
  const applied = await kubectl('apply', '--server-side', '-f', join(lab.dir, 'stuck.yaml'));
  assert.equal(applied.code, 0, applied.stderr);

  const started = Date.now();
  const status = await kubectl('rollout', 'status', 'deploy/stuck', '--timeout=40s');
  assert.equal(status.code, 1, status.stdout + status.stderr);
  assert.match(status.stderr, /error: deployment "stuck" exceeded its progress deadline/);
  assert.ok(Date.now() - started < 30_000, 'reported at the deadline, not at kubectl\'s own timeout');
  const failed = await progressing();
  assert.deepEqual([failed.status, failed.reason], ['False', 'ProgressDeadlineExceeded']);
  assert.match(failed.message, /has timed out progressing/);

  // The pods get a program that serves the probe: a new ReplicaSet, progress, complete.
  const fixed = await kubectl('patch', 'deploy', 'stuck', '--type=json', '-p', JSON.stringify([
    { op: 'remove', path: '/spec/template/metadata/annotations' },
    { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'ferry.dev/echo:v1' },
  ]));
  assert.equal(fixed.code, 0, fixed.stderr);
  const rolled = await kubectl('rollout', 'status', 'deploy/stuck', '--timeout=40s');
  assert.equal(rolled.code, 0, rolled.stderr);
  const done = await progressing();
  assert.deepEqual([done.status, done.reason], ['True', 'NewReplicaSetAvailable']);
});
