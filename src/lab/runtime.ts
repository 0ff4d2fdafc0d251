/**
 * PodRuntime: how the lab turns a Pod object into real local processes.
 *
 * The pod controller (src/lab) calls `start(pod)` once a Pod is scheduled, mirrors
 * `RunningPod.status()` into the Pod's `.status` (use `toPodStatus`) whenever `onChange`
 * fires, points Endpoints at `host` + `hostPort(targetPort)`, and calls `stop()` when the
 * Pod is deleted. Every container is a process in its own process group on 127.0.0.1;
 * its declared containerPorts are mapped to free loopback host ports (see `ports`).
 *
 * Which program a container runs (details in docs/architecture.md, "Lab workloads"):
 *  - image `ferry.dev/echo[:tag]` or `ferry.dev/shop[:tag]`: the sample app shipped in
 *    src/lab/workloads/apps/ (the tag is reported as the app's version);
 *  - pod annotation `lab.ferry.dev/command` (first container) or
 *    `lab.ferry.dev/command.<container>`: that shell command, with PORT set;
 *  - any other image: a stand-in (the echo app) listening on every mapped port, so that
 *    probes and traffic reach a real process even though the real image is not run.
 *
 * Implementation: src/lab/workloads/supervisor.ts.
 */
import type { KubeObject } from '../kube/object.js';
import type { PodEventSink } from './events.js';

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** How a container is run: a sample app, a lab command, or the echo stand-in for an image we cannot run. */
export type ContainerRunKind = 'sample' | 'command' | 'stand-in' | 'skipped';

export interface ContainerRunStatus {
  name: string;
  image: string;
  init: boolean;
  kind: ContainerRunKind;
  /** Running and its readiness probe (if any) passes. */
  ready: boolean;
  /** Running and its startup probe (if any) has passed. */
  started: boolean;
  restartCount: number;
  state: 'waiting' | 'running' | 'terminated';
  /** Why it is waiting or terminated: ContainerCreating, CrashLoopBackOff, Completed, Error, OOMKilled… */
  reason?: string;
  message?: string;
  pid?: number;
  exitCode?: number;
  signal?: string;
  startedAt?: string;
  finishedAt?: string;
  /** The previous run's termination, as kubectl shows under "Last State". */
  lastTerminated?: { exitCode: number; signal?: string; reason: string; startedAt?: string; finishedAt: string };
  /** Host ports this container listens on (its containerPorts, mapped). */
  hostPorts: number[];
}

export interface PodRunStatus {
  phase: PodPhase;
  /** All regular containers ready. */
  ready: boolean;
  /** Always '127.0.0.1': every lab pod lives on loopback, told apart by port. */
  podIP: string;
  startTime: string;
  containers: ContainerRunStatus[];
  initContainers: ContainerRunStatus[];
  message?: string;
}

/** One line a container wrote (stdout or stderr), with when it arrived (RFC 3339, ms). */
export interface LogLine {
  time: string;
  text: string;
}

/** A container's output for `pods/log`: the current instance, the one before a restart, and following. */
export interface ContainerLogs {
  /** Oldest first; undefined when there is no such instance (never started, or no restart for `previous`). */
  lines(previous?: boolean): LogLine[] | undefined;
  /** Calls `line` for each new line of the current instance until it exits, then `ended` once. Returns an unsubscribe. */
  follow(line: (line: LogLine) => void, ended: () => void): () => void;
}

export interface RunningPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string | undefined;
  /** '127.0.0.1'. */
  readonly host: string;
  /** containerPort → host port, for every port declared by any container (and probe ports). */
  readonly ports: ReadonlyMap<number, number>;
  /** Host port for a Service targetPort: a containerPort number or a port name. */
  hostPort(target: number | string): number | undefined;
  /** Pid of the first regular container's current process (undefined while not running). */
  readonly pid: number | undefined;
  readonly ready: boolean;
  status(): PodRunStatus;
  /** Called after every change of phase, readiness, restart count or container state. Returns an unsubscribe. */
  onChange(listener: (status: PodRunStatus) => void): () => void;
  /** Fault: kill every container process of the pod (SIGKILL by default); restartPolicy decides what happens next. */
  kill(signal?: NodeJS.Signals): void;
  /** The last lines each container wrote (stdout and stderr interleaved), for `kubectl logs`. */
  logs(container?: string): string;
  /** A container's (or init container's) logs by name; undefined when the pod has no such container. */
  containerLogs(container: string): ContainerLogs | undefined;
  /** SIGTERM, wait the grace period (default pod's terminationGracePeriodSeconds, capped), then SIGKILL. */
  stop(gracePeriodSeconds?: number): Promise<void>;
  /** Settles when the pod reaches Succeeded or Failed, or is stopped. */
  readonly done: Promise<PodRunStatus>;
}

export interface PodRuntime {
  /** False only for pods the lab cannot run at all (no containers). Unknown images get a stand-in. */
  canRun(pod: KubeObject): boolean;
  /** Starts the pod; resolves once ports are allocated and processes spawned (not when ready). */
  start(pod: KubeObject): Promise<RunningPod>;
  get(namespace: string, name: string): RunningPod | undefined;
  list(): RunningPod[];
  /** Stops every pod and the watchdog; afterwards no process started by this runtime is left. */
  stopAll(): Promise<void>;
}

export interface PodRuntimeOptions {
  /** Cluster name, given to apps as FERRY_CLUSTER and reported by the echo app. */
  cluster: string;
  /** Resolves ConfigMaps and Secrets for env valueFrom/envFrom; without it those env vars are left unset. */
  lookup?: (kind: 'ConfigMap' | 'Secret', namespace: string, name: string) => KubeObject | undefined | Promise<KubeObject | undefined>;
  /** Multiplies probe delays/periods and restart back-off (tests use e.g. 0.1). Default 1. */
  timeScale?: number;
  /** Restart back-off: initial delay, doubled per consecutive crash up to max. Default 1 s → 60 s. */
  restartBackoff?: { initialMs: number; maxMs: number };
  /** Extra environment for every container (e.g. DATABASE_URL for a shop). */
  env?: Record<string, string>;
  /** Where the kubelet's Events go (probe failures, kills, starts, back-off); see src/lab/events.ts. */
  recordEvent?: PodEventSink;
  /** More environment per pod, under the manifest's env (the lab network's proxy and Service variables, src/lab/network/env.ts). */
  podEnv?: (pod: KubeObject) => Record<string, string>;
  /** Install exit/SIGINT/SIGTERM handlers that kill children. Default true. */
  handleSignals?: boolean;
}

export { createPodRuntime } from './workloads/supervisor.js';
export { toPodStatus } from './workloads/pod-status.js';
