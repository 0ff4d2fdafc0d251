import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ferryAsync } from '../../helpers/cli.js';
import { waveCrossings } from '../../../src/demo/boutique.js';
import { clustersOf, crossings, NAMESPACE, startAppStage } from './app-stage.js';

function journalLines(journal: any[]): string {
  return journal.filter((r) => /^(stage-|bridge-|rollback-|run-)/.test(r.type)).map((r) => `${r.at.slice(11, 23)} ${r.type} ${r.data.key ?? ''}${r.data.slice ?? ''} ${r.data.stage ?? ''}`).join('\n');
}

test('an eleven-service application moves wave by wave under load: every call answered, the calls crossing clusters at each wave are the plan\'s, and at the end the target serves every hop', { timeout: 600_000 }, async () => {
  const stage = await startAppStage();
  try {
    const { file, plan } = await stage.writePlan('whole-app');
    assert.ok(plan.spec.waves.length >= 3, `the app moves in several waves (got ${plan.spec.waves.length})`);
    assert.equal(plan.spec.bridges.provider, 'endpoints', 'ferry plan found both clusters\' east-west gateways');
    const preflight = await ferryAsync(['preflight', file, '--kubeconfig', stage.lab.kubeconfigFile, '-o', 'json']);
    const bridgeRows = JSON.parse(preflight.stdout).rows.filter((row: any) => row.check === 'bridges');
    assert.deepEqual(bridgeRows.map((row: any) => row.severity), ['OK', 'OK'], JSON.stringify(bridgeRows));
    const users = stage.load(8);
    const stateDir = mkdtempSync(join(tmpdir(), 'ferry-whole-app-'));
    const run = stage.ferry(['run', file, '--state-dir', stateDir, '-o', 'json']);
    const code = await run.closed;
    const answers = await users.stop();
    assert.equal(code, 0, run.stderr.slice(-3000));
    const id = JSON.parse(run.stdout).id as string;
    const journal = stage.journal(stateDir, id);

    const failed = answers.filter((answer) => answer.status !== 200);
    assert.equal(failed.length, 0, `failed user requests: ${failed.slice(0, 3).map((a) => `${new Date(a.at).toISOString()} ${a.status} ${a.error}`).join(' | ')}\n${journalLines(journal)}`);
    assert.ok(answers.length > 100, `load ran through the migration (${answers.length} requests)`);

    // Between a wave's sources leaving service (their soak) and the next wave's first apply,
    // the application is exactly as the plan says it is after that wave.
    const waves = waveCrossings(plan, journal, answers);
    for (const wave of waves) {
      if (wave.answers > 0) assert.deepEqual(wave.observed, wave.planned, `${wave.wave}: calls crossing clusters (${wave.answers} answers)`);
    }
    assert.ok(waves.filter((wave) => wave.answers > 0).length >= waves.length - 1, `most waves were seen standing: ${waves.map((wave) => wave.answers).join(', ')} answers`);
    assert.ok(journal.some((record) => record.type === 'bridge-created'), 'bridges were made');

    const last = await stage.probe();
    assert.equal(last.status, 200);
    assert.deepEqual([...clustersOf(last.tree)], ['target'], 'every hop on the target');
    const replicas = await stage.kubectl(['get', 'deployments,statefulsets', '-n', NAMESPACE, '-o', 'jsonpath={range .items[*]}{.spec.replicas}{" "}{end}'], 'source');
    assert.match(replicas.stdout.trim(), /^(0 ?)+$/, `the source runs nothing: ${replicas.stdout}`);
  } finally {
    await stage.stop();
  }
});

