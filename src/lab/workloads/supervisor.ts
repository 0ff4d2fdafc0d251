import type { KubeObject } from '../../kube/object.js';
import { describeObject } from '../../kube/object.js';
import { FerryError } from '../../util/errors.js';
import type { PodRuntime, PodRuntimeOptions, RunningPod } from '../runtime.js';
import { LabPod } from './pod.js';
import { signalGroup } from './process-group.js';
import { Watchdog } from './watchdog.js';

/** Every live runtime of this process, so exit and signal handlers can reach their children. */
const liveRuntimes = new Set<LabPodRuntime>();
let handlersInstalled = false;

export function createPodRuntime(options: PodRuntimeOptions): PodRuntime {
  const runtime = new LabPodRuntime(options);
  liveRuntimes.add(runtime);
  if (options.handleSignals !== false) installProcessHandlers();
  return runtime;
}

class LabPodRuntime implements PodRuntime {
  private readonly pods = new Map<string, LabPod>();
  private watchdog: Watchdog | undefined;

  constructor(private readonly options: PodRuntimeOptions) {}

  canRun(pod: KubeObject): boolean {
    const containers = ((pod.spec ?? {}) as Record<string, unknown>).containers;
    return Array.isArray(containers) && containers.length > 0;
  }

  async start(pod: KubeObject): Promise<RunningPod> {
    if (!this.canRun(pod)) {
      throw new FerryError('lab.pod.no-containers', 'the pod has no containers to run', {
        location: { object: describeObject(pod), field: 'spec.containers' },
        fix: 'declare at least one container',
      });
    }
    const key = `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;
    const existing = this.pods.get(key);
    if (existing && existing.uid === pod.metadata.uid) return existing;
    if (existing) await existing.stop();
    liveRuntimes.add(this);
    this.watchdog ??= new Watchdog();
    const running = new LabPod(pod, this.options, this.watchdog);
    this.pods.set(key, running);
    void running.done.then(() => {
      // A finished or stopped pod leaves the registry unless it was replaced meanwhile.
      if (this.pods.get(key) === running) this.pods.delete(key);
    });
    await running.start();
    return running;
  }

  get(namespace: string, name: string): RunningPod | undefined {
    return this.pods.get(`${namespace}/${name}`);
  }

  list(): RunningPod[] {
    return [...this.pods.values()];
  }

  async stopAll(): Promise<void> {
    const pods = [...this.pods.values()];
    this.pods.clear();
    await Promise.all(pods.map((pod) => pod.stop()));
    this.watchdog?.dismiss();
    this.watchdog = undefined;
    liveRuntimes.delete(this);
  }

  /** Synchronous last resort for exit and signal handlers: SIGKILL every container's group. */
  killAllNow(): void {
    for (const pod of this.pods.values()) {
      for (const container of pod.status().containers.concat(pod.status().initContainers)) {
        if (container.pid !== undefined) signalGroup(container.pid, 'SIGKILL');
      }
    }
  }
}

/**
 * On exit (normal or via process.exit) and on SIGINT/SIGTERM/SIGHUP the children are killed
 * synchronously — nothing asynchronous runs after 'exit'. A signal is then re-raised when
 * nobody else listens for it, so the process still ends as it would have without us. The
 * watchdog covers the deaths no handler sees (SIGKILL).
 */
function installProcessHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const killAll = () => {
    for (const runtime of liveRuntimes) runtime.killAllNow();
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = () => {
      killAll();
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, handler);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, handler);
  }
}
