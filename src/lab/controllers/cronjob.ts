/**
 * CronJob → Jobs, as kube-controller-manager's cronjob controller (v2) does it
 * (https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/, pkg/controller/cronjob):
 *  - the most recent schedule time after `status.lastScheduleTime` (else the CronJob's
 *    creation), not earlier than `startingDeadlineSeconds` ago, gets one Job named
 *    `<cronjob>-<scheduled minutes since the epoch>`, owned by the CronJob and annotated with
 *    `batch.kubernetes.io/cronjob-scheduled-timestamp`; earlier missed times are not run;
 *  - `suspend: true` schedules nothing; a schedule missed while suspended is run when the
 *    CronJob is resumed if it is the most recent one and within `startingDeadlineSeconds`
 *    (upstream: "the missed jobs are scheduled immediately" without a deadline);
 *  - `concurrencyPolicy` Allow, Forbid (skip while a Job is active) or Replace (delete the
 *    active Jobs first); `status.active` and `lastSuccessfulTime` follow the Jobs;
 *  - finished Jobs beyond `successfulJobsHistoryLimit` (3) / `failedJobsHistoryLimit` (1),
 *    oldest first, are deleted.
 * Times are the lab's real clock: a test of an every-minute CronJob takes real minutes.
 * Schedules are parsed by cron-parser (a well-kept, widely used parser); only the standard
 * five fields and the @-descriptors Kubernetes accepts are allowed (cron-parser also takes a
 * seconds field, which Kubernetes does not).
 */
import { CronExpressionParser } from 'cron-parser';
import type { KubeObject } from '../../kube/object.js';
import type { StoreEvent } from '../api/store.js';
import { recordEvent } from '../events.js';
import { ControllerClient, controllerOf, ownerReference, type Condition } from './client.js';
import { splitKey, type Controller } from './manager.js';

type Obj = Record<string, any>;

export const SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
/** Upstream requeues a little after the next schedule time, so the tick has certainly passed. */
const NEXT_SCHEDULE_DELTA_MS = 100;
const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *', '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *',
};

export interface Schedule {
  /** The first schedule time strictly after `after`. */
  next(after: Date): Date;
}

/** A standard five-field cron schedule (or an @-descriptor), in `timeZone` (default UTC, the controller's local time). */
export function parseSchedule(schedule: string, timeZone?: string): Schedule {
  let text = schedule.trim();
  let tz = timeZone ?? 'UTC';
  // Kubernetes still parses a TZ=/CRON_TZ= prefix (deprecated in favour of spec.timeZone).
  const prefix = /^(?:CRON_)?TZ=(\S+)\s+(.*)$/.exec(text);
  if (prefix) {
    tz = prefix[1]!;
    text = prefix[2]!;
  }
  const expression = DESCRIPTORS[text] ?? text;
  if (expression.startsWith('@')) throw new Error(`unsupported schedule descriptor ${JSON.stringify(text)}`);
  if (expression.split(/\s+/).length !== 5) throw new Error(`expected exactly 5 fields, found ${expression.split(/\s+/).length}: ${JSON.stringify(text)}`);
  // Validates the fields once; each next() parses again from its own start time (the parser is an iterator).
  CronExpressionParser.parse(expression, { tz, currentDate: new Date(0) });
  return {
    next(after) {
      return CronExpressionParser.parse(expression, { tz, currentDate: after }).next().toDate();
    },
  };
}

export interface ScheduleWindow {
  /** Where scheduling looks from: lastScheduleTime, else creation, moved up to now - startingDeadlineSeconds. */
  earliest: Date;
  /** The most recent schedule time in (earliest, now], if any. */
  mostRecent?: Date;
  /** Schedule times in the window other than the most recent (never run: only the latest is). */
  missed: number;
}

