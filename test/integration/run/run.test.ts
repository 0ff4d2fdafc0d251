import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addLabUser } from '../../../src/lab/lab-users.js';
import { BOUTIQUE, ferryAsync, startFerry } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';

let lab: TestLab;
let stateDir: string;
before(async () => {
  lab = await startTestLab(['target']);
  stateDir = join(lab.dir, 'state');
});
after(async () => {
  await lab?.stop();
});

const ferry = (args: string[]) => ferryAsync([...args, '--kubeconfig', lab.kubeconfigFile, '--state-dir', stateDir]);

async function writePlan(): Promise<string> {
  const result = await ferryAsync(['plan', '--manifests', BOUTIQUE, '--to', 'target', '--name', 'boutique', '-o', 'json']);
  const plan = JSON.parse(result.stdout);
  // No traffic provider or data here: this test is about the run's journal, crash and resume.
  plan.spec.defaults.traffic.provider = 'none';
  plan.spec.defaults.decommission.after = '0s';
  const file = join(lab.dir, 'boutique-run.json');
  writeFileSync(file, JSON.stringify(plan));
  return file;
}

function journalOf(run: string): string {
  return join(stateDir, 'runs', run, 'journal.jsonl');
}

test('a run killed mid-way resumes to completion; its journal stays intact; rollback retires the target', async () => {
  const plan = await writePlan();
  // Slow the target's API so the run is still going when it is killed.
  lab.clusters[0]!.setFaults({ latencyMs: 40 });
  const running = startFerry(['run', plan, '--kubeconfig', lab.kubeconfigFile, '--state-dir', stateDir]);
  await waitFor(() => /frontend: apply/.test(running.stderr), 60_000);
  running.child.kill('SIGKILL');
  await running.closed;
  lab.clusters[0]!.setFaults({});

  const run = readdirSync(join(stateDir, 'runs'))[0]!;
  const interrupted = JSON.parse((await ferry(['status', run, '-o', 'json'])).stdout);
  assert.equal(interrupted.status, 'running');
  assert.equal(interrupted.slices.find((s: any) => s.name === 'loadgenerator').stages.apply, 'done');
  assert.equal(interrupted.slices.find((s: any) => s.name === 'redis-cart').stages.apply, 'pending');

  const resumed = await ferry(['resume', run, '-o', 'json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  const state = JSON.parse(resumed.stdout);
  assert.equal(state.status, 'completed');
  assert.ok(state.slices.every((s: any) => s.stages.apply === 'done' && s.stages.decommission === 'done'));
  const types = readFileSync(journalOf(run), 'utf8').trim().split('\n').map((line) => JSON.parse(line).type);
  assert.deepEqual([types[0], types.includes('run-resumed'), types.at(-1)], ['run-started', true, 'run-completed']);

  const verified = await ferry(['audit', 'verify', run, '-o', 'json']);
  assert.equal(verified.code, 0);
  assert.equal(JSON.parse(verified.stdout).ok, true);
  const deployments = JSON.parse((await lab.kubectl(['get', 'deploy', '-n', 'default', '-o', 'json'], 'target')).stdout).items;
  assert.equal(deployments.filter((d: any) => d.status.availableReplicas >= 1).length, 12);

  const rolledBack = await ferry(['rollback', run, '-o', 'json']);
  assert.equal(rolledBack.code, 0, rolledBack.stderr);
  assert.equal(JSON.parse(rolledBack.stdout).status, 'rolled-back');
  const after = JSON.parse((await lab.kubectl(['get', 'deploy', '-n', 'default', '-o', 'json'], 'target')).stdout).items;
  assert.ok(after.every((d: any) => d.spec.replicas === 0), 'target workloads retired');

  // The cause fixed, the same plan runs again: the retired workloads come back up.
  const again = await ferry(['run', plan, '-o', 'json']);
  assert.equal(again.code, 0, again.stderr);
  const againState = JSON.parse(again.stdout);
  assert.equal(againState.status, 'completed');
  // The slices of one wave moved at once (--parallel 4 by default): their applies overlap.
  const againRecords = readFileSync(journalOf(againState.id), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  const waveOf = new Map(againState.slices.map((slice: any) => [slice.name, slice.wave]));
  const open = new Set<string>();
  let overlapped = false;
  for (const record of againRecords.filter((r) => r.data?.stage === 'apply')) {
    if (record.type === 'stage-started') {
      if ([...open].some((other) => waveOf.get(other) === waveOf.get(record.data.slice))) overlapped = true;
      open.add(record.data.slice);
    }
    if (record.type === 'stage-completed') open.delete(record.data.slice);
  }
  assert.ok(overlapped, 'slices of one wave were applied one after the other');
  const revived = JSON.parse((await lab.kubectl(['get', 'deploy', '-n', 'default', '-o', 'json'], 'target')).stdout).items;
  assert.equal(revived.filter((d: any) => d.spec.replicas >= 1 && d.status.availableReplicas >= 1).length, 12);

  // Anyone editing the trail is caught, at the record they touched.
  const lines = readFileSync(journalOf(run), 'utf8').split('\n');
  lines[1] = lines[1]!.replace('"apply"', '"applied"');
  writeFileSync(journalOf(run), lines.join('\n'));
  const tampered = await ferry(['audit', 'verify', run]);
  assert.equal(tampered.code, 1);
  assert.match(tampered.stdout, /BROKEN at record 2 .*journal\.jsonl:2\): its content does not match its hash/);
});

test('ferry pause stops a run at the next slice; resume finishes it', async () => {
  // A cluster of its own: the test above leaves its target rolled back.
  const own = await startTestLab(['target']);
  after(() => own.stop());
  const plan = await writePlan();
  const pausedState = join(own.dir, 'state-pause');
  // Slow enough that the run is still going when `ferry pause` (a second process) arrives.
  own.clusters[0]!.setFaults({ latencyMs: 150 });
  const running = startFerry(['run', plan, '--kubeconfig', own.kubeconfigFile, '--state-dir', pausedState, '-o', 'json']);
  await waitFor(() => /loadgenerator: apply/.test(running.stderr), 60_000, () => running.stderr);
  const paused = await ferryAsync(['pause', '--state-dir', pausedState, '-o', 'json']);
  assert.equal(paused.code, 0, paused.stderr);
  assert.equal(JSON.parse(paused.stdout).requested, 'pause');
  const code = await running.closed;
  own.clusters[0]!.setFaults({});
  assert.equal(code, 1, 'a paused run is not finished');
  assert.ok(running.stdout.trim().startsWith('{'), `no state printed; running.stderr: ${running.stderr.slice(-600)}`);
  const state = JSON.parse(running.stdout);
  assert.equal(state.status, 'paused');
  assert.ok(state.slices.some((s: any) => s.stages.apply === 'pending'), 'it stopped before the end');
  const resumed = await ferryAsync(['resume', '--state-dir', pausedState, '--kubeconfig', own.kubeconfigFile, '-o', 'json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(JSON.parse(resumed.stdout).status, 'completed');
});

test('a plan naming a traffic provider without its settings is refused before anything moves', async () => {
  const result = await ferryAsync(['plan', '--manifests', BOUTIQUE, '--to', 'target', '-o', 'json']);
  const file = join(lab.dir, 'bare-provider.json');
  writeFileSync(file, result.stdout);
  const run = await ferry(['run', file]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /names the router traffic provider without its settings/);
});

async function waitFor(condition: () => boolean, timeoutMs: number, context: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting; output so far: ${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('a slice without traffic that names approvers waits for one of them before its decommission', async () => {
  const full = JSON.parse(readFileSync(await writePlan(), 'utf8'));
  const slice = full.spec.waves.flatMap((w: any) => w.slices).find((s: any) => s.name === 'adservice');
  full.metadata.name = 'approved-decommission';
  full.spec.waves = [{ name: 'wave-1', slices: [{ ...slice, dependsOn: [], approvers: ['alice'] }] }];
  const plan = join(lab.dir, 'approval-plan.json');
  writeFileSync(plan, JSON.stringify(full));
  const approvalState = join(lab.dir, 'state-approval');
  const running = startFerry(['run', plan, '--kubeconfig', lab.kubeconfigFile, '--state-dir', approvalState, '-o', 'json']);
  try {
    await waitFor(() => /waiting for alice/.test(running.stderr), 60_000, () => running.stderr);
    const run = readdirSync(join(approvalState, 'runs'))[0]!;
    const { context } = await addLabUser(lab.kubeconfigFile, { context: 'target', username: 'alice' });
    const approved = await ferryAsync(['approve', run, 'adservice', '--kubeconfig', lab.kubeconfigFile, '--context', context, '--state-dir', approvalState, '-o', 'json']);
    assert.equal(approved.code, 0, approved.stderr);
    assert.deepEqual(JSON.parse(approved.stdout), { run, requested: 'approve', slice: 'adservice', by: 'alice' });
    assert.equal(await running.closed, 0, running.stderr);
    assert.equal(JSON.parse(running.stdout).status, 'completed');
    const types = readFileSync(join(approvalState, 'runs', run, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line)).map((r) => `${r.type}${r.data?.stage ? ` ${r.data.stage}` : ''}`);
    const at = (type: string) => {
      const index = types.indexOf(type);
      assert.ok(index >= 0, `no ${type} in the journal: ${types.join(', ')}`);
      return index;
    };
    assert.ok(at('approved') < at('stage-started decommission'), types.join(', '));
    assert.ok(at('stage-completed apply') < at('approval-requested'), 'applied before asking');
  } finally {
    if (running.child.exitCode === null) running.child.kill('SIGKILL');
  }
});