async function waitFor(condition: () => boolean, timeoutMs: number, context: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting; output so far: ${context().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('rolling back the middle wave under load: 0 failed requests, and the callers left on the target reach it on the source through restored bridges', { timeout: 600_000 }, async () => {
  const stage = await startAppStage();
  try {
    const { file, plan } = await stage.writePlan('middle-wave');
    const middle = Math.ceil(plan.spec.waves.length / 2);
    const slices: string[] = plan.spec.waves[middle - 1].slices.map((slice: any) => slice.name);
    const users = stage.load(8);
    const stateDir = mkdtempSync(join(tmpdir(), 'ferry-middle-wave-'));
    const run = stage.ferry(['run', file, '--state-dir', stateDir]);
    await waitFor(() => new RegExp(`${slices[0]}: soak`).test(run.stderr), 300_000, () => run.stderr);
    const id = /run (\S+);/.exec(run.stderr)![1]!;
    const paused = await ferryAsync(['pause', id, '--state-dir', stateDir]);
    assert.equal(paused.code, 0, paused.stderr);
    await run.closed;
    const rollback = stage.ferry(['rollback', id, '--wave', String(middle), '--state-dir', stateDir, '-o', 'json']);
    const code = await rollback.closed;
    assert.equal(code, 0, rollback.stderr.slice(-3000));
    const after = await stage.probe();
    const answers = await users.stop();

    const journal = stage.journal(stateDir, id);
    const failed = answers.filter((answer) => answer.status !== 200);
    assert.equal(failed.length, 0, `failed user requests: ${failed.slice(0, 3).map((a) => `${new Date(a.at).toISOString()} ${a.status} ${a.error}`).join(' | ')}\n${journalLines(journal)}`);
    const rolledBack = journal.filter((record) => record.type === 'rollback-slice').map((record) => record.data.slice).sort();
    assert.deepEqual(rolledBack, [...slices].sort(), 'only the middle wave went back');
    // Its callers are still on the target and reach it on the source: through the bridges, by calling.
    assert.equal(after.status, 200, `${after.error}\n${journalLines(journal)}`);
    const crossing = [...crossings(after.tree)];
    for (const slice of slices) {
      assert.ok(crossing.some((edge) => edge.includes(`→${slice} target→source`)), `${slice} is called across clusters after its rollback: ${crossing.join(', ')}`);
    }
    const restored = journal.slice(journal.findIndex((record) => record.type === 'rollback-started')).filter((record) => record.type === 'bridge-created').map((record) => record.data.key);
    assert.ok(slices.every((slice) => restored.some((key: string) => key === `target:${NAMESPACE}/${slice}`)), `bridges restored for ${slices.join(', ')}: ${restored.join(', ')}`);
  } finally {
    await stage.stop();
  }
});

test('a workload called by someone the plan does not know about is not decommissioned: the held stage names the caller', { timeout: 600_000 }, async () => {
  // An operations job in another namespace calls the payment service by an address only its script knows.
  const auditor = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'auditor', namespace: 'ops' },
    spec: {
      replicas: 1, selector: { matchLabels: { app: 'auditor' } },
      template: {
        metadata: { labels: { app: 'auditor' }, annotations: { 'lab.ferry.dev/command': `while true; do curl -s -o /dev/null http://paymentservice.${NAMESPACE}:50051/; sleep 0.2; done` } },
        spec: { containers: [{ name: 'audit', image: 'example.com/auditor:v1' }] },
      },
    },
  };
  const stage = await startAppStage({ extra: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ops' } }, auditor] });
  try {
    const { file } = await stage.writePlan('unknown-caller', (plan) => {
      // The ops namespace stays where it is: the plan moves the shop only.
      for (const wave of plan.spec.waves) wave.slices = wave.slices.filter((slice: any) => slice.namespace !== 'ops');
      plan.spec.waves = plan.spec.waves.filter((wave: any) => wave.slices.length > 0);
      plan.spec.prerequisites = plan.spec.prerequisites.filter((ref: any) => ref.name !== 'ops');
    });
    const users = stage.load(8);
    const stateDir = mkdtempSync(join(tmpdir(), 'ferry-unknown-caller-'));
    const run = stage.ferry(['run', file, '--state-dir', stateDir, '-o', 'json']);
    const code = await run.closed;
    const answers = await users.stop();
    assert.notEqual(code, 0);
    const failed = answers.filter((answer) => answer.status !== 200);
    assert.equal(failed.length, 0, `failed user requests: ${failed.slice(0, 3).map((a) => `${a.status} ${a.error}`).join(' | ')}`);
    const id = JSON.parse(run.stdout).id as string;
    const held = stage.journal(stateDir, id).find((record) => record.type === 'stage-failed' && record.data.slice === 'paymentservice');
    assert.equal(held?.data.stage, 'decommission', JSON.stringify(held));
    assert.match(held.data.error, /auditor \(namespace ops, cluster source\)/);
    const replicas = await stage.kubectl(['get', 'deployment', 'paymentservice', '-n', NAMESPACE, '-o', 'jsonpath={.spec.replicas}'], 'source');
    assert.equal(replicas.stdout, '1', 'the source payment service still runs');
    assert.ok(!stage.journal(stateDir, id).some((record) => record.type === 'rollback-slice'), 'a held decommission rolls nothing back');
  } finally {
    await stage.stop();
  }
});
