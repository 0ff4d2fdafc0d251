import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import { describeObject } from '../kube/object.js';
import type { Clock } from '../analysis/clock.js';
import { FerryError } from '../util/errors.js';
import type { ResourcePaths } from './resources.js';

type Obj = Record<string, any>;

/** Whether an object is ready, and if not, what it says about itself. */
export interface Readiness {
  ready: boolean;
  /** Set when waiting longer cannot help (a Job failed). */
  failed?: string;
  conditions: string[];
}

const TRUE = (conditions: Obj[] | undefined, type: string) => (conditions ?? []).some((c) => c.type === type && c.status === 'True');

/** Per kind, what "ready" means (kubectl rollout status and wait use the same rules). */
export function readinessOf(object: KubeObject): Readiness | undefined {
  const status = (object.status ?? {}) as Obj;
  const spec = (object.spec ?? {}) as Obj;
  const conditions = ((status.conditions ?? []) as Obj[]).map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ''})` : ''}`);
  const generationSeen = (status.observedGeneration ?? 0) >= (object.metadata.generation ?? 0);
  switch (object.kind) {
    case 'Deployment': {
      const replicas = spec.replicas ?? 1;
      const ready = generationSeen && (status.updatedReplicas ?? 0) >= replicas && (status.availableReplicas ?? 0) >= replicas && (replicas === 0 || TRUE(status.conditions, 'Available'));
      const progress = (status.conditions ?? []).find((c: Obj) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
      return { ready, ...(progress ? { failed: `rollout exceeded its progress deadline: ${progress.message ?? ''}` } : {}), conditions: [`available ${status.availableReplicas ?? 0}/${replicas}`, ...conditions] };
    }
    case 'StatefulSet': {
      const replicas = spec.replicas ?? 1;
      return { ready: generationSeen && (status.readyReplicas ?? 0) >= replicas && (status.updatedReplicas ?? replicas) >= replicas, conditions: [`ready ${status.readyReplicas ?? 0}/${replicas}`, ...conditions] };
    }
    case 'DaemonSet':
      return { ready: generationSeen && (status.numberReady ?? 0) >= (status.desiredNumberScheduled ?? 0), conditions: [`ready ${status.numberReady ?? 0}/${status.desiredNumberScheduled ?? 0}`, ...conditions] };
    case 'PersistentVolumeClaim':
      return { ready: status.phase === 'Bound', conditions: [`phase ${status.phase ?? 'unknown'}`, ...conditions] };
    case 'Job': {
      const failedCondition = (status.conditions ?? []).find((c: Obj) => c.type === 'Failed' && c.status === 'True');
      return { ready: TRUE(status.conditions, 'Complete'), ...(failedCondition ? { failed: `job failed: ${failedCondition.reason ?? ''} ${failedCondition.message ?? ''}`.trim() } : {}), conditions };
    }
    case 'CustomResourceDefinition':
      return { ready: TRUE(status.conditions, 'Established'), conditions };
    default:
      return undefined;
  }
}

/**
 * Waits until every object that has a notion of readiness is ready. On timeout the error
 * names each object still waiting with its last conditions and recent Events.
 */
export async function waitForReady(client: KubeClient, paths: ResourcePaths, objects: readonly KubeObject[], options: { timeoutMs: number; clock: Clock; onWaiting?: (waiting: string[]) => void }): Promise<void> {
  let pending = objects.filter((object) => readinessOf(object) !== undefined);
  const deadline = options.clock.now() + options.timeoutMs;
  let last = new Map<string, Readiness>();
  while (pending.length > 0) {
    const states = await Promise.all(pending.map(async (object) => {
      const live = await client.request<KubeObject>({ path: paths.pathOf(object) });
      return { object, live, readiness: readinessOf({ ...live, kind: object.kind })! };
    }));
    for (const { object, readiness } of states) {
      if (readiness.failed) {
        throw new FerryError('not-ready', `${describeObject(object)} cannot become ready: ${readiness.failed}`, { location: { object: describeObject(object) }, fix: 'fix the workload and apply again' });
      }
    }
    last = new Map(states.map(({ object, readiness }) => [describeObject(object), readiness]));
    pending = states.filter((s) => !s.readiness.ready).map((s) => s.object);
    if (pending.length === 0) return;
    options.onWaiting?.(pending.map(describeObject));
    if (options.clock.now() > deadline) {
      const details = await Promise.all(pending.map(async (object) => {
        const events = await recentEvents(client, object);
        return `${describeObject(object)}: ${last.get(describeObject(object))!.conditions.join(', ') || 'no conditions'}; events: ${events.join(' | ') || 'none'}`;
      }));
      throw new FerryError('not-ready', `not ready after ${Math.round(options.timeoutMs / 1000)} s: ${details.join(' ;; ')}`, {
        fix: 'look at the pods of these workloads on the target (kubectl describe); raise spec.defaults.readyTimeout if they are only slow',
      });
    }
    await options.clock.sleep(500);
  }
}

async function recentEvents(client: KubeClient, object: KubeObject): Promise<string[]> {
  if (!object.metadata.namespace) return [];
  try {
    const list = await client.request<{ items: Obj[] }>({
      path: `/api/v1/namespaces/${object.metadata.namespace}/events`,
      query: { fieldSelector: `involvedObject.name=${object.metadata.name}` },
    });
    return list.items.slice(-5).map((event) => `${event.type ?? ''} ${event.reason ?? ''}: ${event.message ?? ''}`.trim());
  } catch {
    return [];
  }
}
