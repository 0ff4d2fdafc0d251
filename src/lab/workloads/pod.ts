import type { KubeObject } from '../../kube/object.js';
import type { ContainerLogs, PodPhase, PodRunStatus, PodRuntimeOptions, RunningPod } from '../runtime.js';
import { ContainerProcess, type ContainerSpec } from './container.js';
import { baseEnv, containerEnv } from './env.js';
import { programFor } from './images.js';
import { freePort, releasePort } from './ports.js';
import type { ProbeSpec } from './probes.js';
import type { Watchdog } from './watchdog.js';
import { preparePodVolumes, type PodVolumes } from './volumes.js';

interface PortSpec {
  containerPort: number;
  name?: string;
}

type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

/** Longest grace we wait for on stop: a lab pod that ignores SIGTERM should not stall `lab down`. */
const MAX_GRACE_SECONDS = 10;

/**
 * A pod running as local processes: init containers one after another, then the regular
 * containers together, restarted per restartPolicy with the kubelet's doubling back-off.
 */
export class LabPod implements RunningPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string | undefined;
  readonly host = '127.0.0.1';
  readonly ports = new Map<number, number>();
  readonly done: Promise<PodRunStatus>;
  private readonly portNames = new Map<string, number>();
  private initContainers: ContainerProcess[] = [];
  private containers: ContainerProcess[] = [];
  private readonly listeners = new Set<(status: PodRunStatus) => void>();
  private readonly restartPolicy: RestartPolicy;
  private readonly startTime = new Date().toISOString();
  private readonly backoffStreak = new Map<ContainerProcess, number>();
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private resolveDone!: (status: PodRunStatus) => void;
  private lastEmitted = '';
  private stopped = false;
  private failedMessage: string | undefined;
  private volumes: PodVolumes | undefined;

  constructor(
    private readonly pod: KubeObject,
    private readonly options: PodRuntimeOptions,
    private readonly watchdog: Watchdog,
  ) {
    this.namespace = pod.metadata.namespace ?? 'default';
    this.name = pod.metadata.name;
    this.uid = pod.metadata.uid;
    this.restartPolicy = (this.podSpec.restartPolicy as RestartPolicy | undefined) ?? 'Always';
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  private get podSpec(): Record<string, unknown> {
    return (this.pod.spec ?? {}) as Record<string, unknown>;
  }

  get pid(): number | undefined {
    return this.containers[0]?.pid;
  }

  get ready(): boolean {
    return this.status().ready;
  }

  hostPort(target: number | string): number | undefined {
    if (typeof target === 'number') return this.ports.get(target);
    if (/^\d+$/.test(target)) return this.ports.get(Number(target));
    const containerPort = this.portNames.get(target);
    return containerPort === undefined ? undefined : this.ports.get(containerPort);
  }

  /** Allocates ports, builds each container's environment and starts the first containers. */
  async start(): Promise<void> {
    const initSpecs = (this.podSpec.initContainers ?? []) as ContainerSpec[];
    const specs = (this.podSpec.containers ?? []) as ContainerSpec[];
    this.volumes = await preparePodVolumes(this.pod, this.options.lookup);
    if (this.stopped) await this.volumes?.remove();
    this.initContainers = await Promise.all(initSpecs.map((spec) => this.createContainer(spec, true, false)));
    this.containers = await Promise.all(specs.map((spec, index) => this.createContainer(spec, false, index === 0)));
    this.emit();
    this.startNextInit();
  }

  private async createContainer(declaredSpec: ContainerSpec, init: boolean, first: boolean): Promise<ContainerProcess> {
    // Processes run on the host: paths under a volume's mountPath point into the pod's volume directory (volumes.ts).
    const rewrite = this.volumes?.rewriter(declaredSpec);
    const spec: ContainerSpec = rewrite ? withPaths(declaredSpec, rewrite) : declaredSpec;
    const program = programFor(spec.image ?? '', spec.name, first, this.pod.metadata.annotations ?? {}, init);
    const containerPorts: number[] = [];
    for (const port of (spec.ports ?? []) as PortSpec[]) {
      containerPorts.push(port.containerPort);
      if (port.name) this.portNames.set(port.name, port.containerPort);
    }
    const declared = containerPorts.length;
    // Probes may name a port no container declares; the kubelet still probes it on the pod IP.
    for (const probe of [spec.readinessProbe, spec.livenessProbe, spec.startupProbe]) {
      const port = probePort(probe);
      if (typeof port === 'number' && !containerPorts.includes(port)) containerPorts.push(port);
    }
    const hostPorts: number[] = [];
    for (const containerPort of containerPorts) {
      if (!this.ports.has(containerPort)) this.ports.set(containerPort, await freePort(this.host));
      hostPorts.push(this.ports.get(containerPort) as number);
    }
    // An app needs somewhere to listen even when its container declares no port.
    const primary = hostPorts[0] ?? (program.kind === 'skipped' ? undefined : await freePort(this.host));
    if (primary !== undefined && hostPorts.length === 0) hostPorts.push(primary);
    const labels = this.pod.metadata.labels ?? {};
    const env: Record<string, string> = {
      ...baseEnv(),
      ...this.options.env,
      ...(await containerEnv(this.pod, spec, this.options.lookup, this.options.podEnv?.(this.pod))),
      HOSTNAME: this.name,
      FERRY_APP: labels['app.kubernetes.io/name'] ?? labels.app ?? spec.name,
      FERRY_POD: this.name,
      FERRY_NAMESPACE: this.namespace,
      FERRY_CLUSTER: this.options.cluster,
      FERRY_VERSION: program.version,
      FERRY_IMAGE: spec.image ?? '',
      FERRY_RUN_KIND: program.kind,
      FERRY_PARENT_PID: String(process.pid),
      FERRY_PORTS: containerPorts.map((port) => `${port}=${this.ports.get(port)}`).join(','),
      // A sample app listens where its manifest says; a stand-in also answers the probes
      // the real image would have answered on undeclared ports.
      FERRY_LISTEN: (program.kind === 'stand-in' ? hostPorts : hostPorts.slice(0, Math.max(1, declared))).join(','),
    };
    if (rewrite) for (const [name, value] of Object.entries(env)) env[name] = rewrite(value);
    // The app must bind its mapped host port, whatever PORT the manifest sets.
    if (primary !== undefined) env.PORT = String(primary);
    const container: ContainerProcess = new ContainerProcess(spec, init, {
      program,
      env,
      hostPorts,
      timeScale: this.options.timeScale ?? 1,
      watchdog: this.watchdog,
      probeTarget: {
        host: this.host,
        resolvePort: (port) => this.hostPort(port),
        env,
        standIn: program.kind === 'stand-in',
        primaryPort: primary,
      },
      changed: () => this.emit(),
      exited: (code) => this.onContainerExit(container, code),
      event: (type, reason, message, fieldPath) => this.options.recordEvent?.(this.pod, type, reason, message, fieldPath),
    });
    return container;
  }

  private startNextInit(): void {
    if (this.stopped) return;
    const next = this.initContainers.find((c) => !(c.status.state === 'terminated' && c.status.exitCode === 0));
    if (next) {
      if (!next.running) next.start();
      return;
    }
    for (const container of this.containers) if (!container.running) container.start();
  }

  private onContainerExit(container: ContainerProcess, code: number): void {
    if (this.stopped) return;
    if (container.init) {
      if (code === 0) return this.startNextInit();
      if (this.restartPolicy === 'Never') {
        this.failedMessage = `init container ${container.spec.name} exited with ${code}`;
        return this.emit();
      }
      return this.scheduleRestart(container, () => this.startNextInit());
    }
    const restart = this.restartPolicy === 'Always' || (this.restartPolicy === 'OnFailure' && code !== 0);
    if (restart) this.scheduleRestart(container, () => container.start());
    else this.emit();
  }

  /** The kubelet's CrashLoopBackOff: the delay doubles per quick crash, capped; a long run resets it. */
  private scheduleRestart(container: ContainerProcess, restart: () => void): void {
    const { initialMs, maxMs } = this.options.restartBackoff ?? { initialMs: 1000, maxMs: 60_000 };
    const scale = this.options.timeScale ?? 1;
    const ranMs = Date.now() - Date.parse(container.status.startedAt ?? new Date().toISOString());
    const streak = ranMs > maxMs * scale ? 0 : (this.backoffStreak.get(container) ?? 0);
    this.backoffStreak.set(container, streak + 1);
    const delay = Math.min(maxMs, initialMs * 2 ** streak) * scale;
    container.markWaiting(streak === 0 ? 'ContainerCreating' : 'CrashLoopBackOff', streak === 0 ? undefined : `back-off ${Math.round(delay / 1000)}s restarting failed container`);
    if (streak > 0) this.options.recordEvent?.(this.pod, 'Warning', 'BackOff', `Back-off restarting failed container ${container.spec.name} in pod ${this.name}_${this.namespace}(${this.uid ?? ''})`, `spec.${container.init ? 'initContainers' : 'containers'}{${container.spec.name}}`);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.stopped) return;
      container.status.restartCount++;
      restart();
    }, delay);
    timer.unref();
    this.restartTimers.add(timer);
  }

  status(): PodRunStatus {
    return {
      phase: this.phase(),
      ready: this.containers.length > 0 && this.containers.every((c) => c.status.ready),
      podIP: this.host,
      startTime: this.startTime,
      containers: this.containers.map((c) => ({ ...c.status })),
      initContainers: this.initContainers.map((c) => ({ ...c.status })),
      ...(this.failedMessage ? { message: this.failedMessage } : {}),
    };
  }

  private phase(): PodPhase {
    if (this.failedMessage) return 'Failed';
    const initPending = this.initContainers.some((c) => !(c.status.state === 'terminated' && c.status.exitCode === 0));
    if (initPending || this.containers.some((c) => c.status.state === 'waiting' && c.status.lastTerminated === undefined)) {
      return 'Pending';
    }
    const allTerminated = this.containers.every((c) => c.status.state === 'terminated');
    if (!allTerminated) return 'Running';
    if (this.restartPolicy === 'Always') return 'Running';
    const failed = this.containers.some((c) => c.status.exitCode !== 0);
    if (failed && this.restartPolicy === 'OnFailure') return 'Running';
    return failed ? 'Failed' : 'Succeeded';
  }

  onChange(listener: (status: PodRunStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    const status = this.status();
    const text = JSON.stringify(status);
    if (text === this.lastEmitted) return;
    this.lastEmitted = text;
    for (const listener of this.listeners) {
      try {
        listener(status);
      } catch {
        // A listener's failure must not stop the pod's own bookkeeping.
      }
    }
    if (status.phase === 'Succeeded' || status.phase === 'Failed') this.resolveDone(status);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    for (const container of [...this.initContainers, ...this.containers]) container.signal(signal);
  }

  logs(container?: string): string {
    const all = [...this.initContainers, ...this.containers];
    const chosen = container === undefined ? all.filter((c) => !c.init).slice(0, 1) : all.filter((c) => c.spec.name === container);
    return chosen.map((c) => c.logs()).join('\n');
  }

  containerLogs(container: string): ContainerLogs | undefined {
    return [...this.initContainers, ...this.containers].find((c) => c.spec.name === container);
  }

  async stop(gracePeriodSeconds?: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    const grace = Math.min(MAX_GRACE_SECONDS, gracePeriodSeconds ?? (this.podSpec.terminationGracePeriodSeconds as number | undefined) ?? 30);
    await Promise.all([...this.initContainers, ...this.containers].map((c) => c.stop(grace * 1000)));
    for (const port of this.ports.values()) releasePort(port);
    for (const container of this.containers) for (const port of container.status.hostPorts) releasePort(port);
    await this.volumes?.remove();
    this.emit();
    this.resolveDone(this.status());
  }
}

function withPaths(spec: ContainerSpec, rewrite: (text: string) => string): ContainerSpec {
  const list = (items: unknown) => (Array.isArray(items) ? items.map((item) => (typeof item === 'string' ? rewrite(item) : item)) : items);
  const paths = spec as { command?: unknown; args?: unknown };
  return {
    ...spec,
    ...(paths.command !== undefined ? { command: list(paths.command) } : {}),
    ...(paths.args !== undefined ? { args: list(paths.args) } : {}),
    ...(spec.workingDir !== undefined ? { workingDir: rewrite(spec.workingDir) } : {}),
  } as ContainerSpec;
}

function probePort(probe: ProbeSpec | undefined): number | string | undefined {
  return probe?.httpGet?.port ?? probe?.tcpSocket?.port ?? probe?.grpc?.port;
}
