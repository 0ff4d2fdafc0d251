/**
 * Every plan field `ferry run` is given does what it says: each assertion below fails if the
 * run ignores its field. Real parts throughout (see stage.ts): lab clusters, the router as a
 * process, Prometheus, customer load; `ferry run` and `ferry rollback` as processes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { resetRoute, startRunStage, type RunStage } from './stage.js';

let stage: RunStage;
before(async () => {
  stage = await startRunStage();
});
after(async () => {
  await stage?.stop();
});

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  run: string;
  stateDir: string;
  journal: any[];
  users: { requests: number; failed: number; failures: string[] };
}

async function runPlan(name: string, edit: (plan: any, slice: any) => void, load: Parameters<RunStage['load']>[0] = {}): Promise<Finished> {
  await resetRoute(stage);
  const plan = await stage.writePlan(name, edit);
  const stateDir = join(stage.lab.dir, `state-${name}`);
  const users = stage.load(load);
  const running = stage.ferry(['run', plan, '--state-dir', stateDir, '-o', 'json']);
  const code = await running.closed;
  const seen = await users.stop();
  const run = readdirSync(join(stateDir, 'runs'))[0]!;
  return { code, stdout: running.stdout, stderr: running.stderr, run, stateDir, journal: stage.journal(stateDir, run), users: seen };
}

const completed = (journal: any[], stage: string) => journal.find((r) => r.type === 'stage-completed' && r.data.stage === stage);
const replicas = async (context: string, name = 'adservice') => JSON.parse((await stage.lab.kubectl(['get', 'deploy', name, '-n', 'default', '-o', 'json'], context)).stdout).spec.replicas;

describe('a run with stickiness, mirror options, keepSourceFor and scaleSourceToZero: false', () => {
  let result: Finished;
  before(async () => {
    result = await runPlan('fields', (plan, slice) => {
      slice.traffic.stickiness = { header: 'x-user' };
      slice.traffic.mirror = { percent: 100, duration: '2s', ignoreJsonPaths: ['$.backend'], allowNonIdempotent: true };
      slice.gates = { shadowMismatch: { maxRate: 0 } };
      slice.rollback = { keepSourceFor: '4s' };
      slice.decommission = { scaleSourceToZero: false };
    }, { method: (i) => (i % 3 === 0 ? 'POST' : 'GET') });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).status, 'completed');
    assert.equal(result.users.failed, 0, result.users.failures.slice(0, 3).join('; '));
  });

  it('traffic.stickiness: the router keys users by the plan\'s header', async () => {
    assert.deepEqual((await stage.route()).stickiness, { mode: 'header', name: 'x-user' });
  });

  it('traffic.mirror.ignoreJsonPaths: bodies that differ only there compare equal', () => {
    // The two backends answer {"backend": "source"} and {"backend": "target"}: without the
    // ignored path every comparison differs and the shadow gate (maxRate 0) fails the stage.
    const shadow = completed(result.journal, 'shadow');
    assert.ok(shadow.data.compared >= 20, `compared ${shadow.data.compared}`);
    assert.equal(shadow.data.mismatched, 0);
    // The window journals its running comparison each second (the dashboard's live mismatch rate).
    const samples = result.journal.filter((record: any) => record.type === 'shadow-sample').map((record: any) => record.data.compared);
    assert.ok(samples.length >= 1, 'a 2 s shadow window journals at least one shadow-sample');
    assert.deepEqual(samples, [...samples].sort((a, b) => a - b), 'compared only grows within the window');
    assert.ok(samples.at(-1) <= shadow.data.compared);
  });

  it('traffic.mirror.allowNonIdempotent: POSTs are mirrored too', async () => {
    const stats = await (await fetch(`${stage.router.adminUrl}/routes/ads/mirror`)).json() as { skippedNonIdempotent: number; compared: number };
    assert.equal(stats.skippedNonIdempotent, 0);
    assert.equal((await stage.route()).mirror.allowNonIdempotent, true);
  });

  it('rollback.keepSourceFor: the source is retired no sooner than 4 s after the slice reached 100 %', () => {
    const kept = result.journal.find((r) => r.type === 'source-kept');
    assert.ok(kept, 'a source-kept record');
    const rampDone = Date.parse(completed(result.journal, 'ramp').at);
    const retired = Date.parse(completed(result.journal, 'decommission').at);
    assert.ok(retired - rampDone >= 3900, `retired ${retired - rampDone} ms after 100 %`);
  });

  it('decommission.scaleSourceToZero: false leaves the source running', async () => {
    assert.equal(await replicas('source'), 1);
  });
});

it('shadow: fewer comparisons than gates.minRequests is inconclusive, not a pass', async () => {
  // POSTs only and allowNonIdempotent off: nothing is mirrored, so nothing is compared.
  const result = await runPlan('no-shadow', (plan, slice) => {
    slice.traffic.mirror = { percent: 100, duration: '1s' };
    plan.spec.defaults.analysis.onInconclusive = 'hold';
    slice.rollback = { onFailure: 'manual' };
  }, { method: () => 'POST' });
  assert.equal(result.code, 1);
  const failed = result.journal.find((r) => r.type === 'stage-failed');
  assert.equal(failed.data.stage, 'shadow');
  assert.match(failed.data.error, /compared 0 mirrored requests, fewer than gates.minRequests \(20\): inconclusive/);
});

it('rollback.onFailure: automatic takes the whole slice back after a failed stage; manual leaves it', async () => {
  // Mirrored bodies differ (no ignored path) and the shadow gate allows none: the stage fails.
  const failing = (onFailure: string) => (plan: any, slice: any) => {
    slice.traffic.mirror = { percent: 100, duration: '1s' };
    slice.gates = { shadowMismatch: { maxRate: 0 } };
    slice.rollback = { onFailure };
  };
  const automatic = await runPlan('automatic', failing('automatic'));
  assert.equal(automatic.code, 1);
  const rolledBack = automatic.journal.find((r) => r.type === 'rollback-slice');
  assert.equal(rolledBack?.data.reason, 'automatic');
  assert.match(rolledBack.data.error, /shadow responses differ/);
  assert.equal(await replicas('target'), 0, 'the target was retired');
  assert.equal(JSON.parse(automatic.stdout).slices[0].stages.apply, 'pending', 'resume starts the slice again');

  const manual = await runPlan('manual', failing('manual'));
  assert.equal(manual.code, 1);
  assert.equal(manual.journal.some((r) => r.type === 'rollback-slice'), false);
  assert.equal(await replicas('target'), 1, 'the target is left as it was');
});

it('decommission.deleteSource, then ferry rollback under load: the source is re-created and Available before any user goes back to it', async () => {
  const result = await runPlan('delete-source', (plan, slice) => {
    slice.decommission = { deleteSource: true };
  });
  assert.equal(result.code, 0, result.stderr);
  const gone = await stage.lab.kubectl(['get', 'deploy', 'adservice', '-n', 'default'], 'source');
  assert.match(gone.stderr, /NotFound/);
  assert.equal((await stage.route()).weights.target, 100);

  const users = stage.load();
  // Watch both sides while the rollback runs: when the source became Available, when the weight left 100.
  const seen: { availableAt?: number; weightMovedAt?: number } = {};
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const now = Date.now();
      const deploy = await stage.lab.kubectl(['get', 'deploy', 'adservice', '-n', 'default', '-o', 'json'], 'source');
      if (!seen.availableAt && deploy.code === 0 && JSON.parse(deploy.stdout).status?.conditions?.some((c: any) => c.type === 'Available' && c.status === 'True')) seen.availableAt = now;
      if (!seen.weightMovedAt && (await stage.route()).weights.target < 100) seen.weightMovedAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  const rollback = stage.ferry(['rollback', result.run, '--state-dir', result.stateDir, '-o', 'json']);
  const code = await rollback.closed;
  watching = false;
  await watcher;
  const after = await users.stop();
  assert.equal(code, 0, rollback.stderr);
  assert.equal(JSON.parse(rollback.stdout).status, 'rolled-back');
  assert.ok(seen.availableAt && seen.weightMovedAt, JSON.stringify(seen));
  assert.ok(seen.availableAt <= seen.weightMovedAt, `weight moved ${seen.weightMovedAt - seen.availableAt} ms before the source was Available`);
  assert.equal(after.failed, 0, after.failures.slice(0, 3).join('; '));
  const record = stage.journal(result.stateDir, result.run).find((r) => r.type === 'rollback-slice');
  assert.ok(record.data.source.recreated.includes('Deployment default/adservice'));
  assert.ok(record.data.recoveryMs >= record.data.sourceReadyMs);
});
