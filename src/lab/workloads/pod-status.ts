import type { ContainerRunStatus, PodRunStatus } from '../runtime.js';

/**
 * A Kubernetes `Pod.status` built from what the runtime observed, shaped as the kubelet
 * writes it (conditions, containerStatuses with state/lastState), so kubectl's READY,
 * STATUS and RESTARTS columns read right. `now` is injected for stable output in tests.
 */
export function toPodStatus(run: PodRunStatus, now: string = new Date().toISOString()): Record<string, unknown> {
  const initDone = run.initContainers.every((c) => c.state === 'terminated' && c.exitCode === 0);
  const containersReady = run.containers.length > 0 && run.containers.every((c) => c.ready);
  const condition = (type: string, status: boolean, reason?: string) => ({
    type,
    status: status ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: now,
    ...(status || !reason ? {} : { reason }),
  });
  return {
    phase: run.phase,
    conditions: [
      condition('PodReadyToStartContainers', true),
      condition('Initialized', initDone, 'ContainersNotInitialized'),
      condition('Ready', run.ready, 'ContainersNotReady'),
      condition('ContainersReady', containersReady, 'ContainersNotReady'),
      condition('PodScheduled', true),
    ],
    hostIP: run.podIP,
    hostIPs: [{ ip: run.podIP }],
    podIP: run.podIP,
    podIPs: [{ ip: run.podIP }],
    startTime: run.startTime,
    ...(run.message ? { message: run.message } : {}),
    ...(run.initContainers.length > 0 ? { initContainerStatuses: run.initContainers.map(toContainerStatus) } : {}),
    containerStatuses: run.containers.map(toContainerStatus),
    qosClass: 'BestEffort',
  };
}

function toContainerStatus(c: ContainerRunStatus): Record<string, unknown> {
  return {
    name: c.name,
    image: c.image,
    imageID: '',
    containerID: c.pid === undefined ? undefined : `ferry-lab://${c.pid}`,
    ready: c.ready,
    started: c.started,
    restartCount: c.restartCount,
    state: containerState(c),
    lastState: c.lastTerminated
      ? {
          terminated: {
            exitCode: c.lastTerminated.exitCode,
            reason: c.lastTerminated.reason,
            ...(c.lastTerminated.signal ? { signal: signalNumber(c.lastTerminated.signal) } : {}),
            startedAt: c.lastTerminated.startedAt,
            finishedAt: c.lastTerminated.finishedAt,
          },
        }
      : {},
  };
}

function containerState(c: ContainerRunStatus): Record<string, unknown> {
  if (c.state === 'running') return { running: { startedAt: c.startedAt } };
  if (c.state === 'terminated') {
    return {
      terminated: {
        exitCode: c.exitCode ?? 0,
        reason: c.reason ?? (c.exitCode === 0 ? 'Completed' : 'Error'),
        ...(c.message ? { message: c.message } : {}),
        startedAt: c.startedAt,
        finishedAt: c.finishedAt,
      },
    };
  }
  return { waiting: { reason: c.reason ?? 'ContainerCreating', ...(c.message ? { message: c.message } : {}) } };
}

function signalNumber(signal: string): number | undefined {
  const numbers: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGHUP: 1, SIGQUIT: 3 };
  return numbers[signal];
}
