/**
 * The lab's event recorder on a real object store: repeats are one Event with a count, the
 * number of distinct Events per object is capped, and every Event is also readable in the
 * events.k8s.io/v1 shape with the same name and uid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ObjectStore } from '../../../src/lab/api/store.js';
import { ResourceRegistry } from '../../../src/lab/api/registry.js';
import { ObjectService } from '../../../src/lab/api/objects.js';
import { EVENTS_PER_OBJECT, eventRecorder, serveEventsV1 } from '../../../src/lab/events.js';

function cluster() {
  const service = new ObjectService(new ObjectStore(), new ResourceRegistry());
  service.create(service.typeOf('v1', 'Namespace'), 'v1', undefined, { metadata: { name: 'default' } });
  const stop = serveEventsV1(service);
  return { service, stop };
}

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'default', uid: 'u-1' } };

test('a repeated Event is one object whose count and lastTimestamp grow', () => {
  const { service, stop } = cluster();
  const recorder = eventRecorder(service);
  for (let i = 0; i < 5; i++) recorder.record(pod, 'Warning', 'Unhealthy', 'Readiness probe failed: refused', { component: 'kubelet', host: 'node' });
  const events = service.store.list('/events', 'default');
  assert.equal(events.length, 1);
  assert.equal((events[0] as any).count, 5);
  assert.equal((events[0] as any).involvedObject.uid, 'u-1');
  stop();
});

test('distinct Events per object stop at the cap; repeats of kept ones still count', () => {
  const { service, stop } = cluster();
  const recorder = eventRecorder(service);
  for (let i = 0; i < EVENTS_PER_OBJECT + 10; i++) recorder.record(pod, 'Normal', 'Started', `message ${i}`, { component: 'kubelet' });
  assert.equal(service.store.list('/events', 'default').length, EVENTS_PER_OBJECT);
  recorder.record(pod, 'Normal', 'Started', 'message 0', { component: 'kubelet' });
  assert.equal((service.store.list('/events', 'default').find((e: any) => e.message === 'message 0') as any).count, 2);
  stop();
});

test('events.k8s.io/v1 serves the same Events, converted both ways', () => {
  const { service, stop } = cluster();
  eventRecorder(service).record(pod, 'Warning', 'BackOff', 'Back-off restarting failed container', { component: 'kubelet', host: 'node' });
  const [core] = service.store.list('/events', 'default') as any[];
  const [modern] = service.store.list('events.k8s.io/events', 'default') as any[];
  assert.equal(modern.metadata.uid, core.metadata.uid);
  assert.deepEqual([modern.note, modern.reportingController, modern.reportingInstance, modern.deprecatedCount], [core.message, 'kubelet', 'node', 1]);
  assert.deepEqual(modern.regarding, core.involvedObject);
  // A write through the newer group shows in the core one.
  const type = service.typeOf('events.k8s.io/v1', 'Event');
  service.create(type, 'v1', 'default', { metadata: { name: 'x.1' }, regarding: { kind: 'Pod', name: 'web-1', namespace: 'default' }, reason: 'Custom', note: 'hello', type: 'Normal', reportingController: 'me', reportingInstance: 'i', action: 'Did', eventTime: '2026-01-01T00:00:00.000000Z' });
  const mirrored = service.store.get('/events', 'default', 'x.1') as any;
  assert.deepEqual([mirrored.message, mirrored.involvedObject.name, mirrored.reportingComponent, mirrored.action], ['hello', 'web-1', 'me', 'Did']);
  service.delete(type, 'default', 'x.1');
  assert.equal(service.store.get('/events', 'default', 'x.1'), undefined);
  stop();
});
