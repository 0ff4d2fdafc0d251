/**
 * Events, as the kubelet and the controllers record them: core v1 Events written to the
 * lab's store, repeated ones aggregated into one object (count++, lastTimestamp), and the
 * same objects served in the events.k8s.io/v1 shape (regarding/note/series/deprecated*),
 * as the real API server serves one stored Event under both groups.
 * https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/
 */
import type { KubeObject } from '../kube/object.js';
import type { ObjectService } from './api/objects.js';
import type { ResourceType } from './api/registry.js';
import type { StoreEvent } from './api/store.js';
import { deepEqual } from './api/equal.js';
import { log } from '../util/log.js';

type Obj = Record<string, any>;

export type EventType = 'Normal' | 'Warning';

export interface EventSource {
  /** source.component / reportingComponent: `kubelet`, `deployment-controller`… */
  component: string;
  /** source.host / reportingInstance: the node for the kubelet. */
  host?: string;
}

/** Enough of an object to point an Event at it. */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string };
}

/** Distinct Events kept per involved object (the kubelet's spam filter allows a burst of 25). */
export const EVENTS_PER_OBJECT = 25;
/** Events kept per cluster; the oldest go first (a real cluster expires them after an hour). */
export const EVENTS_PER_CLUSTER = 2000;
/** The real API server refuses longer messages; recorders truncate to this. */
const MAX_MESSAGE = 1024;

const CONTROLLERS: Record<string, string> = { Deployment: 'deployment-controller', ReplicaSet: 'replicaset-controller', StatefulSet: 'statefulset-controller', Job: 'job-controller' };

export class EventRecorder {
  /** aggregation key → Event name; insertion order is age order. */
  private readonly byKey = new Map<string, { namespace: string; name: string }>();
  private readonly perObject = new Map<string, number>();
  private sequence = 0;

  constructor(private readonly service: ObjectService) {}

  /** Records an Event about `subject`; never throws (an Event is not worth failing a reconcile for). */
  record(subject: EventSubject, type: EventType, reason: string, message: string, source: EventSource, fieldPath?: string): void {
    try {
      this.write(subject, type, reason, message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message, source, fieldPath);
    } catch (error) {
      log.debug({ reason, object: subject.metadata.name, err: (error as Error).message }, 'lab: event not recorded');
    }
  }

  private write(subject: EventSubject, type: EventType, reason: string, message: string, source: EventSource, fieldPath: string | undefined): void {
    const eventType = this.service.typeOf('v1', 'Event');
    const namespace = subject.metadata.namespace ?? 'default';
    const objectId = subject.metadata.uid ?? `${subject.kind}/${namespace}/${subject.metadata.name}`;
    // The EventCorrelator's dedup key: the same object, reason, message, type and source.
    const key = JSON.stringify([objectId, fieldPath ?? '', type, reason, message, source.component, source.host ?? '']);
    const now = this.service.timestamp();
    const known = this.byKey.get(key);
    const existing = known ? this.service.find(eventType, known.namespace, known.name) : undefined;
    if (existing) {
      const next = structuredClone(existing) as Obj;
      next.count = ((existing as Obj).count ?? 1) + 1;
      next.lastTimestamp = now;
      this.service.update(eventType, 'v1', known!.namespace, known!.name, next, { fieldManager: source.component });
      // Most recently seen last: the cluster-wide cap drops the stalest.
      this.byKey.delete(key);
      this.byKey.set(key, known!);
      return;
    }
    if (known) this.forget(key);
    if ((this.perObject.get(objectId) ?? 0) >= EVENTS_PER_OBJECT) return;
    const name = `${subject.metadata.name}.${(BigInt(Date.now()) * 1_000_000n + BigInt(this.sequence++ % 1_000_000)).toString(16)}`;
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: subject.apiVersion,
        kind: subject.kind,
        name: subject.metadata.name,
        namespace,
        ...(subject.metadata.uid ? { uid: subject.metadata.uid } : {}),
        ...(subject.metadata.resourceVersion ? { resourceVersion: subject.metadata.resourceVersion } : {}),
        ...(fieldPath ? { fieldPath } : {}),
      },
      reason,
      message,
      source: { component: source.component, ...(source.host ? { host: source.host } : {}) },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: source.component,
      reportingInstance: source.host ?? '',
    };
    this.service.create(eventType, 'v1', namespace, event, { fieldManager: source.component });
    this.byKey.set(key, { namespace, name });
    this.perObject.set(objectId, (this.perObject.get(objectId) ?? 0) + 1);
    while (this.byKey.size > EVENTS_PER_CLUSTER) {
      const [oldestKey, oldest] = this.byKey.entries().next().value as [string, { namespace: string; name: string }];
      this.forget(oldestKey);
      try {
        this.service.delete(eventType, oldest.namespace, oldest.name);
      } catch {
        // Already gone (deleted by a user or with its namespace).
      }
    }
  }

  private forget(key: string): void {
    this.byKey.delete(key);
    const objectId = (JSON.parse(key) as string[])[0]!;
    const left = (this.perObject.get(objectId) ?? 1) - 1;
    if (left > 0) this.perObject.set(objectId, left);
    else this.perObject.delete(objectId);
  }
}

