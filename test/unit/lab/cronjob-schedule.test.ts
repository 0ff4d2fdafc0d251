import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobFromTemplate, jobNameFor, mostRecentScheduleTime, parseSchedule, tooLate, SCHEDULED_TIMESTAMP_ANNOTATION } from '../../../src/lab/controllers/cronjob.js';
import type { KubeObject } from '../../../src/kube/object.js';

const at = (iso: string) => new Date(iso);

test('standard five-field schedules and descriptors give the upstream next times', () => {
  assert.deepEqual(parseSchedule('*/15 * * * *').next(at('2026-01-01T00:07:30Z')), at('2026-01-01T00:15:00Z'));
  assert.deepEqual(parseSchedule('0 3 * * 1').next(at('2026-01-01T00:00:00Z')), at('2026-01-05T03:00:00Z'), 'Monday 03:00');
  assert.deepEqual(parseSchedule('@hourly').next(at('2026-01-01T00:00:00Z')), at('2026-01-01T01:00:00Z'));
  assert.deepEqual(parseSchedule('@daily').next(at('2026-01-01T00:00:00Z')), at('2026-01-02T00:00:00Z'));
  // Strictly after: a time on the schedule is not its own next.
  assert.deepEqual(parseSchedule('* * * * *').next(at('2026-01-01T00:01:00Z')), at('2026-01-01T00:02:00Z'));
  // spec.timeZone: 09:00 in Tokyo is 00:00 UTC.
  assert.deepEqual(parseSchedule('0 9 * * *', 'Asia/Tokyo').next(at('2026-01-01T01:00:00Z')), at('2026-01-02T00:00:00Z'));
  assert.deepEqual(parseSchedule('CRON_TZ=Asia/Tokyo 0 9 * * *').next(at('2026-01-01T01:00:00Z')), at('2026-01-02T00:00:00Z'));
});

test('schedules Kubernetes refuses are refused', () => {
  assert.throws(() => parseSchedule('0 * * * * *'), /5 fields/, 'a seconds field is not standard cron');
  assert.throws(() => parseSchedule('61 * * * *'), /59/);
  assert.throws(() => parseSchedule('@every 5m'), /descriptor/);
  assert.throws(() => parseSchedule(''), /5 fields/);
});

test('the most recent due time: after lastScheduleTime, else creation; only the latest of several missed', () => {
  const everyMinute = parseSchedule('* * * * *');
  const created = at('2026-01-01T00:00:30Z');
  assert.equal(mostRecentScheduleTime({ creationTimestamp: created }, at('2026-01-01T00:00:59Z'), everyMinute).mostRecent, undefined, 'nothing due before the first tick');
  assert.deepEqual(mostRecentScheduleTime({ creationTimestamp: created }, at('2026-01-01T00:01:00Z'), everyMinute), { earliest: created, mostRecent: at('2026-01-01T00:01:00Z'), missed: 0 });
  // Suspended (or down) for five ticks, then resumed without a deadline: only the latest runs, at once.
  const resumed = mostRecentScheduleTime({ creationTimestamp: created, lastScheduleTime: at('2026-01-01T00:01:00Z') }, at('2026-01-01T00:06:20Z'), everyMinute);
  assert.deepEqual([resumed.mostRecent, resumed.missed], [at('2026-01-01T00:06:00Z'), 4]);
  // Already run: lastScheduleTime is the latest tick, nothing newer is due.
  assert.equal(mostRecentScheduleTime({ creationTimestamp: created, lastScheduleTime: at('2026-01-01T00:06:00Z') }, at('2026-01-01T00:06:59Z'), everyMinute).mostRecent, undefined);
});

test('startingDeadlineSeconds: nothing older than the deadline is due; a late tick is too late', () => {
  const everyMinute = parseSchedule('* * * * *');
  const window = mostRecentScheduleTime({ creationTimestamp: at('2026-01-01T00:00:00Z'), lastScheduleTime: at('2026-01-01T00:01:00Z'), startingDeadlineSeconds: 30 }, at('2026-01-01T00:06:40Z'), everyMinute);
  assert.deepEqual(window.earliest, at('2026-01-01T00:06:10Z'));
  assert.equal(window.mostRecent, undefined, 'the 00:06 tick is 40 s old, past a 30 s deadline');
  assert.equal(tooLate(at('2026-01-01T00:06:00Z'), at('2026-01-01T00:06:40Z'), 30), true);
  assert.equal(tooLate(at('2026-01-01T00:06:00Z'), at('2026-01-01T00:06:20Z'), 30), false);
  assert.equal(tooLate(at('2026-01-01T00:06:00Z'), at('2026-01-01T09:00:00Z'), undefined), false);
});

test('a Job is named by its scheduled minute and carries the owner and the scheduled-timestamp annotation', () => {
  const scheduled = at('2026-01-01T00:06:00Z');
  assert.equal(jobNameFor('billing', scheduled), `billing-${Date.parse('2026-01-01T00:06:00Z') / 60_000}`);
  const cronJob = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'billing', namespace: 'shop', uid: 'u-1' }, spec: { jobTemplate: { metadata: { labels: { app: 'billing' } }, spec: { template: { spec: { containers: [] } } } } } } as unknown as KubeObject;
  const job = jobFromTemplate(cronJob, jobNameFor('billing', scheduled), scheduled);
  assert.equal(job.metadata.annotations![SCHEDULED_TIMESTAMP_ANNOTATION], '2026-01-01T00:06:00Z');
  assert.deepEqual(job.metadata.labels, { app: 'billing' });
  assert.deepEqual(job.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'billing', uid: 'u-1', controller: true, blockOwnerDeletion: true }]);
});
