/**
 * The run's Leases on a lab target, through the library call `ferry run` makes
 * (`acquireRunLeases`): what a plan locks, races, resume after a crash, and a lost Lease.
 * Short Lease durations keep the expiry cases quick; the CLI's defaults are tested in
 * run-locks.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePlan } from '../../../src/plan/load.js';
import type { MigrationPlan } from '../../../src/plan/schema.js';
import { acquireRunLeases, runLockScopes } from '../../../src/run/lease-lock.js';
import { FerryError } from '../../../src/util/errors.js';
import { BOUTIQUE, ferryAsync } from '../../helpers/cli.js';
import { startTestLab, type TestLab } from '../../helpers/lab.js';

let lab: TestLab;
let generated: any;

before(async () => {
  lab = await startTestLab(['target']);
  generated = JSON.parse((await ferryAsync(['plan', '--manifests', BOUTIQUE, '--to', 'target', '--name', 'leases', '-o', 'json'])).stdout);
  generated.spec.defaults.traffic.provider = 'none';
});

after(async () => {
  await lab?.stop();
});

/** A one-slice plan over `namespace`, optionally with its traffic on the router route `route`. */
function planFor(name: string, namespace: string, route?: string): MigrationPlan {
  const plan = structuredClone(generated);
  const slice = plan.spec.waves.flatMap((w: any) => w.slices).find((s: any) => s.name === 'adservice');
  const moved = { ...slice, dependsOn: [], namespace, resources: slice.resources.map((r: any) => ({ ...r, namespace })), workloads: slice.workloads.map((r: any) => ({ ...r, namespace })) };
  if (route) moved.traffic = { provider: { type: 'router', adminUrl: 'http://127.0.0.1:9901/', route } };
  plan.metadata.name = name;
  plan.spec.waves = [{ name: 'wave-1', slices: [moved] }];
  const file = join(lab.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(plan));
  return parsePlan(JSON.stringify(plan), file).plan;
}

const options = (runId: string, extra: Record<string, unknown> = {}) => ({ kubeconfig: lab.kubeconfigFile, runId, ...extra });

test('a plan locks each target namespace and each traffic route it names, whatever other plans call them', async () => {
  const a = planFor('plan-a', 'shop', 'ads');
  const b = planFor('plan-b', 'other', 'ads');
  assert.deepEqual(runLockScopes(a).map((s) => s.scope), ['namespace shop of the target cluster', 'traffic route router http://127.0.0.1:9901 route ads']);
  const held = await acquireRunLeases(a, options('run-a'));
  try {
    // A different plan, another namespace, the same route: refused on the route.
    await assert.rejects(acquireRunLeases(b, options('run-b')), (error: FerryError) => {
      assert.equal(error.code, 'run.locked');
      assert.match(error.message, /^traffic route router http:\/\/127\.0\.0\.1:9901 route ads is held by run run-a on host /);
      return true;
    });
    // All or nothing: plan-b's namespace Lease was given back when its route was refused.
    const other = JSON.parse((await lab.kubectl(['get', 'lease', 'ferry-namespace-other', '-n', 'ferry-system', '-o', 'json'], 'target')).stdout);
    assert.equal(other.spec.holderIdentity ?? null, null);
  } finally {
    await held.release();
  }
  const after = await acquireRunLeases(b, options('run-b'));
  await after.release();
});

test('of runs racing for the same target, exactly one wins', async () => {
  const plan = planFor('race', 'race');
  const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => acquireRunLeases(plan, options(`racer-${i}`))));
  const won = results.filter((r) => r.status === 'fulfilled');
  assert.equal(won.length, 1, results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'won')).join('\n'));
  for (const r of results) if (r.status === 'rejected') assert.match((r.reason as Error).message, /is held by run racer-\d|kept changing/);
  await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
});

test('a resumed run takes over its own Leases from its dead process at once; another run must wait for expiry', async () => {
  const plan = planFor('resume', 'resume');
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // a pid that no longer runs
  // Never renewed (renewSeconds 60) nor released: its process "died".
  const crashed = await acquireRunLeases(plan, options('resume-1', { pid: dead, leaseDurationSeconds: 2, renewSeconds: 60 }));
  await assert.rejects(acquireRunLeases(plan, options('resume-2')), /held by run resume-1/);
  const resumed = await acquireRunLeases(plan, options('resume-1', { leaseDurationSeconds: 2, renewSeconds: 60 }));
  const lease = JSON.parse((await lab.kubectl(['get', 'lease', 'ferry-namespace-resume', '-n', 'ferry-system', '-o', 'json'], 'target')).stdout);
  assert.equal(lease.spec.holderIdentity.endsWith(`/${process.pid}`), true);
  // Not renewed (renewSeconds 60): after 2 s another run may take it, and the first learns it lost it.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const next = await acquireRunLeases(plan, options('resume-2'));
  await next.release();
  // Releasing what another run took over since changes nothing and does not fail.
  await resumed.release();
  await crashed.release();
});

test('a run whose Lease another run took over is told so when it renews', async () => {
  const plan = planFor('lost', 'lost');
  let lost: FerryError | undefined;
  const first = await acquireRunLeases(plan, options('lost-1', { leaseDurationSeconds: 1, renewSeconds: 3, onLost: (error: FerryError) => (lost = error) }));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const second = await acquireRunLeases(plan, options('lost-2'));
  const deadline = Date.now() + 5000;
  while (!lost && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(lost, 'onLost was called');
  assert.equal(lost.code, 'run.lease-lost');
  assert.match(lost.message, /lost its lock on namespace lost of the target cluster: it is now held by run lost-2/);
  await first.release();
  const lease = JSON.parse((await lab.kubectl(['get', 'lease', 'ferry-namespace-lost', '-n', 'ferry-system', '-o', 'json'], 'target')).stdout);
  assert.match(lease.spec.holderIdentity, /^lost-2@/, 'the loser releasing does not free the winner\'s Lease');
  await second.release();
});
