import type { KubeObject } from '../kube/object.js';

type Obj = Record<string, any>;

/** Whether an object is ready, and if not, what it says about itself. */
export interface Readiness {
  ready: boolean;
  /** Set when waiting longer cannot help (a Job failed, a rollout passed its deadline). */
  failed?: string;
  /** Counts and conditions, one short phrase each (`available 0/2`, `Available=False (…)`). */
  conditions: string[];
}

const isTrue = (conditions: Obj[] | undefined, type: string) => (conditions ?? []).some((c) => c.type === type && c.status === 'True');

/** `Type=Status (Reason: message)` for each condition, as `kubectl describe` lists them. */
export function describeConditions(conditions: Obj[] | undefined): string[] {
  return (conditions ?? []).map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ''})` : ''}`);
}

/**
 * Per kind, what "ready" means; the rules of `kubectl rollout status` and `kubectl wait`.
 * Pure: takes the live object. Kinds without a notion of readiness give undefined.
 */
export function readinessOf(object: KubeObject): Readiness | undefined {
  const status = (object.status ?? {}) as Obj;
  const spec = (object.spec ?? {}) as Obj;
  const conditions = describeConditions(status.conditions);
  // A controller that has not seen the latest spec reports on the previous one.
  const generationSeen = (status.observedGeneration ?? 0) >= (object.metadata.generation ?? 0);
  const seen = generationSeen ? [] : [`observedGeneration ${status.observedGeneration ?? 0} < generation ${object.metadata.generation}`];
  switch (object.kind) {
    case 'Deployment': {
      const replicas = spec.replicas ?? 1;
      const ready = generationSeen
        && (status.updatedReplicas ?? 0) >= replicas
        && (status.replicas ?? 0) <= (status.updatedReplicas ?? 0) // no old pods still terminating
        && (status.availableReplicas ?? 0) >= replicas
        && (replicas === 0 || isTrue(status.conditions, 'Available'));
      const deadline = (status.conditions ?? []).find((c: Obj) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
      return {
        ready,
        ...(deadline ? { failed: `rollout exceeded its progress deadline${deadline.message ? `: ${deadline.message}` : ''}` } : {}),
        conditions: [...seen, `updated ${status.updatedReplicas ?? 0}/${replicas}, available ${status.availableReplicas ?? 0}/${replicas}`, ...conditions],
      };
    }
    case 'StatefulSet': {
      const replicas = spec.replicas ?? 1;
      const ready = generationSeen && (status.readyReplicas ?? 0) >= replicas && (status.updatedReplicas ?? replicas) >= replicas;
      return { ready, conditions: [...seen, `ready ${status.readyReplicas ?? 0}/${replicas}`, ...conditions] };
    }
    case 'DaemonSet': {
      const desired = status.desiredNumberScheduled ?? 0;
      const ready = generationSeen && (status.numberReady ?? 0) >= desired && (status.updatedNumberScheduled ?? desired) >= desired;
      return { ready, conditions: [...seen, `ready ${status.numberReady ?? 0}/${desired}`, ...conditions] };
    }
    case 'PersistentVolumeClaim':
      return { ready: status.phase === 'Bound', conditions: [`phase ${status.phase ?? 'Pending'}`, ...conditions] };
    case 'Job': {
      const failed = (status.conditions ?? []).find((c: Obj) => c.type === 'Failed' && c.status === 'True');
      return {
        ready: isTrue(status.conditions, 'Complete'),
        ...(failed ? { failed: `job failed${failed.reason ? `: ${failed.reason}` : ''}${failed.message ? ` ${failed.message}` : ''}` } : {}),
        conditions: [`succeeded ${status.succeeded ?? 0}, failed ${status.failed ?? 0}`, ...conditions],
      };
    }
    case 'CustomResourceDefinition':
      return { ready: isTrue(status.conditions, 'Established'), conditions };
    default:
      return undefined;
  }
}

/** The label selector of a workload's pods, as a `labelSelector` query value (matchLabels only). */
export function podSelectorOf(object: KubeObject): string | undefined {
  const spec = (object.spec ?? {}) as Obj;
  const labels: Record<string, string> | undefined = object.kind === 'Job'
    ? { 'job-name': object.metadata.name }
    : ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(object.kind) ? spec.selector?.matchLabels : undefined;
  if (!labels || Object.keys(labels).length === 0) return undefined;
  return Object.entries(labels).map(([key, value]) => `${key}=${value}`).join(',');
}

/**
 * What a pod that is not ready says about itself: phase, its Ready condition, and each
 * container that is waiting, terminated or running unready (with restarts). Undefined
 * when the pod is ready.
 */
export function podProblem(pod: KubeObject): string | undefined {
  const status = (pod.status ?? {}) as Obj;
  if (isTrue(status.conditions, 'Ready') || status.phase === 'Succeeded') return undefined;
  const readyCondition = (status.conditions ?? []).find((c: Obj) => c.type === 'Ready');
  const parts = [`phase ${status.phase ?? 'Pending'}`];
  if (readyCondition) parts.push(describeConditions([readyCondition])[0]!);
  for (const container of [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])] as Obj[]) {
    if (container.ready) continue;
    const state = container.state ?? {};
    const what = state.waiting ? `waiting ${state.waiting.reason ?? ''}${state.waiting.message ? `: ${state.waiting.message}` : ''}`
      : state.terminated ? `terminated ${state.terminated.reason ?? ''} (exit ${state.terminated.exitCode ?? '?'})`
      : 'running, not ready';
    parts.push(`container ${container.name} ${what.trim()}${container.restartCount ? `, ${container.restartCount} restarts` : ''}`);
  }
  return `pod ${pod.metadata.name}: ${parts.join(', ')}`;
}
