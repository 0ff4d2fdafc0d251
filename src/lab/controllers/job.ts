/**
 * Job → Pods: keep up to `parallelism` pods running until `completions` have succeeded
 * (Complete), or more than `backoffLimit` have failed (Failed).
 * https://kubernetes.io/docs/concepts/workloads/controllers/job/#job-termination-and-cleanup
 */
import type { StoreEvent } from '../api/store.js';
import { randomSuffix } from '../api/objects.js';
import { ControllerClient, controllerOf, podPhase, setCondition, type Condition } from './client.js';
import { podFromTemplate } from './replicaset.js';
import { splitKey, type Controller } from './manager.js';

type Obj = Record<string, any>;

export function jobController(client: ControllerClient): Controller {
  return {
    name: 'job',
    keysFor(event: StoreEvent) {
      const { object } = event;
      if (event.resource === 'batch/jobs') return [`${object.metadata.namespace}/${object.metadata.name}`];
      if (event.resource === '/pods') {
        const owner = controllerOf(object);
        return owner?.kind === 'Job' ? [`${object.metadata.namespace}/${owner.name}`] : [];
      }
      return [];
    },
    initialKeys: () => client.list('batch/v1', 'Job').map((job) => `${job.metadata.namespace}/${job.metadata.name}`),
    reconcile(key) {
      const { namespace, name } = splitKey(key);
      const job = client.get('batch/v1', 'Job', namespace, name);
      if (!job || job.metadata.deletionTimestamp) return;
      const spec = job.spec as Obj;
      const status = { ...((job.status as Obj | undefined) ?? {}) };
      const conditions = (status.conditions ?? []) as Condition[];
      const finished = conditions.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
      const pods = client.list('v1', 'Pod', namespace).filter((pod) => controllerOf(pod)?.uid === job.metadata.uid);
      const succeeded = pods.filter((pod) => podPhase(pod) === 'Succeeded').length;
      const failed = pods.filter((pod) => podPhase(pod) === 'Failed').length;
      const active = pods.filter((pod) => !pod.metadata.deletionTimestamp && podPhase(pod) !== 'Succeeded' && podPhase(pod) !== 'Failed');
      const completions: number = spec.completions ?? 1;
      const now = client.now();
      if (!finished && !spec.suspend) {
        const wanted = Math.min(spec.parallelism ?? 1, completions - succeeded) - active.length;
        if (failed <= (spec.backoffLimit ?? 6)) for (let i = 0; i < wanted; i++) client.create(podFromTemplate(job, `${name}-${randomSuffix()}`, { labels: { 'job-name': name, 'batch.kubernetes.io/job-name': name } }));
      }
      let next = conditions;
      if (!finished && succeeded >= completions) {
        next = setCondition(next, { type: 'SuccessCriteriaMet', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' }, now);
        next = setCondition(next, { type: 'Complete', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' }, now);
        status.completionTime = now;
      } else if (!finished && failed > (spec.backoffLimit ?? 6)) {
        next = setCondition(next, { type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }, now);
        next = setCondition(next, { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }, now);
        for (const pod of active) client.delete(pod);
      }
      const result: Obj = {
        ...status,
        startTime: status.startTime ?? now,
        active: finished ? 0 : active.length,
        succeeded,
        failed,
        ready: active.filter((pod) => ((pod.status as Obj | undefined)?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True')).length,
        terminating: 0,
        uncountedTerminatedPods: {},
        ...(next.length ? { conditions: next } : {}),
      };
      for (const field of ['active', 'succeeded', 'failed']) if (result[field] === 0) delete result[field];
      client.setStatus(job, result);
    },
  };
}
