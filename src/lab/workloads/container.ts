import { spawn, type ChildProcess } from 'node:child_process';
import type { ContainerLogs, ContainerRunStatus, LogLine } from '../runtime.js';
import type { ContainerProgram } from './images.js';
import { ProbeLoop, type ProbeSpec, type ProbeTarget } from './probes.js';
import { signalGroup } from './process-group.js';
import type { Watchdog } from './watchdog.js';

/** Lines kept per container instance (the kubelet keeps 10 MiB files; this is enough to rehearse with). */
const LOG_LINES = 2000;
/** After an exit, how long late output of the process may still arrive before its log is closed. */
const LOG_DRAIN_MS = 1000;

/**
 * The output of one instance (one process run) of a container: whole lines with the time
 * they arrived, and the followers of `kubectl logs -f`, whose stream ends with the instance.
 */
class InstanceLog {
  readonly lines: LogLine[] = [];
  ended = false;
  /** Unfinished last line per stream: a chunk may end mid-line. */
  private readonly partial = { stdout: '', stderr: '' };
  private readonly followers = new Set<{ line: (line: LogLine) => void; ended: () => void }>();

  write(stream: 'stdout' | 'stderr', chunk: string): void {
    const text = this.partial[stream] + chunk;
    const cut = text.lastIndexOf('\n');
    this.partial[stream] = text.slice(cut + 1);
    if (cut >= 0) this.append(text.slice(0, cut));
  }

  append(text: string): void {
    const time = new Date().toISOString();
    for (const part of text.split('\n')) {
      const line = { time, text: part };
      this.lines.push(line);
      for (const follower of this.followers) follower.line(line);
    }
    if (this.lines.length > LOG_LINES) this.lines.splice(0, this.lines.length - LOG_LINES);
  }

  end(): void {
    if (this.ended) return;
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) this.append(this.partial[stream]);
      this.partial[stream] = '';
    }
    this.ended = true;
    for (const follower of this.followers) follower.ended();
    this.followers.clear();
  }

  follow(line: (line: LogLine) => void, ended: () => void): () => void {
    if (this.ended) {
      ended();
      return () => undefined;
    }
    const follower = { line, ended };
    this.followers.add(follower);
    return () => this.followers.delete(follower);
  }
}

export interface ContainerSpec {
  name: string;
  image?: string;
  workingDir?: string;
  readinessProbe?: ProbeSpec;
  livenessProbe?: ProbeSpec;
  startupProbe?: ProbeSpec;
  [key: string]: unknown;
}

export interface ContainerContext {
  program: ContainerProgram;
  env: Record<string, string>;
  hostPorts: number[];
  probeTarget: ProbeTarget;
  timeScale: number;
  watchdog: Watchdog;
  /** Something observable changed (state, readiness). */
  changed(): void;
  /** The process exited (not called for exits we caused while stopping). */
  exited(code: number, signal: NodeJS.Signals | null): void;
  /** The kubelet records an Event about this container (fieldPath `spec.containers{name}`). */
  event?(type: 'Normal' | 'Warning', reason: string, message: string, fieldPath: string): void;
}

/**
 * One container: at most one live process at a time, its probes, its logs. Restart
 * decisions belong to the pod (they depend on restartPolicy and the pod's phase).
 */
export class ContainerProcess implements ContainerLogs {
  readonly status: ContainerRunStatus;
  private child: ChildProcess | undefined;
  private probes: ProbeLoop[] = [];
  private readinessPassed = false;
  private log: InstanceLog | undefined;
  /** The instance before a restart, for `kubectl logs --previous`. */
  private previousLog: InstanceLog | undefined;
  private exitWaiters: Array<() => void> = [];
  private stopping = false;

