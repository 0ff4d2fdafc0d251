/**
 * The lab's kubelet: binds new pods to the node, runs them through the PodRuntime (real
 * local processes, readiness probes executed for real) and mirrors the runtime's status
 * into Pod.status. Without a runtime, pods are reported Running and Ready at once (Job
 * pods Succeeded), which is honest only about the API, not about the workload.
 */
import type { KubeObject } from '../../kube/object.js';
import type { PodRuntime, RunningPod, PodRunStatus } from '../runtime.js';
import type { StoreEvent } from '../api/store.js';
import { ControllerClient, controllerOf } from './client.js';
import { splitKey, type Controller } from './manager.js';

type Obj = Record<string, any>;

/** A real kubelet notices its containers have exited at its next PLEG relist (every second), then deletes the pod. */
const PLEG_RELIST_MS = 1000;

export interface PodControllerOptions {
  nodeName: string;
  runtime?: PodRuntime;
  toPodStatus?: (run: PodRunStatus, now?: string) => Record<string, unknown>;
}

export function podController(client: ControllerClient, options: PodControllerOptions): Controller {
  const running = new Map<string, { uid: string | undefined; pod: RunningPod; unsubscribe: () => void }>();
  const starting = new Set<string>();
  /** The kubelet's final delete of a Terminating pod once its containers are stopped (finalizers still hold it). */
  const finishTermination = (namespace: string | undefined, name: string, uid: string | undefined, afterMs: number): void => {
    if (afterMs > 0) {
      setTimeout(() => finishTermination(namespace, name, uid, 0), afterMs).unref();
      return;
    }
    const live = client.get('v1', 'Pod', namespace, name);
    if (!live || live.metadata.uid !== uid || !live.metadata.deletionTimestamp || ((live.metadata.finalizers as string[] | undefined) ?? []).length > 0) return;
    client.service.purge(client.service.typeOf('v1', 'Pod'), namespace, name);
  };
  const controller: Controller = {
    name: 'kubelet',
    keysFor(event: StoreEvent) {
      return event.resource === '/pods' ? [`${event.object.metadata.namespace}/${event.object.metadata.name}`] : [];
    },
    initialKeys: () => client.list('v1', 'Pod').map((pod) => `${pod.metadata.namespace}/${pod.metadata.name}`),
    async reconcile(key) {
      const { namespace, name } = splitKey(key);
      const pod = client.get('v1', 'Pod', namespace, name);
      const entry = running.get(key);
      if (!pod || pod.metadata.deletionTimestamp || (entry && entry.uid !== pod.metadata.uid)) {
        if (entry) {
          running.delete(key);
          entry.unsubscribe();
          await entry.pod.stop(pod?.metadata.deletionTimestamp ? Number(pod.metadata.deletionGracePeriodSeconds ?? 0) : 0);
        }
        if (pod?.metadata.deletionTimestamp && !starting.has(key)) finishTermination(namespace, name, pod.metadata.uid, entry ? PLEG_RELIST_MS : 0);
        if (!pod || pod.metadata.deletionTimestamp) return;
      }
      let current = pod;
      if (!(current.spec as Obj).nodeName) {
        const copy = structuredClone(current);
        (copy.spec as Obj).nodeName = options.nodeName;
        current = client.update(copy);
      }
      if (!options.runtime || !options.toPodStatus) {
        client.setStatus(current, simulatedStatus(current, client.now()));
        return;
      }
      if (running.has(key) || starting.has(key)) return;
      const runtime = options.runtime;
      const toPodStatus = options.toPodStatus;
      if (!runtime.canRun(current)) {
        client.setStatus(current, { ...((current.status as Obj) ?? {}), phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: client.now() }] });
        return;
      }
      starting.add(key);
      try {
        const handle = await runtime.start(current);
        const uid = current.metadata.uid;
        const mirror = (status: PodRunStatus) => {
          const live = client.get('v1', 'Pod', namespace, name);
          if (!live || live.metadata.uid !== uid || live.metadata.deletionTimestamp) return;
          client.setStatus(live, { ...toPodStatus(status, client.now()), hostIP: '127.0.0.1', hostIPs: [{ ip: '127.0.0.1' }], podIPs: [{ ip: status.podIP }], qosClass: 'BestEffort' });
        };
        const unsubscribe = handle.onChange(mirror);
        running.set(key, { uid, pod: handle, unsubscribe });
        mirror(handle.status());
        // Deleted while it was starting: stop it now that there is something to stop.
        const live = client.get('v1', 'Pod', namespace, name);
        if (!live || live.metadata.uid !== uid || live.metadata.deletionTimestamp) {
          running.delete(key);
          unsubscribe();
          await handle.stop(0);
          if (live?.metadata.uid === uid) finishTermination(namespace, name, uid, PLEG_RELIST_MS);
        }
      } finally {
        starting.delete(key);
      }
    },
  };
  return controller;
}

/** Running and Ready (or Succeeded for run-to-completion pods), for clusters without a runtime. */
function simulatedStatus(pod: KubeObject, now: string): Record<string, unknown> {
  const existing = pod.status as Obj | undefined;
  if (existing?.phase === 'Running' || existing?.phase === 'Succeeded') return existing;
  const owner = controllerOf(pod);
  const completes = owner?.kind === 'Job' || (pod.spec as Obj).restartPolicy === 'Never';
  const containers = ((pod.spec as Obj).containers ?? []) as Obj[];
  const condition = (type: string, status: boolean) => ({ type, status: status ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: now, ...(completes && type !== 'PodScheduled' && type !== 'Initialized' ? { reason: 'PodCompleted' } : {}) });
  return {
    phase: completes ? 'Succeeded' : 'Running',
    conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => condition(type, completes ? type === 'Initialized' || type === 'PodScheduled' : true)),
    hostIP: '127.0.0.1',
    podIP: '127.0.0.1',
    podIPs: [{ ip: '127.0.0.1' }],
    startTime: now,
    qosClass: 'BestEffort',
    containerStatuses: containers.map((container) => ({
      name: container.name,
      image: container.image,
      imageID: '',
      ready: !completes,
      started: !completes,
      restartCount: 0,
      state: completes ? { terminated: { exitCode: 0, reason: 'Completed', startedAt: now, finishedAt: now } } : { running: { startedAt: now } },
    })),
  };
}

/** The runtime's handle for a pod, for Endpoints (host ports). */
export type RunningPodLookup = (namespace: string, name: string) => RunningPod | undefined;
