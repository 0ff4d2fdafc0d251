import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { matchIngress } from '../../../src/lab/workloads/ingress-routes.js';
import { parseFaults, NO_FAULTS } from '../../../src/lab/workloads/faults-model.js';
import { parseImage, programFor } from '../../../src/lab/workloads/images.js';
import { containerEnv } from '../../../src/lab/workloads/env.js';
import { toPodStatus } from '../../../src/lab/workloads/pod-status.js';
import type { KubeObject } from '../../../src/kube/object.js';

const ingress = (namespace: string, rules: unknown[], defaultBackend?: unknown): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name: 'i', namespace },
  spec: { rules, ...(defaultBackend ? { defaultBackend } : {}) },
});
const backend = (name: string, number = 80) => ({ service: { name, port: { number } } });

test('ingress matching: exact host before wildcard, Exact before Prefix, longest prefix, whole path elements', () => {
  const all = [
    ingress('shop', [
      { host: 'shop.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: backend('web') }, { path: '/api', pathType: 'Prefix', backend: backend('api') }, { path: '/api/health', pathType: 'Exact', backend: backend('health') }] } },
      { host: '*.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: backend('wild') }] } },
    ]),
    ingress('other', [], backend('fallback')),
  ];
  assert.equal(matchIngress(all, 'shop.example.com:8443', '/cart')?.service, 'web');
  assert.equal(matchIngress(all, 'shop.example.com', '/api/orders?x=1')?.service, 'api');
  assert.equal(matchIngress(all, 'shop.example.com', '/apiary')?.service, 'web', '/api does not match /apiary');
  assert.equal(matchIngress(all, 'shop.example.com', '/api/health')?.service, 'health');
  assert.equal(matchIngress(all, 'blog.example.com', '/')?.service, 'wild');
  assert.equal(matchIngress(all, 'a.b.example.com', '/')?.service, 'fallback', 'a wildcard covers one label only');
  assert.deepEqual(matchIngress(all, 'elsewhere.test', '/'), { namespace: 'other', service: 'fallback', port: 80 });
  assert.equal(matchIngress([], 'x', '/'), undefined);
});

test('faults: partial bodies are merged onto no faults and clamped', () => {
  assert.deepEqual(parseFaults({}), NO_FAULTS);
  assert.deepEqual(parseFaults({ errorRate: 2, latencyMs: -5, readyz: false, errorStatus: 200 }), { ...NO_FAULTS, errorRate: 1, ready: false });
  fc.assert(
    fc.property(fc.double(), fc.double(), (errorRate, latencyRate) => {
      const faults = parseFaults({ errorRate, latencyRate });
      return faults.errorRate >= 0 && faults.errorRate <= 1 && faults.latencyRate >= 0 && faults.latencyRate <= 1;
    }),
  );
});

test('images: sample apps by name with any tag, the command annotation wins, other images get a stand-in', () => {
  assert.deepEqual(parseImage('ferry.dev/echo:v2'), { name: 'ferry.dev/echo', tag: 'v2' });
  assert.deepEqual(parseImage('localhost:5000/shop'), { name: 'localhost:5000/shop', tag: 'latest' });
  assert.deepEqual(parseImage('busybox:1.38.0@sha256:abc'), { name: 'busybox', tag: '1.38.0' });
  assert.equal(programFor('ferry.dev/shop:v3', 'shop', true, {}, false).kind, 'sample');
  assert.equal(programFor('ferry.dev/shop:v3', 'shop', true, {}, false).version, 'v3');
  assert.equal(programFor('nginx', 'web', true, { 'lab.ferry.dev/command': 'echo hi' }, false).kind, 'command');
  assert.equal(programFor('nginx', 'sidecar', false, { 'lab.ferry.dev/command': 'echo hi' }, false).kind, 'stand-in', 'the pod annotation is for the first container');
  assert.equal(programFor('nginx', 'sidecar', false, { 'lab.ferry.dev/command.sidecar': 'sleep 1' }, false).kind, 'command');
  assert.equal(programFor('gcr.io/google-samples/microservices-demo/adservice:v0.10', 'server', true, {}, false).kind, 'stand-in');
  assert.equal(programFor('busybox', 'wait', true, {}, true).kind, 'skipped');
});

test('env: envFrom, then env in order with $(VAR) expansion, fieldRefs and ConfigMap/Secret keys', async () => {
  const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', labels: { tier: 'web' } }, spec: {} };
  const lookup = (kind: string, namespace: string, name: string): KubeObject | undefined => {
    assert.equal(namespace, 'ns');
    if (kind === 'ConfigMap' && name === 'cm') return { apiVersion: 'v1', kind, metadata: { name }, data: { MODE: 'fast', LEVEL: '3' } };
    if (kind === 'Secret' && name === 's') return { apiVersion: 'v1', kind, metadata: { name }, data: { password: Buffer.from('hunter2').toString('base64') } };
    return undefined;
  };
  const env = await containerEnv(
    pod,
    {
      envFrom: [{ configMapRef: { name: 'cm' }, prefix: 'CM_' }],
      env: [
        { name: 'HOST', value: 'db' },
        { name: 'URL', value: 'postgres://$(HOST):5432/$(MISSING)$$x' },
        { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'TIER', valueFrom: { fieldRef: { fieldPath: "metadata.labels['tier']" } } },
        { name: 'PW', valueFrom: { secretKeyRef: { name: 's', key: 'password' } } },
        { name: 'GONE', valueFrom: { configMapKeyRef: { name: 'absent', key: 'k' } } },
      ],
    },
    lookup,
  );
  assert.deepEqual(env, { CM_MODE: 'fast', CM_LEVEL: '3', HOST: 'db', URL: 'postgres://db:5432/$(MISSING)$x', POD: 'p', TIER: 'web', PW: 'hunter2' });
});

test('pod status: Ready condition, restart counts and last state as kubectl reads them', () => {
  const status = toPodStatus(
    {
      phase: 'Running',
      ready: false,
      podIP: '127.0.0.1',
      startTime: '2024-01-01T00:00:00Z',
      initContainers: [],
      containers: [
        {
          name: 'main', image: 'ferry.dev/echo', init: false, kind: 'sample', ready: false, started: false, restartCount: 2, state: 'waiting', reason: 'CrashLoopBackOff', hostPorts: [1234],
          lastTerminated: { exitCode: 137, signal: 'SIGKILL', reason: 'Error', finishedAt: '2024-01-01T00:01:00Z' },
        },
      ],
    },
    '2024-01-01T00:02:00Z',
  ) as Record<string, any>;
  assert.equal(status.phase, 'Running');
  assert.equal(status.conditions.find((c: { type: string }) => c.type === 'Ready').status, 'False');
  assert.equal(status.containerStatuses[0].restartCount, 2);
  assert.deepEqual(status.containerStatuses[0].state, { waiting: { reason: 'CrashLoopBackOff' } });
  assert.equal(status.containerStatuses[0].lastState.terminated.exitCode, 137);
  assert.equal(status.containerStatuses[0].lastState.terminated.signal, 9);
});