  constructor(
    readonly spec: ContainerSpec,
    readonly init: boolean,
    private readonly context: ContainerContext,
  ) {
    this.status = {
      name: spec.name,
      image: spec.image ?? '',
      init,
      kind: context.program.kind,
      ready: false,
      started: false,
      restartCount: 0,
      state: 'waiting',
      reason: 'ContainerCreating',
      hostPorts: context.hostPorts,
    };
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  logs(): string {
    return (this.log?.lines ?? []).map((line) => line.text).join('\n');
  }

  lines(previous = false): LogLine[] | undefined {
    return (previous ? this.previousLog : this.log)?.lines.slice();
  }

  follow(line: (line: LogLine) => void, ended: () => void): () => void {
    if (!this.log) {
      ended();
      return () => undefined;
    }
    return this.log.follow(line, ended);
  }

  /** Spawns the process in its own process group and starts its probes. */
  start(): void {
    this.stopping = false;
    // A restart starts a new instance: the one before becomes what `--previous` reads.
    if (this.log) {
      this.log.end();
      this.previousLog = this.log;
    }
    const log = new InstanceLog();
    this.log = log;
    const { program } = this.context;
    const [file, ...args] = program.argv;
    if (program.kind === 'skipped' || !file) {
      log.append(`ferry lab: image ${this.status.image} is not run in the lab; init container recorded as completed`);
      log.end();
      const now = new Date().toISOString();
      Object.assign(this.status, { state: 'terminated', reason: 'Completed', exitCode: 0, startedAt: now, finishedAt: now });
      this.context.changed();
      this.context.exited(0, null);
      return;
    }
    const child = spawn(file, args, {
      detached: true,
      env: this.context.env,
      cwd: this.spec.workingDir ?? process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => log.write('stdout', chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => log.write('stderr', chunk));
    // The log ends when the process's pipes close (its last output read), not at its exit.
    child.once('close', () => log.end());
    child.once('error', (error) => {
      log.append(`ferry lab: cannot start ${file}: ${error.message}`);
      this.onExit(127, null);
    });
    child.once('exit', (code, signal) => this.onExit(code ?? 128 + signalNumber(signal), signal));
    if (child.pid !== undefined) this.context.watchdog.watch(child.pid);
    delete this.status.exitCode;
    delete this.status.signal;
    delete this.status.finishedAt;
    delete this.status.message;
    Object.assign(this.status, {
      state: 'running',
      reason: undefined,
      pid: child.pid,
      startedAt: new Date().toISOString(),
      started: this.spec.startupProbe === undefined,
      ready: false,
    });
    delete this.status.reason;
    this.readinessPassed = false;
    this.emitEvent('Normal', 'Created', `Created container ${this.spec.name}`);
    this.emitEvent('Normal', 'Started', `Started container ${this.spec.name}`);
    this.startProbes();
    this.refreshReady();
    this.context.changed();
  }

  /** Marks the container as waiting (back-off before a restart, or not yet created). */
  markWaiting(reason: string, message?: string): void {
    if (this.status.state === 'terminated') {
      this.status.lastTerminated = {
        exitCode: this.status.exitCode ?? 0,
        reason: this.status.reason ?? 'Error',
        finishedAt: this.status.finishedAt ?? new Date().toISOString(),
        ...(this.status.signal ? { signal: this.status.signal } : {}),
        ...(this.status.startedAt ? { startedAt: this.status.startedAt } : {}),
      };
    }
    Object.assign(this.status, { state: 'waiting', reason, ready: false, started: false });
    if (message) this.status.message = message;
    delete this.status.pid;
    this.context.changed();
  }

  /** Sends a signal to the container's whole process group (the kill fault, or stop). */
  signal(signal: NodeJS.Signals): void {
    if (this.child?.pid !== undefined) signalGroup(this.child.pid, signal);
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves when the process has exited. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.stopProbes();
    if (!this.child) return;
    this.emitEvent('Normal', 'Killing', `Stopping container ${this.spec.name}`);
    const exited = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  private onExit(code: number, signal: NodeJS.Signals | null): void {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.pid !== undefined) {
      // Whatever the app forked lives in its group; take it down with the leader.
      signalGroup(child.pid, 'SIGKILL');
      this.context.watchdog.forget(child.pid);
    }
    this.stopProbes();
    const log = this.log;
    if (log) setTimeout(() => log.end(), LOG_DRAIN_MS).unref();
    Object.assign(this.status, {
      state: 'terminated',
      exitCode: code,
      reason: code === 0 ? 'Completed' : 'Error',
      finishedAt: new Date().toISOString(),
      ready: false,
    });
    if (signal) this.status.signal = signal;
    delete this.status.pid;
    for (const resolve of this.exitWaiters.splice(0)) resolve();
    this.context.changed();
    if (!this.stopping) this.context.exited(code, signal);
  }

  private startProbes(): void {
    const { probeTarget, timeScale } = this.context;
    const { readinessProbe, livenessProbe, startupProbe } = this.spec;
    const startMain = () => {
      if (readinessProbe && !this.init) {
        this.probes.push(
          new ProbeLoop(readinessProbe, 'readiness', probeTarget, timeScale, (ok) => {
            this.readinessPassed = ok;
            this.refreshReady();
          }, (output) => this.unhealthy('Readiness', output)),
        );
      }
      if (livenessProbe && !this.init) {
        this.probes.push(new ProbeLoop(livenessProbe, 'liveness', probeTarget, timeScale, () => this.failProbe('liveness'), (output) => this.unhealthy('Liveness', output)));
      }
      for (const probe of this.probes) probe.start();
    };
    if (startupProbe && !this.init) {
      // Other probes wait until the startup probe has passed, as in the kubelet.
      const startup = new ProbeLoop(startupProbe, 'startup', probeTarget, timeScale, (ok) => {
        if (!ok) return this.failProbe('startup');
        this.status.started = true;
        this.refreshReady();
        startMain();
      }, (output) => this.unhealthy('Startup', output));
      this.probes.push(startup);
      startup.start();
    } else {
      startMain();
    }
  }

  private failProbe(kind: string): void {
    this.log?.append(`ferry lab: ${kind} probe failed; killing the container`);
    this.status.message = `${kind} probe failed`;
    this.emitEvent('Normal', 'Killing', `Container ${this.spec.name} failed ${kind} probe, will be restarted`);
    this.stopProbes();
    this.signal('SIGTERM');
    const pid = this.child?.pid;
    setTimeout(() => {
      if (pid !== undefined && this.child?.pid === pid) this.signal('SIGKILL');
    }, 2000 * this.context.timeScale).unref();
  }

  /** The kubelet's Event for each failed probe attempt: Warning Unhealthy "<Kind> probe failed: <output>". */
  private unhealthy(kind: string, output: string): void {
    this.emitEvent('Warning', 'Unhealthy', `${kind} probe failed: ${output}`);
  }

  private emitEvent(type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.context.event?.(type, reason, message, `spec.${this.init ? 'initContainers' : 'containers'}{${this.spec.name}}`);
  }

  private stopProbes(): void {
    for (const probe of this.probes) probe.stop();
    this.probes = [];
  }

  private refreshReady(): void {
    const ready = this.running && this.status.started && (this.spec.readinessProbe === undefined || this.readinessPassed);
    if (ready !== this.status.ready) {
      this.status.ready = ready;
      this.context.changed();
    }
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
  return signal ? (numbers[signal] ?? 0) : 0;
}
