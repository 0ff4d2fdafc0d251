import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import { describeObject } from '../kube/object.js';
import type { Clock } from '../analysis/clock.js';
import { FerryError } from '../util/errors.js';
import { podProblem, podSelectorOf, readinessOf, type Readiness } from './readiness.js';
import type { ResourcePaths } from './resources.js';

type Obj = Record<string, any>;

export interface WaitOptions {
  timeoutMs: number;
  clock: Clock;
  /** Called after each look with the objects still waiting. */
  onWaiting?: (waiting: string[], ready: number, total: number) => void;
}

/** Polling starts fast (most objects are ready within a second) and backs off to 2 s. */
const FIRST_POLL_MS = 200;
const MAX_POLL_MS = 2_000;

/**
 * Waits until every object with a notion of readiness is ready, polling with back-off
 * (a GET per waiting object per look: cheaper than a watch per kind for the tens of
 * objects of a slice, and it needs no resume logic). Gives up early when waiting cannot
 * help (a failed Job, a Deployment past its progress deadline). The error names each
 * object not ready with its last conditions, its pods' problems and recent Events.
 */
export async function waitForReady(client: KubeClient, paths: ResourcePaths, objects: readonly KubeObject[], options: WaitOptions): Promise<void> {
  const watched = objects.filter((object) => readinessOf(object) !== undefined);
  let pending = watched;
  const deadline = options.clock.now() + options.timeoutMs;
  let delay = FIRST_POLL_MS;
  for (;;) {
    const states = await Promise.all(pending.map(async (object) => {
      const live = await client.request<KubeObject>({ path: paths.pathOf(object) });
      return { object, live, readiness: readinessOf({ ...live, kind: object.kind })! };
    }));
    const failed = states.filter((state) => state.readiness.failed);
    if (failed.length > 0) throw await notReadyError(client, failed, `cannot become ready: ${failed.map((s) => s.readiness.failed).join('; ')} —`);
    const waiting = states.filter((state) => !state.readiness.ready);
    pending = waiting.map((state) => state.object);
    if (pending.length === 0) return;
    options.onWaiting?.(pending.map(describeObject), watched.length - pending.length, watched.length);
    if (options.clock.now() >= deadline) throw await notReadyError(client, waiting, `not ready after ${formatSeconds(options.timeoutMs)}:`);
    await options.clock.sleep(Math.min(delay, Math.max(0, deadline - options.clock.now())));
    delay = Math.min(MAX_POLL_MS, delay * 2);
  }
}

interface State {
  object: KubeObject;
  live: KubeObject;
  readiness: Readiness;
}

async function notReadyError(client: KubeClient, states: readonly State[], lead: string): Promise<FerryError> {
  const details = await Promise.all(states.map(async ({ object, live, readiness }) => {
    const pods = await unreadyPods(client, live);
    const events = await recentEvents(client, live.metadata.namespace, [object.metadata.name, ...pods.map((pod) => pod.metadata.name)]);
    const problems = pods.map(podProblem).filter((p): p is string => p !== undefined).slice(0, 3);
    return `${describeObject(object)}: ${[...readiness.conditions, ...problems].join(', ') || 'no conditions yet'}; events: ${events.join(' | ') || 'none'}`;
  }));
  const first = describeObject(states[0]!.object);
  return new FerryError('not-ready', `${states.length === 1 ? first : `${states.length} objects`} ${lead} ${details.join(' ;; ')}`, {
    fix: 'look at the pods on the target (kubectl describe, kubectl logs); if they are only slow, raise spec.defaults.readyTimeout; then apply again (it resumes safely)',
  });
}

/** The workload's pods that are not ready (at most 10 are read in detail). */
async function unreadyPods(client: KubeClient, live: KubeObject): Promise<KubeObject[]> {
  const selector = podSelectorOf(live);
  if (!selector || !live.metadata.namespace) return [];
  try {
    const list = await client.request<{ items: KubeObject[] }>({ path: `/api/v1/namespaces/${encodeURIComponent(live.metadata.namespace)}/pods`, query: { labelSelector: selector, limit: 50 } });
    return list.items.filter((pod) => podProblem(pod) !== undefined).slice(0, 10);
  } catch {
    return [];
  }
}

/** The last Events about the named objects, oldest first, Warnings preferred, at most 5. */
async function recentEvents(client: KubeClient, namespace: string | undefined, names: readonly string[]): Promise<string[]> {
  if (!namespace) return [];
  const lists = await Promise.all(names.slice(0, 4).map(async (name) => {
    try {
      const list = await client.request<{ items: Obj[] }>({ path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, query: { fieldSelector: `involvedObject.name=${name}` } });
      return list.items;
    } catch {
      return [];
    }
  }));
  const at = (event: Obj) => String(event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata?.creationTimestamp ?? '');
  const events = lists.flat().sort((a, b) => (at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : 0));
  const warnings = events.filter((event) => event.type === 'Warning');
  return (warnings.length > 0 ? warnings : events).slice(-5).map((event) =>
    `${event.type ?? 'Normal'} ${event.reason ?? ''} ${event.involvedObject?.kind ?? ''}/${event.involvedObject?.name ?? ''}: ${String(event.message ?? '').replace(/\s+/g, ' ').trim()}${(event.count ?? 1) > 1 ? ` (×${event.count})` : ''}`);
}

function formatSeconds(ms: number): string {
  return ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 100) / 10} s`;
}
