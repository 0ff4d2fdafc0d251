/**
 * The lab's CronJob controller against its own API, without waiting for real minutes: a
 * CronJob whose `status.lastScheduleTime` is set minutes back has the current minute's time
 * due at once (as a real controller would after an outage), which is enough to see
 * concurrencyPolicy, suspend, the Job's name/owner/annotation, status and history at work.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startLabCluster, type LabCluster } from '../../../src/lab/cluster.js';
import { ControllerClient } from '../../../src/lab/controllers/client.js';
import type { KubeObject } from '../../../src/kube/object.js';

let cluster: LabCluster;
let client: ControllerClient;
before(async () => {
  cluster = await startLabCluster({ name: 'cron' });
  client = new ControllerClient(cluster.service);
});
after(async () => {
  await cluster?.stop();
});

const MINUTE = 60_000;
const cronJob = () => client.get('batch/v1', 'CronJob', 'default', 'tick')!;
const jobs = () => client.list('batch/v1', 'Job', 'default').filter((job) => job.metadata.ownerReferences?.some((owner) => owner.name === 'tick'));
const update = (change: (spec: Record<string, unknown>) => void) => {
  const current = structuredClone(cronJob());
  change(current.spec as Record<string, unknown>);
  client.update(current);
};
const rewind = () => client.setStatus(cronJob(), { ...(cronJob().status ?? {}), lastScheduleTime: new Date(Date.now() - 3 * MINUTE).toISOString().replace(/\.\d{3}Z$/, 'Z') });
const settle = async () => {
  await new Promise((resolve) => setTimeout(resolve, 50));
  await cluster.settled();
};

test('Forbid skips a due time while a Job runs; Replace deletes it and starts the due one; suspend starts nothing; history is kept to its limit', async () => {
  // Away from a minute boundary, so the only due time is the one the test makes due.
  const intoMinute = Date.now() % MINUTE;
  if (intoMinute > 50_000) await new Promise((resolve) => setTimeout(resolve, MINUTE - intoMinute + 1_000));
  client.create({
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'tick', namespace: 'default' },
    spec: { schedule: '* * * * *', suspend: true, concurrencyPolicy: 'Forbid', successfulJobsHistoryLimit: 1, jobTemplate: { metadata: { labels: { app: 'tick' } }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'example.com/tick:v1' }] } } } } },
  } as unknown as KubeObject);
  // A Job of the CronJob that never finishes (suspended): it stays active.
  const owner = cronJob();
  client.create({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'tick-running', namespace: 'default', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'tick', uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true }] }, spec: { suspend: true, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'example.com/tick:v1' }] } } } } as unknown as KubeObject);
  rewind();
  await settle();
  assert.deepEqual(jobs().map((job) => job.metadata.name), ['tick-running'], 'suspended: nothing started');

  update((spec) => (spec.suspend = false));
  await settle();
  assert.deepEqual(jobs().map((job) => job.metadata.name), ['tick-running'], 'Forbid: nothing started beside the running Job');
  assert.deepEqual((cronJob().status as { active?: Array<{ name: string }> }).active?.map((ref) => ref.name), ['tick-running']);

  update((spec) => (spec.concurrencyPolicy = 'Replace'));
  await settle();
  const due = new Date(Math.floor(Date.now() / MINUTE) * MINUTE);
  const name = `tick-${due.getTime() / MINUTE}`;
  const created = client.get('batch/v1', 'Job', 'default', name);
  assert.ok(created, `Replace started ${name}: ${JSON.stringify(jobs().map((j) => j.metadata.name))}`);
  assert.equal(created.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'], due.toISOString().replace('.000Z', 'Z'));
  assert.equal(created.metadata.labels?.app, 'tick');
  assert.equal(created.metadata.ownerReferences?.[0]?.uid, owner.metadata.uid);
  assert.equal(client.get('batch/v1', 'Job', 'default', 'tick-running'), undefined, 'Replace deleted the running Job');
  assert.equal((cronJob().status as { lastScheduleTime?: string }).lastScheduleTime, due.toISOString().replace('.000Z', 'Z'));
  // Simulated pods complete at once: the Job finishes and leaves the active list; a history limit of 0 removes it.
  assert.ok((cronJob().status as { lastSuccessfulTime?: string }).lastSuccessfulTime);
  update((spec) => (spec.successfulJobsHistoryLimit = 0));
  for (let i = 0; i < 50 && client.get('batch/v1', 'Job', 'default', name); i++) await settle();
  assert.equal(client.get('batch/v1', 'Job', 'default', name), undefined, 'successfulJobsHistoryLimit 0: the finished Job is deleted');
  assert.equal((cronJob().status as { active?: unknown[] }).active, undefined);

  // The same due time is not run twice: lastScheduleTime already names it.
  await settle();
  assert.deepEqual(jobs(), []);
});
