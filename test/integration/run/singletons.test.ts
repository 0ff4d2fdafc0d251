/**
 * Singletons run on one side (issue #22), on the lab with its CronJob controller, in real
 * minutes: a CronJob scheduled every minute and a singleton Deployment, in the slice that
 * `ferry run` moves (apply, ramp, cutover at the ramp's end, decommission), then `ferry
 * rollback`, then a second `ferry run`. Every Job either cluster creates is seen (polled every
 * 250 ms, by its scheduled-timestamp annotation): each minute of the window ran exactly once
 * across both clusters. Takes about 3–4 minutes (it waits for real schedule ticks).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRunStage, resetRoute, type RunStage } from './stage.js';

let stage: RunStage;
let stateDir: string;
before(async () => {
  stage = await startRunStage();
  stateDir = join(stage.lab.dir, 'state');
  const file = join(stage.lab.dir, 'singletons.yaml');
  writeFileSync(file, `apiVersion: batch/v1
kind: CronJob
metadata: {name: billing, namespace: default}
spec:
  schedule: "* * * * *"
  successfulJobsHistoryLimit: 50
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: bill, image: example.com/billing:v1}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: scheduler
  namespace: default
  annotations: {ferry.dev/singleton: "true"}
spec:
  replicas: 2
  selector: {matchLabels: {app: scheduler}}
  template:
    metadata: {labels: {app: scheduler}}
    spec:
      containers: [{name: scheduler, image: example.com/scheduler:v1, args: ["--leader-elect=true"]}]
`);
  const applied = await stage.lab.kubectl(['apply', '--server-side', '--field-manager', 'team-ci', '-f', file], 'source');
  assert.equal(applied.code, 0, applied.stderr);
});
after(async () => {
  await stage?.stop();
});

const MINUTE = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('an every-minute CronJob runs each tick exactly once across both clusters through run, rollback and a second run; the singleton never runs on both', { timeout: 330_000 }, async () => {
  const [source, target] = ['source', 'target'].map((name) => stage.lab.clusters.find((cluster) => cluster.name === name)!);
  const seen = new Map<string, Set<string>>([['source', new Set()], ['target', new Set()]]);
  const bothUp: string[] = [];
  const poll = setInterval(() => {
    for (const cluster of [source!, target!]) {
      for (const job of cluster.service.store.list('batch/jobs', 'default')) {
        const scheduled = job.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'];
        if (scheduled && job.metadata.ownerReferences?.some((owner) => owner.kind === 'CronJob' && owner.name === 'billing')) seen.get(cluster.name)!.add(scheduled);
      }
    }
    const replicas = [source!, target!].map((cluster) => {
      const deployment = cluster.service.store.list('apps/deployments', 'default').find((d) => d.metadata.name === 'scheduler');
      return { spec: (deployment?.spec as { replicas?: number } | undefined)?.replicas ?? 0, pods: cluster.service.store.list('/pods', 'default').filter((pod) => pod.metadata.labels?.app === 'scheduler').length };
    });
    if (replicas.every((side) => side.spec > 0) || replicas.every((side) => side.pods > 0)) bothUp.push(`${new Date().toISOString()} ${JSON.stringify(replicas)}`);
  }, 250);
  const ranOn = (cluster: string, after: number) => [...seen.get(cluster)!].some((t) => Date.parse(t) > after);
  const waitForTick = async (cluster: string, after: number) => {
    for (const deadline = Date.now() + 75_000; !ranOn(cluster, after); await sleep(250)) {
      if (Date.now() > deadline) throw new Error(`no tick ran on ${cluster} after ${new Date(after).toISOString()}: ${JSON.stringify(Object.fromEntries([...seen].map(([k, v]) => [k, [...v]])))}`);
    }
  };

  try {
    const plan = await stage.writePlan('singletons', (_plan, slice) => {
      slice.resources.push({ apiVersion: 'batch/v1', kind: 'CronJob', namespace: 'default', name: 'billing' }, { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: 'scheduler' });
      slice.workloads.push({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: 'scheduler' });
    });
    const windowStart = Date.now();

    // Run 1: apply (held), ramp, switch at the ramp's end, decommission.
    const first = stage.ferry(['run', plan, '--state-dir', stateDir, '-o', 'json']);
    assert.equal(await first.closed, 0, first.stderr);
    const run = JSON.parse(first.stdout);
    assert.equal(run.status, 'completed', first.stdout);
    const switched = stage.journal(stateDir, run.id).filter((record) => record.type === 'singletons-switched');
    assert.equal(switched.length, 1, 'one switch, at the end of the ramp');
    assert.deepEqual([switched[0].data.to, switched[0].data.reason, switched[0].data.suspended, switched[0].data.resumed.map((r: any) => r.cronJob)], ['target', 'ramp', ['default/billing'], ['default/billing']]);
    assert.deepEqual(switched[0].data.scaledUp, { 'Deployment default/scheduler': 2 });
    const firstSwitchAt = Date.parse(switched[0].at);
    await waitForTick('target', firstSwitchAt);

    // Rollback: the source runs them again.
    const rolledBack = await stage.ferry(['rollback', run.id, '--state-dir', stateDir, '-o', 'json']).closed;
    assert.equal(rolledBack, 0);
    const back = stage.journal(stateDir, run.id).filter((record) => record.type === 'singletons-switched').at(-1);
    assert.deepEqual([back.data.to, back.data.reason, back.data.scaledUp], ['source', 'rollback', { 'Deployment default/scheduler': 2 }]);
    await waitForTick('source', Date.parse(back.at));
    await resetRoute(stage);

    // Run 2: the same plan again.
    const second = stage.ferry(['run', plan, '--state-dir', stateDir, '-o', 'json']);
    assert.equal(await second.closed, 0, second.stderr);
    const run2 = JSON.parse(second.stdout);
    assert.equal(run2.status, 'completed');
    const again = stage.journal(stateDir, run2.id).filter((record) => record.type === 'singletons-switched');
    assert.equal(again.length, 1);
    await waitForTick('target', Date.parse(again[0].at));
    // The tick just seen on the target closes the window; a copy on the source would have come within the same second.
    await sleep(2_000);
    const windowEnd = Math.floor(Date.now() / MINUTE) * MINUTE;

    const ticks: string[] = [];
    for (let t = Math.floor(windowStart / MINUTE) * MINUTE + MINUTE; t <= windowEnd; t += MINUTE) ticks.push(new Date(t).toISOString().replace('.000Z', 'Z'));
    const inWindow = (cluster: string) => [...seen.get(cluster)!].filter((t) => Date.parse(t) > windowStart && Date.parse(t) <= windowEnd).sort();
    const [onSource, onTarget] = [inWindow('source'), inWindow('target')];
    const doubled = onSource.filter((t) => onTarget.includes(t));
    const missed = ticks.filter((t) => !onSource.includes(t) && !onTarget.includes(t));
    const switches = [...stage.journal(stateDir, run.id), ...stage.journal(stateDir, run2.id)].filter((record) => record.type === 'singletons-switched').map((record) => ({ at: record.at, to: record.data.to, resumed: record.data.resumed }));
    console.log(JSON.stringify({ ticks: ticks.length, onSource, onTarget, windowSeconds: Math.round((windowEnd - windowStart) / 1000), switches }));
    assert.deepEqual(doubled, [], 'no schedule time ran on both clusters');
    assert.deepEqual(missed, [], 'no schedule time was missed');
    assert.equal(onSource.length + onTarget.length, ticks.length);
    assert.ok(ticks.length >= 3, `the window spans at least 3 ticks (${ticks.length})`);
    assert.ok(onTarget.length >= 2 && onSource.length >= 1, 'both clusters ran some');
    assert.deepEqual(bothUp, [], 'the singleton Deployment was never up on both clusters');
  } finally {
    clearInterval(poll);
  }
});