/** Upstream's mostRecentScheduleTime: which schedule time (if any) is due now. */
export function mostRecentScheduleTime(cronJob: { creationTimestamp: Date; lastScheduleTime?: Date; startingDeadlineSeconds?: number }, now: Date, schedule: Schedule): ScheduleWindow {
  let earliest = cronJob.lastScheduleTime ?? cronJob.creationTimestamp;
  if (cronJob.startingDeadlineSeconds !== undefined) {
    const deadline = new Date(now.getTime() - cronJob.startingDeadlineSeconds * 1000);
    if (deadline > earliest) earliest = deadline;
  }
  let mostRecent: Date | undefined;
  let missed = 0;
  // Bounded: upstream also stops counting after 100 and warns about too many missed starts.
  for (let t = schedule.next(earliest); t <= now && missed < 100_000; t = schedule.next(t)) {
    if (mostRecent) missed++;
    mostRecent = t;
  }
  return { earliest, ...(mostRecent ? { mostRecent } : {}), missed };
}

/** `<cronjob>-<scheduled time in minutes since the epoch>`: the same name on every controller, so a tick is created once. */
export function jobNameFor(cronJob: string, scheduled: Date): string {
  return `${cronJob}-${Math.floor(scheduled.getTime() / 60_000)}`;
}

/** Whether a schedule time is too late to start (`startingDeadlineSeconds` passed). */
export function tooLate(scheduled: Date, now: Date, startingDeadlineSeconds: number | undefined): boolean {
  return startingDeadlineSeconds !== undefined && scheduled.getTime() + startingDeadlineSeconds * 1000 < now.getTime();
}

function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function finishedCondition(job: KubeObject): 'Complete' | 'Failed' | undefined {
  const conditions = ((job.status as Obj | undefined)?.conditions ?? []) as Condition[];
  const done = conditions.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  return done?.type as 'Complete' | 'Failed' | undefined;
}

function jobRef(job: KubeObject): Obj {
  return { apiVersion: job.apiVersion, kind: 'Job', namespace: job.metadata.namespace, name: job.metadata.name, uid: job.metadata.uid, resourceVersion: job.metadata.resourceVersion };
}

