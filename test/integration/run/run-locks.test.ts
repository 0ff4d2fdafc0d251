/**
 * One run per target and route, approvers as cluster identities, and no trace of a run that
 * never started — through the real `ferry` CLI against a lab (issue #19, items 2, 7, 11).
 * Leases are read back with real kubectl; identities are the lab's SelfSubjectReview.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { addLabUser } from '../../../src/lab/lab-users.js';
import { BOUTIQUE, ferryAsync, startFerry, type RunningFerry } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';

let lab: TestLab;
let basePlan: any;

before(async () => {
  lab = await startTestLab(['source', 'target']);
  const planned = await ferryAsync(['plan', '--manifests', BOUTIQUE, '--to', 'target', '--name', 'locks', '-o', 'json']);
  basePlan = JSON.parse(planned.stdout);
  basePlan.spec.defaults.traffic.provider = 'none';
  basePlan.spec.defaults.decommission.after = '0s';
});

after(async () => {
  await lab?.stop();
});

/** One slice that waits for alice's approval before its decommission: a run that stays alive until approved. */
function writePlan(name: string, edit: (plan: any) => void = () => undefined): string {
  const plan = structuredClone(basePlan);
  const slice = plan.spec.waves.flatMap((w: any) => w.slices).find((s: any) => s.name === 'adservice');
  plan.metadata.name = name;
  plan.spec.waves = [{ name: 'wave-1', slices: [{ ...slice, dependsOn: [], approvers: ['alice'] }] }];
  edit(plan);
  const file = join(lab.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(plan));
  return file;
}

const runsIn = (stateDir: string) => (existsSync(join(stateDir, 'runs')) ? readdirSync(join(stateDir, 'runs')) : []);