const recorders = new WeakMap<ObjectService, EventRecorder>();

/** The one recorder of a lab cluster (its ObjectService), so aggregation spans every writer. */
export function eventRecorder(service: ObjectService): EventRecorder {
  let recorder = recorders.get(service);
  if (!recorder) {
    recorder = new EventRecorder(service);
    recorders.set(service, recorder);
  }
  return recorder;
}

/** A controller's Event about an object it manages, from `<kind>-controller`. */
export function recordEvent(client: { service: ObjectService }, object: KubeObject, type: EventType, reason: string, message: string): void {
  eventRecorder(client.service).record(object as EventSubject, type, reason, message, { component: CONTROLLERS[object.kind] ?? 'kube-controller-manager' });
}

/** What the kubelet of `nodeName` records about a pod's containers (probes, restarts, back-off). */
export type PodEventSink = (pod: EventSubject, type: EventType, reason: string, message: string, fieldPath?: string) => void;

export function kubeletEvents(service: ObjectService, nodeName: string): PodEventSink {
  return (pod, type, reason, message, fieldPath) => eventRecorder(service).record({ apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata }, type, reason, message, { component: 'kubelet', host: nodeName }, fieldPath);
}

// --- events.k8s.io/v1: the same Events in the newer shape -----------------------------

export const EVENTS_V1_TYPE: ResourceType = {
  group: 'events.k8s.io', versions: ['v1'], kind: 'Event', listKind: 'EventList', plural: 'events', singular: 'event',
  namespaced: true, shortNames: [], categories: [], status: false, scale: false, generation: false,
};

const CORE = '/events';
const NEW = 'events.k8s.io/events';

/** core/v1 Event → events.k8s.io/v1 Event (k8s.io/kubernetes pkg/apis/events/v1 conversion). */
export function toEventsV1(event: Obj): Obj {
  const out: Obj = {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: event.metadata,
    eventTime: event.eventTime ?? null,
    ...(event.series ? { series: event.series } : {}),
    ...(event.reportingComponent ? { reportingController: event.reportingComponent } : {}),
    ...(event.reportingInstance ? { reportingInstance: event.reportingInstance } : {}),
    ...(event.action ? { action: event.action } : {}),
    ...(event.reason ? { reason: event.reason } : {}),
    ...(event.involvedObject ? { regarding: event.involvedObject } : {}),
    ...(event.related ? { related: event.related } : {}),
    ...(event.message ? { note: event.message } : {}),
    ...(event.type ? { type: event.type } : {}),
    ...(event.source && Object.keys(event.source).length > 0 ? { deprecatedSource: event.source } : {}),
    ...(event.firstTimestamp ? { deprecatedFirstTimestamp: event.firstTimestamp } : {}),
    ...(event.lastTimestamp ? { deprecatedLastTimestamp: event.lastTimestamp } : {}),
    ...(event.count ? { deprecatedCount: event.count } : {}),
  };
  return out;
}

/** events.k8s.io/v1 Event → core/v1 Event. */
export function toCoreEvent(event: Obj): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: event.metadata,
    involvedObject: event.regarding ?? {},
    ...(event.reason ? { reason: event.reason } : {}),
    ...(event.note ? { message: event.note } : {}),
    source: event.deprecatedSource ?? {},
    firstTimestamp: event.deprecatedFirstTimestamp ?? null,
    lastTimestamp: event.deprecatedLastTimestamp ?? null,
    ...(event.deprecatedCount ? { count: event.deprecatedCount } : {}),
    ...(event.type ? { type: event.type } : {}),
    eventTime: event.eventTime ?? null,
    ...(event.series ? { series: event.series } : {}),
    ...(event.action ? { action: event.action } : {}),
    ...(event.related ? { related: event.related } : {}),
    reportingComponent: event.reportingController ?? '',
    reportingInstance: event.reportingInstance ?? '',
  };
}

function comparable(object: Obj): Obj {
  const { resourceVersion: _rv, managedFields: _mf, ...metadata } = object.metadata ?? {};
  return { ...object, metadata };
}

/**
 * Serves Events under events.k8s.io/v1 too: every write to either group is mirrored into
 * the other, converted, with the same name and uid (one Event, two shapes). Returns a stop.
 */
export function serveEventsV1(service: ObjectService): () => void {
  if (!service.registry.get(EVENTS_V1_TYPE.group, EVENTS_V1_TYPE.plural)) service.registry.add(EVENTS_V1_TYPE);
  const { store } = service;
  const mirror = (event: StoreEvent) => {
    const target = event.resource === CORE ? NEW : event.resource === NEW ? CORE : undefined;
    if (!target) return;
    const { namespace, name } = event.object.metadata;
    const existing = store.get(target, namespace, name);
    if (event.type === 'DELETED') {
      if (existing) store.remove(target, namespace, name);
      return;
    }
    const converted = (target === NEW ? toEventsV1(event.object as Obj) : toCoreEvent(event.object as Obj)) as KubeObject;
    if (existing && deepEqual(comparable(existing as Obj), comparable(converted as Obj))) return;
    const copy = structuredClone(converted);
    copy.metadata.resourceVersion = String(store.nextVersion());
    store.put(target, copy);
  };
  return store.subscribe(mirror);
}
