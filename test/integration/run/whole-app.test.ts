import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clustersOf, crossings, NAMESPACE, startAppStage, type Answer } from './app-stage.js';

/** When each stage of each slice started and completed, from the journal. */
function stageTimes(journal: any[]): { started(slice: string, stage: string): number | undefined; completed(slice: string, stage: string): number | undefined } {
  const find = (type: string, slice: string, stage: string) => {
    const record = journal.filter((r) => r.type === type && r.data.slice === slice && r.data.stage === stage).at(-1);
    return record ? Date.parse(record.at) : undefined;
  };
  return { started: (slice, stage) => find('stage-started', slice, stage), completed: (slice, stage) => find('stage-completed', slice, stage) };
}

function journalLines(journal: any[]): string {
  return journal.filter((r) => /^(stage-started|stage-completed|bridge-)/.test(r.type)).map((r) => `${r.at.slice(11, 23)} ${r.type} ${r.data.key ?? ''}${r.data.slice ?? ''} ${r.data.stage ?? ''}`).join('\n');
}

/** The plan's crossClusterCalls of a wave, in the words `crossings` uses. */
function plannedCrossings(wave: any): Set<string> {
  return new Set((wave.crossClusterCalls ?? []).map((call: any) => `${call.from}→${call.to} ${call.direction}`));
}

test('an eleven-service application moves wave by wave under load: every call answered, the calls crossing clusters at each wave are the plan\'s, and at the end the target serves every hop', { timeout: 600_000 }, async () => {
  const stage = await startAppStage();
  try {
    const { file, plan } = await stage.writePlan('whole-app');
    assert.ok(plan.spec.waves.length >= 3, `the app moves in several waves (got ${plan.spec.waves.length})`);
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
    const times = stageTimes(journal);
    plan.spec.waves.forEach((wave: any, w: number) => {
      const from = Math.max(...wave.slices.map((slice: any) => times.started(slice.name, 'soak') ?? 0)) + 1_500;
      const next = plan.spec.waves[w + 1];
      const to = next ? Math.min(...next.slices.map((slice: any) => times.started(slice.name, 'apply') ?? Infinity)) : Infinity;
      const steady = answers.filter((answer: Answer) => answer.at >= from && answer.at + 1_000 <= to && answer.tree);
      if (steady.length === 0) return;
      const seen = new Set<string>();
      for (const answer of steady) for (const crossing of crossings(answer.tree)) seen.add(crossing);
      assert.deepEqual([...seen].sort(), [...plannedCrossings(wave)].sort(), `wave ${w + 1}: calls crossing clusters (${steady.length} answers)`);
    });
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
