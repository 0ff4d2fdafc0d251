/**
 * `ferry pause` and `ferry abort` reach a run inside its ramp, within about one judge interval
 * of the request arriving: abort leaves the slice at weight 0 and says so in the journal;
 * pause holds the weight where it is, and `ferry resume` goes on from there, never lower.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ferryAsync } from '../../helpers/cli.js';
import { resetRoute, startRunStage, type RunStage } from './stage.js';

let stage: RunStage;
before(async () => {
  stage = await startRunStage(['target']);
});
after(async () => {
  await stage?.stop();
});

async function untilWeight(weight: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await stage.route()).weights.target === weight) return Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the route never showed target ${weight}%`);
}

/** A plan whose first step is held long enough for a person to act in the middle of it. */
async function longRamp(name: string, stepWindow: string): Promise<{ plan: string; stateDir: string }> {
  await resetRoute(stage);
  const plan = await stage.writePlan(name, (p) => {
    p.spec.defaults.traffic.steps = [30, 100];
    p.spec.defaults.traffic.stepWindow = stepWindow;
  });
  return { plan, stateDir: join(stage.lab.dir, `state-${name}`) };
}

test('ferry abort mid-ramp: the weight is back at 0 within a second of the request, and the journal says why', async () => {
  const { plan, stateDir } = await longRamp('abort', '40s');
  const users = stage.load();
  const running = stage.ferry(['run', plan, '--state-dir', stateDir, '-o', 'json']);
  await untilWeight(30, 60_000);
  const run = readdirSync(join(stateDir, 'runs'))[0]!;
  const aborted = await ferryAsync(['abort', run, '--state-dir', stateDir]);
  assert.equal(aborted.code, 0, aborted.stderr);
  const requested = Date.now();
  const atZero = await untilWeight(0, 5_000);
  assert.equal(await running.closed, 1);
  const seen = await users.stop();
  assert.ok(atZero - requested < 1000, `weight 0 came ${atZero - requested} ms after the abort request`);
  assert.equal(JSON.parse(running.stdout).status, 'aborted');
  const journal = stage.journal(stateDir, run);
  assert.ok(journal.some((r) => r.type === 'weight-set' && r.data.weight === 0 && r.data.reason === 'abort'));
  assert.ok(journal.some((r) => r.type === 'stage-interrupted' && r.data.stage === 'ramp' && r.data.by === 'abort'));
  assert.equal(journal.some((r) => r.type === 'stage-completed' && r.data.stage === 'ramp'), false);
  assert.equal(seen.failed, 0);
});

test('ferry pause mid-ramp holds the weight; ferry resume continues from it to 100 %', async () => {
  const { plan, stateDir } = await longRamp('pause', '6s');
  const users = stage.load();
  const running = stage.ferry(['run', plan, '--state-dir', stateDir, '-o', 'json']);
  await untilWeight(30, 60_000);
  const run = readdirSync(join(stateDir, 'runs'))[0]!;
  const paused = await ferryAsync(['pause', run, '--state-dir', stateDir]);
  assert.equal(paused.code, 0, paused.stderr);
  const requested = Date.now();
  assert.equal(await running.closed, 1);
  assert.ok(Date.now() - requested < 1500, `the run stopped ${Date.now() - requested} ms after the pause request`);
  assert.equal(JSON.parse(running.stdout).status, 'paused');
  assert.equal((await stage.route()).weights.target, 30, 'a pause holds the weight');

  const resumed = stage.ferry(['resume', run, '--state-dir', stateDir, '-o', 'json']);
  assert.equal(await resumed.closed, 0, resumed.stderr.slice(-1000));
  const seen = await users.stop();
  assert.equal(JSON.parse(resumed.stdout).status, 'completed');
  const weights = stage.journal(stateDir, run).filter((r) => r.type === 'weight-set').map((r) => r.data.weight);
  assert.deepEqual(weights, [30, 30, 100], 'resume re-asserts 30 % and goes on, never lower');
  assert.equal(seen.failed, 0);
});