export function cronJobController(client: ControllerClient): Controller {
  const now = () => new Date(Date.parse(client.now()));
  return {
    name: 'cronjob',
    keysFor(event: StoreEvent) {
      const { object } = event;
      if (event.resource === 'batch/cronjobs') return [`${object.metadata.namespace}/${object.metadata.name}`];
      if (event.resource === 'batch/jobs') {
        const owner = controllerOf(object);
        return owner?.kind === 'CronJob' ? [`${object.metadata.namespace}/${owner.name}`] : [];
      }
      return [];
    },
    initialKeys: () => client.list('batch/v1', 'CronJob').map((cj) => `${cj.metadata.namespace}/${cj.metadata.name}`),
    reconcile(key) {
      const { namespace, name } = splitKey(key);
      const cronJob = client.get('batch/v1', 'CronJob', namespace, name);
      if (!cronJob) return;
      const spec = (cronJob.spec ?? {}) as Obj;
      const status = { ...((cronJob.status as Obj | undefined) ?? {}) };
      const at = now();
      const jobs = client.list('batch/v1', 'Job', namespace).filter((job) => controllerOf(job)?.uid === cronJob.metadata.uid);

      // The active list follows the Jobs: finished ones leave it, unlisted running ones join it.
      const active: Obj[] = [];
      for (const job of jobs) {
        const finished = finishedCondition(job);
        if (!finished && !job.metadata.deletionTimestamp) active.push(jobRef(job));
        if (finished === 'Complete') {
          const completed = (job.status as Obj | undefined)?.completionTime as string | undefined;
          if (completed && (!status.lastSuccessfulTime || Date.parse(completed) > Date.parse(status.lastSuccessfulTime))) status.lastSuccessfulTime = completed;
        }
      }
      status.active = active;
      cleanUpHistory(client, cronJob, jobs, spec);

      const write = () => {
        if (status.active.length === 0) delete status.active;
        client.setStatus(cronJob, status);
      };
      if (cronJob.metadata.deletionTimestamp || spec.suspend === true) {
        write();
        return;
      }
      let schedule: Schedule;
      try {
        schedule = parseSchedule(String(spec.schedule ?? ''), spec.timeZone);
      } catch (error) {
        recordEvent(client, cronJob, 'Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(spec.schedule)} : ${(error as Error).message}`);
        write();
        return;
      }
      const requeue = () => ({ requeueAfterMs: Math.max(0, schedule.next(at).getTime() - at.getTime()) + NEXT_SCHEDULE_DELTA_MS });
      const deadline = typeof spec.startingDeadlineSeconds === 'number' ? spec.startingDeadlineSeconds : undefined;
      const window = mostRecentScheduleTime({
        creationTimestamp: new Date(Date.parse(cronJob.metadata.creationTimestamp!)),
        ...(status.lastScheduleTime ? { lastScheduleTime: new Date(Date.parse(status.lastScheduleTime)) } : {}),
        ...(deadline !== undefined ? { startingDeadlineSeconds: deadline } : {}),
      }, at, schedule);
      const scheduled = window.mostRecent;
      if (!scheduled) {
        write();
        return requeue();
      }
      if (window.missed > 100) recordEvent(client, cronJob, 'Warning', 'TooManyMissedTimes', `too many missed start times: ${window.missed + 1}. Set or decrease .spec.startingDeadlineSeconds or check clock skew`);
      if (tooLate(scheduled, at, deadline)) {
        recordEvent(client, cronJob, 'Warning', 'MissSchedule', `Missed scheduled time to start a job: ${rfc3339(scheduled)}`);
        write();
        return requeue();
      }
      const jobName = jobNameFor(name, scheduled);
      const alreadyRun = active.some((ref) => ref.name === jobName) || (status.lastScheduleTime && Date.parse(status.lastScheduleTime) === scheduled.getTime());
      if (alreadyRun) {
        write();
        return requeue();
      }
      const policy = spec.concurrencyPolicy ?? 'Allow';
      if (policy === 'Forbid' && active.length > 0) {
        // Upstream does not record the time as scheduled: if the active Job ends before the next tick, this one still runs.
        recordEvent(client, cronJob, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
        write();
        return requeue();
      }
      if (policy === 'Replace') {
        for (const ref of active) {
          const job = jobs.find((candidate) => candidate.metadata.name === ref.name);
          if (!job) continue;
          client.delete(job);
          recordEvent(client, cronJob, 'Normal', 'SuccessfulDelete', `Deleted job ${ref.name}`);
        }
        active.length = 0;
      }
      const existing = client.get('batch/v1', 'Job', namespace, jobName);
      if (existing) {
        // Created by another controller instance (or an earlier attempt): not created twice.
        if (controllerOf(existing)?.uid === cronJob.metadata.uid && !finishedCondition(existing)) active.push(jobRef(existing));
      } else {
        const created = client.create(jobFromTemplate(cronJob, jobName, scheduled));
        active.push(jobRef(created));
        recordEvent(client, cronJob, 'Normal', 'SuccessfulCreate', `Created job ${jobName}`);
      }
      status.lastScheduleTime = rfc3339(scheduled);
      write();
      return requeue();
    },
  };
}

/** The Job a schedule time runs: the CronJob's jobTemplate, owned by it, named and annotated by the time. */
export function jobFromTemplate(cronJob: KubeObject, name: string, scheduled: Date): KubeObject {
  const template = structuredClone(((cronJob.spec as Obj).jobTemplate ?? {}) as Obj);
  const annotations = { ...(template.metadata?.annotations ?? {}), [SCHEDULED_TIMESTAMP_ANNOTATION]: rfc3339(scheduled) };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: cronJob.metadata.namespace,
      ...(template.metadata?.labels ? { labels: template.metadata.labels } : {}),
      annotations,
      ownerReferences: [ownerReference(cronJob)],
    },
    spec: template.spec ?? {},
  };
}

function cleanUpHistory(client: ControllerClient, cronJob: KubeObject, jobs: KubeObject[], spec: Obj): void {
  const started = (job: KubeObject) => Date.parse(((job.status as Obj | undefined)?.startTime as string | undefined) ?? job.metadata.creationTimestamp!);
  const limits: Array<['Complete' | 'Failed', number]> = [['Complete', spec.successfulJobsHistoryLimit ?? 3], ['Failed', spec.failedJobsHistoryLimit ?? 1]];
  for (const [outcome, limit] of limits) {
    const finished = jobs.filter((job) => !job.metadata.deletionTimestamp && finishedCondition(job) === outcome).sort((a, b) => started(a) - started(b));
    for (const job of finished.slice(0, Math.max(0, finished.length - limit))) {
      client.delete(job);
      recordEvent(client, cronJob, 'Normal', 'SuccessfulDelete', `Deleted job ${job.metadata.name}`);
    }
  }
}
