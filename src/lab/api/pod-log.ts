/**
 * `GET /api/v1/namespaces/{ns}/pods/{name}/log` — what the API server and the kubelet answer
 * together for `kubectl logs`: the pod's real process output from the runtime
 * (src/lab/workloads/container.ts keeps each container instance's lines with their times).
 *
 * Followed: PodLogOptions as kubernetes/kubernetes pkg/apis/core/validation
 * (ValidatePodLogOptions) checks it, the container choice and its messages of
 * pkg/registry/core/pod/strategy.go (LogLocation), and the kubelet's answers
 * (pkg/kubelet/kuberuntime/kuberuntime_logs.go: timestamps with 9 fractional digits; since,
 * then tail, then limitBytes; a follow ends when the container instance exits).
 */
import type { ServerResponse } from 'node:http';
import type { KubeObject } from '../../kube/object.js';
import type { LogLine, RunningPod } from '../runtime.js';
import type { ObjectService } from './objects.js';
import type { ResourceRoute } from './routes.js';
import { badRequest, invalid, type StatusCause } from './status.js';
import { queryBool, queryInt, queryString } from './query.js';

/** The runtime's running pods; undefined when the cluster simulates its pods (no processes). */
export type RunningPodLookup = ((namespace: string, name: string) => RunningPod | undefined) | undefined;

export interface PodLogOptions {
  container: string | undefined;
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  tailLines: number | undefined;
  sinceSeconds: number | undefined;
  /** Milliseconds since the epoch. */
  sinceTime: number | undefined;
  limitBytes: number | undefined;
}

export function isPodLogRoute(route: ResourceRoute): boolean {
  return route.type.group === '' && route.type.plural === 'pods' && route.subresource === 'log' && route.verb === 'get';
}

/** PodLogOptions converted (query.ts rules) and validated as ValidatePodLogOptions does. */
export function podLogOptions(query: URLSearchParams, podName: string): PodLogOptions {
  const sinceTimeText = queryString(query, 'sinceTime');
  let sinceTime: number | undefined;
  if (sinceTimeText !== undefined && sinceTimeText !== '') {
    sinceTime = Date.parse(sinceTimeText);
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(sinceTimeText) || Number.isNaN(sinceTime)) {
      throw badRequest(`invalid query parameter sinceTime: parsing time ${JSON.stringify(sinceTimeText)} as "2006-01-02T15:04:05Z07:00": cannot parse`);
    }
  }
  const options: PodLogOptions = {
    container: queryString(query, 'container') || undefined,
    follow: queryBool(query, 'follow') === true,
    previous: queryBool(query, 'previous') === true,
    timestamps: queryBool(query, 'timestamps') === true,
    tailLines: queryInt(query, 'tailLines'),
    sinceSeconds: queryInt(query, 'sinceSeconds'),
    sinceTime,
    limitBytes: queryInt(query, 'limitBytes'),
  };
  const causes: StatusCause[] = [];
  const bad = (field: string, value: number, detail: string) => causes.push({ type: 'FieldValueInvalid', field, message: `Invalid value: ${value}: ${detail}` });
  if (options.tailLines !== undefined && options.tailLines < 0) bad('tailLines', options.tailLines, 'must be greater than or equal to 0');
  if (options.limitBytes !== undefined && options.limitBytes < 1) bad('limitBytes', options.limitBytes, 'must be greater than 0');
  if (options.sinceSeconds !== undefined) {
    if (options.sinceSeconds < 1) bad('sinceSeconds', options.sinceSeconds, 'must be greater than 0');
    if (sinceTime !== undefined) causes.push({ type: 'FieldValueForbidden', field: 'sinceSeconds', message: 'Forbidden: at most one of sinceTime or sinceSeconds may be specified' });
  }
  if (causes.length > 0) throw invalid('PodLogOptions', '', podName, causes);
  return options;
}