async function waitFor(condition: () => boolean, timeoutMs: number, context: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting; output so far: ${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function startWaitingRun(plan: string, stateDir: string): Promise<{ running: RunningFerry; run: string }> {
  const running = startFerry(['run', plan, '--kubeconfig', lab.kubeconfigFile, '--state-dir', stateDir, '-o', 'json']);
  await waitFor(() => /waiting for alice/.test(running.stderr) || running.child.exitCode !== null, 60_000, () => running.stderr);
  assert.match(running.stderr, /waiting for alice/, running.stderr);
  const run = /^run (\S+); journal/m.exec(running.stderr)![1]!;
  return { running, run };
}

async function leases(): Promise<any[]> {
  const listed = await lab.kubectl(['get', 'leases', '-n', 'ferry-system', '-o', 'json'], 'target');
  assert.equal(listed.code, 0, listed.stderr);
  return JSON.parse(listed.stdout).items;
}

test('kubectl auth whoami names the lab administrator, and a user minted for the lab', async () => {
  const admin = await lab.kubectl(['auth', 'whoami', '-o', 'json'], 'target');
  assert.equal(admin.code, 0, admin.stderr);
  assert.equal(JSON.parse(admin.stdout).status.userInfo.username, 'kubernetes-admin');
  const { context } = await addLabUser(lab.kubeconfigFile, { context: 'target', username: 'bob', groups: ['release-managers'] });
  assert.equal(context, 'bob@target');
  const bob = await lab.kubectl(['auth', 'whoami'], context);
  assert.equal(bob.code, 0, bob.stderr);
  assert.match(bob.stdout, /^Username\s+bob$/m);
  assert.match(bob.stdout, /release-managers/);
});

test('a second run of the same plan is refused naming the first; approvals come from the caller\'s credentials', async () => {
  const plan = writePlan('twice');
  const first = join(lab.dir, 'state-first');
  const second = join(lab.dir, 'state-second');
  const { running, run } = await startWaitingRun(plan, first);
  try {
    const held = await leases();
    assert.ok(held.length >= 1, 'the run holds Leases on the target');
    assert.ok(held.every((lease) => lease.spec.holderIdentity === `${run}@${hostname()}/${running.child.pid}`), JSON.stringify(held.map((l) => l.spec)));

    const refused = await ferryAsync(['run', plan, '--kubeconfig', lab.kubeconfigFile, '--state-dir', second]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`namespace default of the target cluster is held by run ${run} on host ${hostname()} \\(pid ${running.child.pid}, plan twice\\), started \\d{4}-\\d\\d-\\d\\dT`));
    assert.match(refused.stderr, new RegExp(`fix: wait for run ${run} to finish`));
    assert.doesNotMatch(refused.stderr, /adservice: apply/, 'the second run applied nothing');
    assert.deepEqual(runsIn(second), [], 'the refused run left no run directory');
    // Another plan over the same namespace is refused the same way.
    const other = await ferryAsync(['run', writePlan('other'), '--kubeconfig', lab.kubeconfigFile, '--state-dir', second]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, new RegExp(`held by run ${run} on host`));

    // The administrator's credentials say kubernetes-admin, whatever --as says.
    const asAdmin = await ferryAsync(['approve', run, 'adservice', '--kubeconfig', lab.kubeconfigFile, '--state-dir', first]);
    assert.equal(asAdmin.code, 1);
    assert.match(asAdmin.stderr, /^error: kubernetes-admin \(context "target"\) is not an approver of slice adservice \(fix: ask one of: alice/m);
    const typed = await ferryAsync(['approve', run, 'adservice', '--as', 'alice', '--kubeconfig', lab.kubeconfigFile, '--state-dir', first]);
    assert.equal(typed.code, 1);
    assert.match(typed.stderr, /--as: --as alice does not match who you are on the target cluster: kubernetes-admin/);
    assert.equal(running.child.exitCode, null, 'still waiting for a real approval');

    const { context } = await addLabUser(lab.kubeconfigFile, { context: 'target', username: 'alice' });
    const approved = await ferryAsync(['approve', run, 'adservice', '--context', context, '--kubeconfig', lab.kubeconfigFile, '--state-dir', first, '-o', 'json']);
    assert.equal(approved.code, 0, approved.stderr);
    assert.deepEqual(JSON.parse(approved.stdout), { run, requested: 'approve', slice: 'adservice', by: 'alice' });
    assert.equal(await running.closed, 0, running.stderr);
    const records = readFileSync(join(first, 'runs', run, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(records.filter((r) => r.type === 'approved').map((r) => r.actor), ['alice']);
    assert.deepEqual(records.filter((r) => r.type === 'stage-completed' && r.data.stage === 'apply').length, 1);
    assert.ok((await leases()).every((lease) => !lease.spec.holderIdentity), 'released at the end');
  } finally {
    if (running.child.exitCode === null) running.child.kill('SIGKILL');
  }
});

test('the Leases of a killed run expire and the next run takes them over', async () => {
  const plan = writePlan('killed');
  const stateDir = join(lab.dir, 'state-killed');
  const killed = await startWaitingRun(plan, stateDir);
  killed.running.child.kill('SIGKILL');
  await killed.running.closed;

  const early = await ferryAsync(['run', plan, '--kubeconfig', lab.kubeconfigFile, '--state-dir', stateDir]);
  assert.equal(early.code, 1);
  assert.match(early.stderr, new RegExp(`held by run ${killed.run} on host`));
  assert.deepEqual(runsIn(stateDir), [killed.run]);

  const lease = (await leases())[0];
  const expiresAt = Date.parse(lease.spec.renewTime) + lease.spec.leaseDurationSeconds * 1000;
  assert.equal(lease.spec.leaseDurationSeconds, 15);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 500));

  const next = await startWaitingRun(plan, stateDir);
  try {
    const taken = await leases();
    assert.ok(taken.every((l) => l.spec.holderIdentity.startsWith(`${next.run}@`)), JSON.stringify(taken.map((l) => l.spec)));
    assert.ok(taken.every((l) => l.spec.leaseTransitions >= 1));
    const { context } = await addLabUser(lab.kubeconfigFile, { context: 'target', username: 'alice' });
    const approved = await ferryAsync(['approve', next.run, 'adservice', '--context', context, '--kubeconfig', lab.kubeconfigFile, '--state-dir', stateDir]);
    assert.equal(approved.code, 0, approved.stderr);
    assert.equal(await next.running.closed, 0, next.running.stderr);
  } finally {
    if (next.running.child.exitCode === null) next.running.child.kill('SIGKILL');
  }
});

test('a run refused while it was being set up leaves no run directory, and status shows none', async () => {
  const plan = writePlan('refused', (p) => {
    p.spec.source = { context: 'source' };
    const slice = p.spec.waves[0].slices[0];
    delete slice.approvers;
    slice.data = { source: 'secret:default/missing-db/url', target: 'secret:default/missing-db/url' };
  });
  const stateDir = join(lab.dir, 'state-refused');
  const refused = await ferryAsync(['run', plan, '--kubeconfig', lab.kubeconfigFile, '--state-dir', stateDir]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /Secret default\/missing-db does not exist on the source cluster/);
  assert.deepEqual(runsIn(stateDir), []);
  const status = await ferryAsync(['status', '--state-dir', stateDir]);
  assert.equal(status.code, 1);
  assert.match(status.stderr, /no runs under/);
  assert.ok((await leases()).every((lease) => !lease.spec.holderIdentity), 'its Leases were given back');
});