/** The container the request means, or the API server's 400 when it names none or a wrong one. */
export function chooseContainer(pod: KubeObject, container: string | undefined): string {
  const spec = (pod.spec ?? {}) as { containers?: Array<{ name: string }>; initContainers?: Array<{ name: string }>; ephemeralContainers?: Array<{ name: string }> };
  const containers = (spec.containers ?? []).map((c) => c.name);
  const inits = (spec.initContainers ?? []).map((c) => c.name);
  const name = pod.metadata.name;
  if (container === undefined) {
    if (containers.length === 1) return containers[0]!;
    if (containers.length === 0) throw badRequest(`a container name must be specified for pod ${name}`);
    throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]${inits.length > 0 ? ` or one of the init containers: [${inits.join(' ')}]` : ''}`);
  }
  const all = [...containers, ...inits, ...(spec.ephemeralContainers ?? []).map((c) => c.name)];
  if (!all.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
  return container;
}

/** RFC 3339 with nine fractional digits, as the kubelet writes `--timestamps`. */
export function kubeletTimestamp(time: string): string {
  return time.replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/** since, then tail (the kubelet's order). */
export function selectLines(lines: LogLine[], options: PodLogOptions, now = Date.now()): LogLine[] {
  const since = options.sinceSeconds !== undefined ? now - options.sinceSeconds * 1000 : options.sinceTime;
  let chosen = since === undefined ? lines : lines.filter((line) => Date.parse(line.time) >= since);
  if (options.tailLines !== undefined) chosen = options.tailLines === 0 ? [] : chosen.slice(-options.tailLines);
  return chosen;
}

function render(line: LogLine, timestamps: boolean): string {
  return `${timestamps ? `${kubeletTimestamp(line.time)} ` : ''}${line.text}\n`;
}

export async function servePodLog(service: ObjectService, pods: RunningPodLookup, route: ResourceRoute, query: URLSearchParams, res: ServerResponse): Promise<void> {
  const pod = service.get(route.type, route.namespace, route.name!);
  const options = podLogOptions(query, pod.metadata.name);
  const container = chooseContainer(pod, options.container);
  const podName = pod.metadata.name;
  if (!pods) {
    throw badRequest(`pod "${podName}" runs no process: this lab cluster simulates its pods, so container ${container} has no logs; run the lab with pods as processes (ferry lab up does; startLab({ pods: 'processes' }) in tests) to read real output`);
  }
  const logs = pods(pod.metadata.namespace ?? 'default', podName)?.containerLogs(container);
  const lines = logs?.lines(options.previous);
  if (!logs || !lines) {
    if (options.previous) throw badRequest(`previous terminated container "${container}" in pod "${podName}" not found`);
    throw badRequest(`container "${container}" in pod "${podName}" is waiting to start: ${waitingReason(pod, container)}`);
  }
  let budget = options.limitBytes ?? Infinity;
  const write = (text: string): boolean => {
    const bytes = Buffer.from(text);
    if (bytes.length >= budget) {
      res.write(bytes.subarray(0, budget));
      budget = 0;
      return false;
    }
    res.write(bytes);
    budget -= bytes.length;
    return true;
  };
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
  for (const line of selectLines(lines, options)) {
    if (!write(render(line, options.timestamps))) {
      res.end();
      return;
    }
  }
  if (!options.follow || options.previous) {
    res.end();
    return;
  }
  // Follow: new lines of the current instance until it exits, the client leaves, or limitBytes is spent.
  await new Promise<void>((resolve) => {
    let stop: () => void = () => undefined;
    const finish = () => {
      stop();
      res.off('close', finish);
      if (!res.writableEnded) res.end();
      resolve();
    };
    stop = logs.follow((line) => {
      if (!write(render(line, options.timestamps))) finish();
    }, finish);
    res.once('close', finish);
  });
}

function waitingReason(pod: KubeObject, container: string): string {
  const status = (pod.status ?? {}) as { containerStatuses?: Array<{ name: string; state?: { waiting?: { reason?: string } } }>; initContainerStatuses?: typeof status.containerStatuses };
  const entry = [...(status.containerStatuses ?? []), ...(status.initContainerStatuses ?? [])].find((s) => s.name === container);
  return entry?.state?.waiting?.reason ?? 'ContainerCreating';
}
